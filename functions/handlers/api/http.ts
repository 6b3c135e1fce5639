import type { z } from 'zod';
import {
  InsufficientScopeError,
  MethodNotAllowedError,
  PayloadTooLargeError,
} from '../../core/api/errors.ts';
import { looksLikeOAuthToken, OAUTH_AUTHORIZE_PATH, verifyOAuthToken } from '../../core/api/oauth.ts';
import type { MachinePrincipal } from '../../core/api/ports.ts';
import type { ApiScope } from '../../core/api/scopes.ts';
import { looksLikeServiceToken, principalOf, verifyServiceToken } from '../../core/api/service-tokens.ts';
import { HublessError, UnauthorizedError, ValidationError } from '../../core/errors.ts';
import type { Log } from '../../core/log.ts';
import type { HttpApiEvent, HttpApiResult } from '../http-types.ts';
import type { ApiDeps } from './context.ts';

/** Request parsing, authentication and response shaping shared by /api/v1 and /hub/api. */

export const MAX_BODY_BYTES = 64 * 1024;

/** hubless's own API (course platforms) and the JupyterHub-compatible one. */
export const API_PREFIX = '/api/v1';
export const HUB_PREFIX = '/hub/api';

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Whether `path` belongs to one of the bearer-token APIs (no browser sign-in; OAuth's authorize page is not). */
export function isApiPath(path: string): boolean {
  if (path === OAUTH_AUTHORIZE_PATH) return false;
  return isUnder(path, API_PREFIX) || isUnder(path, HUB_PREFIX);
}

/** The path as the client sent it. */
export function requestPath(event: HttpApiEvent): string {
  return event.rawPath || event.requestContext.http.path;
}

/**
 * An error body in the shape of the API that `path` belongs to: JupyterHub's
 * ({status, message}) under /hub/api, ours ({error: {code, message}}) elsewhere. The
 * local gateway's own refusals on API paths use it too.
 */
export function apiErrorBody(path: string, status: number, code: string, message: string): unknown {
  return isUnder(path, HUB_PREFIX) ? { status, message } : { error: { code, message } };
}

/** How the API at the event's path answers a failure; unexposed errors are logged as a generic 500. */
export function errorResult(event: HttpApiEvent, error: unknown, log: Log | undefined): HttpApiResult {
  const view = describeError(error, log);
  return jsonResult(
    view.status,
    apiErrorBody(requestPath(event), view.status, view.code, view.message),
    view.headers,
  );
}

export function jsonResult(
  statusCode: number,
  value: unknown,
  headers: Record<string, string> = {},
): HttpApiResult {
  return {
    statusCode,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
    body: JSON.stringify(value),
  };
}

export function emptyResult(statusCode: number, headers: Record<string, string> = {}): HttpApiResult {
  return { statusCode, headers: { 'cache-control': 'no-store', ...headers } };
}

export function header(event: HttpApiEvent, name: string): string | undefined {
  return event.headers[name] ?? event.headers[name.toLowerCase()];
}

/**
 * The caller's principal. In AWS, API Gateway's JWT authorizer has verified the token
 * and passes its claims: trust them. Otherwise (local mode) verify the bearer token
 * here with the same checks. JupyterHub clients send "Authorization: token <jwt>".
 */
export async function authenticate(deps: ApiDeps, event: HttpApiEvent): Promise<MachinePrincipal> {
  const claims = event.requestContext.authorizer?.jwt?.claims;
  if (claims) return deps.auth.fromClaims(claims);
  return deps.auth.verify(bearerToken(event));
}

/**
 * /hub/api also takes service tokens (hubless tokens create), the long-lived tokens
 * JupyterHub services such as the idle culler are given, and the access tokens services
 * get for a signed-in user (oauth2/token); JWTs are checked as above.
 */
export async function authenticateHub(deps: ApiDeps, event: HttpApiEvent): Promise<MachinePrincipal> {
  if (!event.requestContext.authorizer?.jwt?.claims) {
    const token = bearerToken(event);
    if (looksLikeServiceToken(token)) {
      if (!deps.serviceTokens) throw new UnauthorizedError('This deployment has no service tokens.');
      return principalOf(await verifyServiceToken(deps.serviceTokens, token));
    }
    if (looksLikeOAuthToken(token)) {
      if (!deps.serviceTokens || !deps.oauth)
        throw new UnauthorizedError('This deployment issues no OAuth tokens.');
      return verifyOAuthToken(
        { oauth: deps.oauth, serviceTokens: deps.serviceTokens },
        token,
        deps.core.clock.now(),
      );
    }
  }
  return authenticate(deps, event);
}

function bearerToken(event: HttpApiEvent): string {
  const authorization = header(event, 'authorization');
  if (!authorization)
    throw new UnauthorizedError(
      'Send a bearer token: "Authorization: Bearer <access token>" from your client credentials.',
    );
  const match = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1])
    throw new UnauthorizedError('The Authorization header must be "Bearer <token>" (or "token <token>").');
  return match[1];
}

