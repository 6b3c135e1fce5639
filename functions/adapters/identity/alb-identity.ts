import { AlbJwtVerifier } from 'aws-jwt-verify';
import { AlbJwksCache } from 'aws-jwt-verify/alb-cache';
import {
  AlbJwtInvalidClientIdError,
  AlbJwtInvalidSignerError,
  JwtBaseError,
  JwtExpiredError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
} from 'aws-jwt-verify/error';
import { DependencyTimeoutError, UnauthorizedError } from '../../core/errors.ts';
import { federatedUsernameParts, UnlinkedFederatedIdentityError } from '../../core/federation.ts';
import { normaliseUsername } from '../../core/username.ts';

/**
 * Verifies the identity the front door hands to handlers: the ALB's `x-amzn-oidc-data`
 * header in AWS, the local gateway's copy of it in local mode (same format, same code).
 *
 * Contract of `verify(headerValue)`:
 * - resolves to the caller's Identity when the header is a JWT signed by one of the
 *   configured signers for one of the configured clients, from `issuer`, not expired;
 * - throws UnauthorizedError when the header is missing, malformed, forged, expired, or
 *   signed by another load balancer or for another client. The reason says which, in
 *   words a user can act on, and never echoes the token or key material;
 * - throws ValidationError (400) when the identity is genuine but its username cannot
 *   be a hubless key (see core/username.ts), so the user learns what is allowed;
 * - throws UnlinkedFederatedIdentityError (403) for Cognito's `<provider>_<id>` name of
 *   a federated user that is not linked to a hubless user (core/federation.ts);
 * - throws DependencyTimeoutError when the key server cannot be reached.
 */
export interface Identity {
  /** The normalised username key (core/username.ts). */
  username: string;
  email?: string;
  sub: string;
}

export interface IdentityVerifier {
  verify(headerValue: string | undefined): Promise<Identity>;
}

/** Fetches a verification key; the ALB key server answers a PEM per kid. */
export interface KeyFetcher {
  fetch(uri: string): Promise<ArrayBuffer>;
}

export interface IdentityVerifierOptions {
  /** ALB ARN(s) allowed in the JWT header's `signer` (the local gateway: LOCAL_SIGNER_ARN). */
  signer: string | string[];
  /** The identity provider's issuer, as the ALB copies it into `iss`. */
  issuer: string;
  /** Client id(s) allowed in the JWT header's `client`. */
  clientId: string | string[];
  /**
   * Where keys are served as `<keysUrl>/<kid>`. Omitted: the ALB's regional key server
   * (https://public-keys.auth.elb.<region>.amazonaws.com). Local: `<gateway>/.hubless/alb-keys`.
   */
  keysUrl?: string;
  /** Defaults to an HTTP(S) fetcher with a timeout (aws-jwt-verify's own one speaks HTTPS only). */
  fetcher?: KeyFetcher;
}

/** An unknown kid: the key server answered, but not with a key. The token is not ours. */
class UnknownKeyError extends Error {}

/**
 * Global fetch with a timeout. Needed because local mode serves keys over plain HTTP on
 * 127.0.0.1, which aws-jwt-verify's default fetcher refuses.
 */
export function httpKeyFetcher(timeoutMs = 3000): KeyFetcher {
  return {
    async fetch(uri: string): Promise<ArrayBuffer> {
      let response: Response;
      try {
        response = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      } catch (cause) {
        throw new DependencyTimeoutError(
          `The identity key server at ${new URL(uri).origin} did not answer within ${timeoutMs} ms. ` +
            'Check that the gateway (local mode) is running, or that the function can reach the internet ' +
            '(AWS mode: a NAT gateway or the ELB public-keys endpoint).',
          { cause },
        );
      }
      if (response.status >= 400 && response.status < 500) {
        await response.body?.cancel();
        throw new UnknownKeyError(`key server answered ${response.status}`);
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new DependencyTimeoutError(
          `The identity key server at ${new URL(uri).origin} answered ${response.status}; try again shortly.`,
        );
      }
      return response.arrayBuffer();
    },
  };
}

export function createIdentityVerifier(options: IdentityVerifierOptions): IdentityVerifier {
  const jwksCache = new AlbJwksCache({ fetcher: options.fetcher ?? httpKeyFetcher() });
  const verifier = AlbJwtVerifier.create(
    {
      albArn: options.signer,
      issuer: options.issuer,
      clientId: options.clientId,
      ...(options.keysUrl ? { jwksUri: options.keysUrl.replace(/\/+$/, '') } : {}),
    },
    { jwksCache },
  );

  return {
    async verify(headerValue) {
      if (!headerValue) {
        throw new UnauthorizedError(
          'Sign in first: this request carries no identity from the load balancer.',
        );
      }
      let payload: Record<string, unknown>;
      try {
        payload = (await verifier.verify(headerValue)) as Record<string, unknown>;
      } catch (error) {
        throw translate(error);
      }
      const sub = payload.sub;
      const login = payload.username;
      if (typeof sub !== 'string' || !sub || typeof login !== 'string') {
        throw new UnauthorizedError('The sign-in identity has no user name; sign in again.');
      }
      // Cognito's own name for a federated user the sign-up trigger did not link to a
      // hubless user (core/federation.ts): refused, with the claims to say why.
      if (federatedUsernameParts(login)) throw new UnlinkedFederatedIdentityError(login, payload);
      // A genuine identity whose name cannot be a key is the user's problem to fix, so
      // the 400 from normaliseUsername (which says what is allowed) passes through.
      const username = normaliseUsername(login);
      const identity: Identity = { username, sub };
      if (typeof payload.email === 'string' && payload.email) identity.email = payload.email;
      return identity;
    },
  };
}

function translate(error: unknown): Error {
  if (error instanceof DependencyTimeoutError) return error;
  if (error instanceof JwtExpiredError || error instanceof JwtNotBeforeError) {
    return new UnauthorizedError('Your sign-in has expired: reload the page to sign in again.');
  }
  if (error instanceof AlbJwtInvalidSignerError) {
    return new UnauthorizedError('The identity was not signed by this deployment’s load balancer.');
  }
  if (error instanceof AlbJwtInvalidClientIdError) {
    return new UnauthorizedError('The identity was issued for another application.');
  }
  if (error instanceof JwtInvalidIssuerError) {
    return new UnauthorizedError('The identity comes from another identity provider.');
  }
  if (error instanceof JwtInvalidSignatureError) {
    return new UnauthorizedError('The identity’s signature is not valid: it was changed or forged.');
  }
  if (error instanceof UnknownKeyError) {
    return new UnauthorizedError('The identity was signed with a key this deployment does not know.');
  }
  if (error instanceof JwtBaseError) {
    return new UnauthorizedError('The identity is not a valid signed token.');
  }
  return new UnauthorizedError('The identity could not be verified.');
}
