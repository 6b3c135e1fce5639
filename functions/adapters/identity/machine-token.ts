import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify';
import {
  JwtBaseError,
  JwtExpiredError,
  JwtInvalidClaimError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  KidNotFoundInJwksError,
  ParameterValidationError,
} from 'aws-jwt-verify/error';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { MachineAuthenticator, MachinePrincipal } from '../../core/api/ports.ts';
import {
  ALL_HUB_SCOPES,
  API_SCOPES,
  DEFAULT_RESOURCE_SERVER,
  grantedHubScopes,
  normaliseScopes,
} from '../../core/api/scopes.ts';
import { DependencyTimeoutError, UnauthorizedError } from '../../core/errors.ts';
import type { Directory } from '../../core/ports.ts';
import { httpKeyFetcher, type KeyFetcher } from './alb-identity.ts';

/**
 * Verifies the bearer tokens of the machine API (course platforms): OAuth 2.0
 * client-credentials access tokens, and administrators' own access tokens.
 *
 * Contract (MachineAuthenticator in core/api/ports.ts):
 * - a JWT signed by a key of the issuer's JWKS, from `issuer`, unexpired, for an allowed
 *   audience/client, resolves to { client, scopes }: scopes are the token's `scope`
 *   claim, with or without the resource-server prefix ("hubless/servers:write"), and
 *   JupyterHub's names mapped (core/api/scopes.ts);
 * - a token carrying a `username` (or `cognito:username`) of an enabled administrator in
 *   the Directory gets every scope and `admin` set;
 * - anything else throws UnauthorizedError with a reason a developer can act on, never
 *   echoing the token; an unreachable JWKS throws DependencyTimeoutError.
 *
 * In AWS, API Gateway's JWT authorizer has already verified the token: `fromClaims`
 * applies only the scope and admin rules to the claims it passes on.
 */
export interface MachineTokenOptions {
  directory: Directory;
  /** Cognito: the user pool that issues the tokens (a CognitoJwtVerifier checks token_use=access). */
  cognito?: { userPoolId: string; clientId?: string | string[] };
  /** Any other OpenID provider (local mode's embedded one): its issuer and JWKS URL. */
  issuer?: string;
  jwksUri?: string;
  /** Allowed `aud` values; null (default) for providers whose access tokens carry none. */
  audience?: string | string[] | null;
  /** Allowed `client_id` values: a token of another client, or without one, is refused. Unset accepts any client of the issuer. */
  clientIds?: string[];
  /** The resource server identifier that prefixes custom scopes. Default "hubless". */
  resourceServer?: string;
  /** Fetches the JWKS. Default: fetch() with a timeout (local mode serves it over plain HTTP). */
  fetcher?: KeyFetcher;
}

interface TokenVerifier {
  verify(token: string): Promise<Record<string, unknown>>;
}

function buildVerifier(options: MachineTokenOptions): TokenVerifier {
  const jwksCache = new SimpleJwksCache({ fetcher: options.fetcher ?? httpKeyFetcher() });
  if (options.cognito) {
    const verifier = CognitoJwtVerifier.create(
      {
        userPoolId: options.cognito.userPoolId,
        tokenUse: 'access',
        clientId: options.cognito.clientId ?? null,
      },
      { jwksCache },
    );
    return { verify: async (token) => (await verifier.verify(token)) as Record<string, unknown> };
  }
  if (!options.issuer || !options.jwksUri) {
    throw new Error('createMachineTokenVerifier needs either `cognito` or both `issuer` and `jwksUri`.');
  }
  const verifier = JwtVerifier.create(
    { issuer: options.issuer, audience: options.audience ?? null, jwksUri: options.jwksUri },
    { jwksCache },
  );
  return { verify: async (token) => (await verifier.verify(token)) as Record<string, unknown> };
}

export function createMachineTokenVerifier(options: MachineTokenOptions): MachineAuthenticator {
  const verifier = buildVerifier(options);
  const resourceServer = options.resourceServer ?? DEFAULT_RESOURCE_SERVER;

  async function principal(claims: Record<string, unknown>): Promise<MachinePrincipal> {
    const client = firstString(claims.client_id, claims.azp, claims.aud, claims.sub);
    if (!client) throw new UnauthorizedError('The token names no client (client_id, azp, aud or sub).');
    // An allow-list of clients: a token of any other client, or of none, is refused (in AWS,
    // the ALB's sign-in client is never on it: every lab can read its users' tokens).
    if (options.clientIds) {
      const id = typeof claims.client_id === 'string' ? claims.client_id : undefined;
      if (!id || !options.clientIds.includes(id))
        throw new UnauthorizedError(
          'The token was issued to a client this API does not accept: use your LMS client, or the admin client for an administrator’s own token.',
        );
    }
    const username = firstString(claims.username, claims['cognito:username']);
    if (username) {
      const user = await options.directory.get(username.toLowerCase());
      if (user?.admin && !user.disabled)
        return {
          client: user.name,
          scopes: [...API_SCOPES],
          admin: user.name,
          hubScopes: [...ALL_HUB_SCOPES],
          owner: { kind: 'user', name: user.name },
        };
    }
    const granted = scopeClaim(claims.scope ?? claims.scp);
    return {
      client,
      scopes: normaliseScopes(granted, resourceServer),
      hubScopes: grantedHubScopes(granted, resourceServer),
      owner: { kind: 'service', name: client },
    };
  }

  return {
    async verify(token) {
      let claims: Record<string, unknown>;
      try {
        claims = await verifier.verify(token);
      } catch (error) {
        throw translate(error);
      }
      return principal(claims);
    },
    fromClaims: principal,
  };
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) {
    if (typeof value === 'string' && value) return value;
    if (Array.isArray(value) && typeof value[0] === 'string' && value[0]) return value[0];
  }
  return undefined;
}

/** `scope` is space-separated in OAuth; API Gateway passes it as a string, some providers as a list ("scp"). */
function scopeClaim(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  // API Gateway renders list claims as "[a b c]".
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return undefined;
}

function translate(error: unknown): Error {
  if (error instanceof DependencyTimeoutError) return error;
  if (error instanceof JwtExpiredError || error instanceof JwtNotBeforeError) {
    return new UnauthorizedError(
      'The token has expired (or is not valid yet): request a new one with your client credentials.',
    );
  }
  // The Cognito verifier knows each pool under two issuer spellings (regional and global)
  // and refuses any other issuer before checking the token, as a parameter error.
  if (
    error instanceof JwtInvalidIssuerError ||
    (error instanceof ParameterValidationError && error.message.startsWith('issuer not configured'))
  )
    return new UnauthorizedError(
      'The token comes from another issuer than this deployment’s identity provider.',
    );
  if (error instanceof JwtInvalidSignatureError)
    return new UnauthorizedError('The token’s signature is not valid: it was changed or forged.');
  if (error instanceof KidNotFoundInJwksError)
    return new UnauthorizedError('The token was signed with a key the identity provider does not publish.');
  if (error instanceof JwtInvalidClaimError)
    return new UnauthorizedError(`The token is not for this API (${error.message.replace(/:.*$/, '')}).`);
  if (error instanceof JwtBaseError)
    return new UnauthorizedError('The bearer token is not a valid signed JWT.');
  return new UnauthorizedError('The bearer token could not be verified.');
}