export function requireScope(principal: MachinePrincipal, scope: ApiScope): void {
  if (!principal.scopes.includes(scope)) throw new InsufficientScopeError(scope);
}

/** Decoded body text; 413 above 64 KiB, checked before anything is parsed. */
export function bodyText(event: HttpApiEvent): string {
  if (!event.body) return '';
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES, bytes.length);
  return bytes.toString('utf8');
}

/** Parses a JSON body; an empty body is `undefined`. Malformed JSON is a 400 saying where it broke. */
export function jsonBody(event: HttpApiEvent): unknown {
  const text = bodyText(event);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(`The body is not valid JSON: ${describeJsonError(text)}.`, 'invalid_json');
  }
}

/** Validates with a zod schema; every problem is listed with where it is. */
export function validate<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'body' | 'query',
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const place = issue.path.length ? `${where}.${issue.path.join('.')}` : where;
      return `${place} has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    const place = issue.path.length ? `${where}.${issue.path.join('.')}` : where;
    return `${place}: ${issue.message}`;
  });
  throw new ValidationError(`Invalid request: ${problems.join('; ')}.`, 'invalid_request');
}

/** Query parameters as API Gateway passes them (already decoded). */
export function queryOf(event: HttpApiEvent): Record<string, string> {
  return { ...(event.queryStringParameters ?? {}) };
}

export interface ErrorBody {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

/** What a client may see of an error; unexposed errors are logged and become a generic 500. */
export function describeError(error: unknown, log: Log | undefined): ErrorBody {
  if (error instanceof HublessError && error.expose) {
    const headers: Record<string, string> = {};
    if (error.status === 401) {
      headers['www-authenticate'] =
        `Bearer realm="hubless", error="invalid_token", error_description="${headerText(error.message)}"`;
    } else if (error instanceof InsufficientScopeError) {
      headers['www-authenticate'] =
        `Bearer realm="hubless", error="insufficient_scope", scope="${error.scope}"`;
    } else if (error instanceof MethodNotAllowedError) {
      headers.allow = error.allowed.join(', ');
    }
    return { status: error.status, code: error.code, message: error.message, headers };
  }
  log?.('error', 'unhandled API error', {
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return {
    status: 500,
    code: 'internal',
    message:
      'hubless hit an internal error. Try again in a moment; if it keeps happening, tell the operator of this deployment.',
    headers: {},
  };
}

/**
 * A message as a quoted-string header value. Node refuses any character outside
 * Latin-1 in a header (the request then fails with a 500), and the messages use
 * typographic apostrophes ("token’s"): those become ', quotes and backslashes too, and
 * whatever else is not visible ASCII becomes "?".
 */
function headerText(message: string): string {
  return message.replace(/[\u2018\u2019"\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}

/**
 * Where a JSON text breaks, as "expected X at line L, column C": a small scanner of the
 * JSON grammar, because the runtime's own message does not always give the position.
 */
export function describeJsonError(text: string): string {
  let i = 0;
  const fail = (expected: string): never => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    const column = i - before.lastIndexOf('\n');
    const found = i >= text.length ? 'the end of the body' : JSON.stringify(text[i]);
    throw new Error(`expected ${expected} at line ${line}, column ${column}, found ${found}`);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail('a value');
  };
  const string = () => {
    if (text[i] !== '"') fail('a string');
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail('a closing quote (control characters must be escaped)');
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('four hex digits after \\u');
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail('a valid escape');
      }
      i++;
    }
    if (text[i] !== '"') fail('a closing quote');
    i++;
  };
  const number = () => {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) fail('a value');
    i += match![0].length;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      space();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        space();
        string();
        space();
        if (text[i] !== ':') fail('":"');
        i++;
        value();
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail('"," or "}"');
      }
    }
    if (c === '[') {
      i++;
      space();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail('"," or "]"');
      }
    }
    if (c === '"') {
      string();
      return;
    }
    if (c === 't') {
      literal('true');
      return;
    }
    if (c === 'f') {
      literal('false');
      return;
    }
    if (c === 'n') {
      literal('null');
      return;
    }
    number();
  };
  try {
    value();
    space();
    if (i < text.length) fail('the end of the body');
    return 'it could not be parsed';
  } catch (error) {
    return (error as Error).message;
  }
}
