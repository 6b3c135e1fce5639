import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseSessionId } from '../../core/session.ts';
import type { IdentitySigner } from '../identity-signer.ts';
import { forwardedHeaders, isProxyOnlyHeader } from './front-door.ts';
import { refuse } from './refusals.ts';
import type { BrowserSession } from './sessions.ts';

/**
 * What the gateway tells what it forwards to about the user, as the ALB does: a freshly
 * signed `x-amzn-oidc-data` (and `x-amzn-oidc-identity`), never a client-sent one; and
 * what it keeps from labs: its own cookies and the provider's.
 */

/** Every cookie the gateway and its embedded provider set; labs never see any of them. */
export const SESSION_COOKIE = 'hubless_session';
/** A sign-in in flight (state, nonce and PKCE verifier stay on the server, keyed by it). */
export const LOGIN_COOKIE = 'hubless_auth';
/** The embedded OpenID provider's cookies (its `cookies.names`); it signs each in a `.sig` twin. */
export const OIDC_COOKIES = {
  session: 'hubless_oidc_session',
  interaction: 'hubless_oidc_interaction',
  resume: 'hubless_oidc_resume',
} as const;
const OIDC_COOKIE_PREFIX = 'hubless_oidc_';

const GATEWAY_COOKIE = new RegExp(
  `^(${SESSION_COOKIE}|${LOGIN_COOKIE}|${OIDC_COOKIE_PREFIX}[a-z_]+)(\\.sig)?=`,
);

/** How long a signed identity is valid; the ALB's own is 120 s. Renewed at half-life. */
const IDENTITY_TTL_SECONDS = 120;

export type Headers = Record<string, string | string[]>;

/**
 * The headers the gateway forwards for a request: the client's minus any identity or
 * forwarding header it sent, plus the gateway's own X-Forwarded-* and the signed
 * identity of its session when there is one.
 */
export class IdentityHeaders {
  readonly #signer: IdentitySigner;
  readonly #publicProto: string;

  constructor(signer: IdentitySigner, publicProto: string) {
    this.#signer = signer;
    this.#publicProto = publicProto;
  }

  /** For a handler, as a Lambda event carries them (one value per header). */
  async forHandler(req: IncomingMessage, session?: BrowserSession): Promise<Record<string, string>> {
    return flatten(await this.#forward(req, session));
  }

  /** For the owner's lab, which never sees the gateway's cookies. */
  async forLab(req: IncomingMessage, session: BrowserSession): Promise<Headers> {
    return withoutGatewayCookies(await this.#forward(req, session));
  }

  /** The signer's public key as a PEM at `<keys path>/<kid>`, as the ALB's key server answers. */
  serveKey(req: IncomingMessage, res: ServerResponse, kid: string): void {
    if (decodeURIComponent(kid) !== this.#signer.kid) {
      refuse(req, res, { status: 404, code: 'not_found', title: 'Not found', message: 'No such key.' });
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/x-pem-file',
      'cache-control': 'public, max-age=3600',
      'x-content-type-options': 'nosniff',
    });
    res.end(this.#signer.publicKeyPem);
  }

  /**
   * The signature is reused until half its lifetime has passed, so a busy lab does not
   * cost a signature per request.
   */
  async #forward(req: IncomingMessage, session: BrowserSession | undefined): Promise<Headers> {
    const headers: Headers = {};
    for (const [name, value] of Object.entries(req.headers)) {
      // Never trust identity or forwarding headers from the client: only the gateway sets them.
      if (value === undefined || isProxyOnlyHeader(name)) continue;
      headers[name] = value;
    }
    Object.assign(headers, forwardedHeaders(req, this.#publicProto));
    if (session) {
      const now = Date.now();
      if (!session.signed || session.signed.renewAfter <= now) {
        const claims = {
          sub: session.sub,
          username: session.username,
          sid: session.sid,
          ...(session.email ? { email: session.email } : {}),
        };
        session.signed = {
          value: await this.#signer.sign(claims, IDENTITY_TTL_SECONDS),
          renewAfter: now + (IDENTITY_TTL_SECONDS / 2) * 1000,
          expiresAt: now + IDENTITY_TTL_SECONDS * 1000,
        };
      }
      headers['x-amzn-oidc-data'] = session.signed.value;
      headers['x-amzn-oidc-identity'] = session.sub;
    }
    return headers;
  }
}

/** Labs run their owner's code: they never see the gateway's or the provider's cookies. */
function withoutGatewayCookies(headers: Headers): Headers {
  const cookie = headers.cookie;
  if (typeof cookie !== 'string') return headers;
  const kept = cookie
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c && !GATEWAY_COOKIE.test(c));
  const out = { ...headers };
  if (kept.length) out.cookie = kept.join('; ');
  else delete out.cookie;
  return out;
}

/** One value per header, as Lambda events carry them (a repeated header keeps its last value). */
function flatten(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    out[name] = Array.isArray(value) ? (value.at(-1) ?? '') : value;
  return out;
}

/** A lab is only ever proxied for its owner (the security model): the route's session must be theirs. */
export function ownsRoute(session: BrowserSession, routeSessionId: string): boolean {
  try {
    return parseSessionId(routeSessionId).user === session.username;
  } catch {
    return false;
  }
}
