import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { KeyFetcher } from '../../functions/adapters/identity/alb-identity.ts';
import { createMachineTokenVerifier } from '../../functions/adapters/identity/machine-token.ts';
import { openApiDocument } from '../../functions/core/api/operations.ts';
import type { ApiDeps } from '../../functions/handlers/api/context.ts';
import { makeApiHandler } from '../../functions/handlers/api.ts';
import type { HttpApiEvent } from '../../functions/handlers/http-types.ts';
import { checkSchema, responseSchema } from './api-openapi-check.ts';
import {
  MemoryCapacityStore,
  MemoryEventLog,
  MemoryLaunchLinkStore,
  MemoryUsageStore,
} from './api-stores.ts';
import { makeTestDeps, type TestDeps } from './core-deps.ts';

/**
 * A fake OAuth authorization server for machine-API tests: signs access tokens (RS256,
 * like Cognito) and publishes its JWKS, either through an in-memory fetcher (unit tests,
 * no network) or over HTTP on 127.0.0.1 (integration).
 */
export interface TokenIssuer {
  issuer: string;
  jwksUri: string;
  jwks: { keys: JWK[] };
  fetcher: KeyFetcher & { requests: string[] };
  /** An access token with these claims (scope as a space-separated string). */
  token(
    claims?: Record<string, unknown>,
    options?: { expiresIn?: string | number; issuer?: string },
  ): Promise<string>;
  /** Signs with a key that is not in the JWKS (a forged token with a known kid). */
  forged(claims?: Record<string, unknown>): Promise<string>;
  /** Serves the JWKS on 127.0.0.1 and points jwksUri at it. */
  serve(): Promise<{ jwksUri: string; close(): Promise<void> }>;
}

export async function makeTokenIssuer(issuer = 'https://idp.test/hubless'): Promise<TokenIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const kid = 'test-key-1';
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
  const jwksUri = `${issuer}/.well-known/jwks.json`;
  const requests: string[] = [];
  const sign = (
    key: CryptoKey,
    claims: Record<string, unknown>,
    options: { expiresIn?: string | number; issuer?: string },
  ) =>
    new SignJWT({ client_id: 'lms', token_use: 'access', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(options.issuer ?? issuer)
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '5m')
      .sign(key);
  return {
    issuer,
    jwksUri,
    jwks,
    fetcher: {
      requests,
      async fetch(uri) {
        requests.push(uri);
        if (uri !== jwksUri) throw new Error(`404 ${uri}`);
        return new TextEncoder().encode(JSON.stringify(jwks)).buffer as ArrayBuffer;
      },
    },
    token: (claims = {}, options = {}) => sign(privateKey, claims, options),
    forged: (claims = {}) => sign(other.privateKey, claims, {}),
    async serve() {
      const server: Server = createServer((request, response) => {
        if (request.url === '/.well-known/jwks.json') {
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
        } else response.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      return {
        jwksUri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    },
  };
}

export const ALL_SCOPES =
  'hubless/users:read hubless/users:write hubless/servers:read hubless/servers:write hubless/launch hubless/capacity';

export interface ApiCall {
  token?: string;
  /** The raw Authorization header, instead of "Bearer <token>". */
  authorization?: string;
  body?: unknown;
  /** A raw body string (for malformed JSON). */
  rawBody?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  claims?: Record<string, string | number | boolean | string[]>;
}

export interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

export interface ApiKit {
  core: TestDeps;
  deps: ApiDeps;
  issuer: TokenIssuer;
  links: MemoryLaunchLinkStore;
  usage: MemoryUsageStore;
  eventLog: MemoryEventLog;
  /** A token with every scope (Cognito-prefixed). */
  token(scope?: string, claims?: Record<string, unknown>): Promise<string>;
  call(method: string, path: string, options?: ApiCall): Promise<ApiAnswer>;
}

export const PUBLIC_URL = 'https://labs.example.edu';

/** The API handler over fakes, with a real JWT verifier fed by the fake issuer's JWKS. */
export async function makeApiKit(
  overrides: Partial<ApiDeps> = {},
  core: TestDeps = makeTestDeps(),
): Promise<ApiKit> {
  const issuer = await makeTokenIssuer();
  const links = new MemoryLaunchLinkStore();
  const usage = new MemoryUsageStore();
  const eventLog = new MemoryEventLog();
  const deps: ApiDeps = {
    core,
    auth: createMachineTokenVerifier({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      directory: core.directory,
      fetcher: issuer.fetcher,
    }),
    launchLinks: links,
    usage,
    eventLog,
    capacity: new MemoryCapacityStore(),
    publicUrl: PUBLIC_URL,
    progressBudgetMs: 2000,
    progressPollMs: 10,
    ...overrides,
  };
  const handler = makeApiHandler(deps);
  return {
    core,
    deps,
    issuer,
    links,
    usage,
    eventLog,
    token: (scope = ALL_SCOPES, claims = {}) => issuer.token({ scope, ...claims }),
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (options.authorization !== undefined) headers.authorization = options.authorization;
      else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      if (body !== undefined) headers['content-type'] = 'application/json';
      const query = options.query ?? {};
      const event: HttpApiEvent = {
        version: '2.0',
        routeKey: '$default',
        rawPath: path,
        rawQueryString: new URLSearchParams(query).toString(),
        headers,
        ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
        requestContext: {
          http: { method, path },
          ...(options.claims ? { authorizer: { jwt: { claims: options.claims } } } : {}),
        },
        ...(body !== undefined ? { body } : {}),
        isBase64Encoded: false,
      };
      const result = await handler(event);
      const text = result.body ?? '';
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: result.statusCode, headers: result.headers ?? {}, body: text, json };
    },
  };
}

const DOCUMENT = openApiDocument(PUBLIC_URL);

/**
 * Problems of a response against what our own OpenAPI document (built from the zod
 * schemas) declares for it; [] when it matches. `template` is the OpenAPI path.
 */
export function undocumented(answer: ApiAnswer, method: string, template: string): string[] {
  const schema = responseSchema(DOCUMENT, method, template, answer.status);
  if (!schema)
    return answer.body === ''
      ? []
      : [`${method} ${template} ${answer.status} declares no body, got ${answer.body}`];
  return checkSchema(schema, answer.json);
}
