import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { GatewayRouter } from '../../adapters/local/gateway-router.ts';
import type { LocalDirectory } from '../../adapters/local/local-directory.ts';
import { parseSessionId } from '../../core/session.ts';
import type { AlbEvent, AlbResult, HttpApiEvent, HttpApiResult } from '../../handlers/http-types.ts';
import { ALB_KEYS_PATH, type IdentitySigner } from '../identity-signer.ts';
import {
  createEmbeddedOidc,
  type EmbeddedOidc,
  type MachineClientConfig,
  OIDC_MOUNT_PATH,
} from '../oidc/provider.ts';
import { BodyTooLargeError, readBody } from './body.ts';
import { escapeHtml, securityHeaders, sendJson, sendPage } from './html.ts';
import { toAlbEvent, toHttpApiEvent, writeAlbResult, writeHttpApiResult } from './lambda-events.ts';
import { proxyHttp, proxyUpgrade, upstreamHeaders } from './proxy.ts';
import { RelyingParty } from './relying-party.ts';
import {
  type BrowserSession,
  ExpiringStore,
  type PendingLogin,
  randomId,
  readCookie,
  serializeCookie,
} from './sessions.ts';

/**
 * The local gateway: the ALB's stand-in in local mode. One HTTP server that
 * - hosts the embedded OpenID provider under /oidc (Cognito's stand-in);
 * - signs browsers in like `authenticate-cognito` (code + PKCE, callback at
 *   /oauth2/idpresponse) and keeps an opaque session cookie `hubless_session`;
 * - strips any client-sent `x-amzn-oidc-*` headers and adds a freshly signed
 *   `x-amzn-oidc-data` (and `x-amzn-oidc-identity`) to everything it forwards;
 * - reverse-proxies /user/<key>/... to the owner's lab when the route table has it,
 *   HTTP and WebSocket, and hands everything else to the portal handler as an ALB event;
 * - hands /api/v1/* and /hub/api/* (bearer-token APIs) to the API handler as an
 *   API Gateway HTTP API event, without identity headers and without a sign-in.
 */
export const SESSION_COOKIE = 'hubless_session';
const LOGIN_COOKIE = 'hubless_auth';
export const CALLBACK_PATH = '/oauth2/idpresponse';
export const HEALTH_PATH = '/.hubless/health';
export const LOGOUT_PATH = '/logout';
export const DEFAULT_GATEWAY_CLIENT_ID = 'hubless-gateway';
const MAX_BODY_BYTES = 1024 * 1024;
/** How often a signed-in session re-checks the directory (a disabled user is let go within this). */
const DIRECTORY_RECHECK_MS = 30_000;
const IDENTITY_TTL_SECONDS = 120;

/** The issuer of the embedded provider for a gateway at `publicUrl`. */
export function gatewayIssuer(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${OIDC_MOUNT_PATH}`;
}

export interface GatewayOptions {
  host?: string;
  port: number;
  /** The URL browsers use. Default http://<host>:<port>. */
  publicUrl?: string;
  dataDir: string;
  directory: LocalDirectory;
  router: GatewayRouter;
  /**
   * Signs the identity header. Its `issuer` must be gatewayIssuer(publicUrl) and its
   * `clientId` becomes the gateway's own client id at the provider.
   */
  signer: IdentitySigner;
  portal: (event: AlbEvent) => Promise<AlbResult>;
  api?: (event: HttpApiEvent) => Promise<HttpApiResult>;
  /** Machine clients (an LMS) allowed to get API tokens with client credentials. */
  extraClients?: MachineClientConfig[];
  /** How long a browser session lasts. Default 12 hours. */
  sessionTtlSeconds?: number;
  /** Access log; gets method, path without query, and status. Default: none. */
  log?: (line: string) => void;
}

export interface Gateway {
  url: string;
  port: number;
  oidc: EmbeddedOidc;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const publicUrl = (options.publicUrl ?? `http://${host}:${port}`).replace(/\/+$/, '');
  const issuer = gatewayIssuer(publicUrl);
  const secureCookies = publicUrl.startsWith('https:');
  const { signer, directory, router } = options;
  if (signer.issuer !== issuer) {
    console.warn(
      `[gateway] the identity signer's issuer (${signer.issuer}) is not this gateway's (${issuer}); labs will refuse it.`,
    );
  }

  // Both ends of the browser client live in this process, so a fresh secret per start is enough.
  const browserClientSecret = randomBytes(32).toString('base64url');
  let oidc: EmbeddedOidc;
  try {
    oidc = await createEmbeddedOidc({
      issuer,
      dataDir: options.dataDir,
      directory,
      browserClient: {
        clientId: signer.clientId,
        clientSecret: browserClientSecret,
        redirectUris: [`${publicUrl}${CALLBACK_PATH}`],
        postLogoutRedirectUris: [`${publicUrl}/`],
      },
      extraClients: options.extraClients ?? [],
    });
  } catch (error) {
    server.close();
    throw error;
  }
  const rp = new RelyingParty({
    issuer,
    clientId: signer.clientId,
    clientSecret: browserClientSecret,
    redirectUri: `${publicUrl}${CALLBACK_PATH}`,
  });

  const sessionTtlMs = (options.sessionTtlSeconds ?? 12 * 3600) * 1000;
  const sessions = new ExpiringStore<BrowserSession>(100_000);
  const pending = new ExpiringStore<PendingLogin>(10_000);
  const log = options.log ?? (() => {});

  async function currentSession(req: IncomingMessage): Promise<BrowserSession | undefined> {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    const session = sessions.get(id);
    if (!session) return undefined;
    const now = Date.now();
    if (now - session.checkedAt > DIRECTORY_RECHECK_MS) {
      const user = await directory.get(session.username).catch(() => undefined);
      if (!user || user.disabled) {
        sessions.delete(session.id);
        return undefined;
      }
      session.checkedAt = now;
    }
    return session;
  }

  async function identityHeaders(
    req: IncomingMessage,
    session: BrowserSession | undefined,
  ): Promise<Record<string, string | string[]>> {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      // Never trust identity headers from the client: only the gateway sets them.
      if (value === undefined || name.startsWith('x-amzn-oidc-')) continue;
      headers[name] = value;
    }
    if (session) {
      const now = Date.now();
      if (!session.signed || session.signed.renewAfter <= now) {
        const claims = {
          sub: session.sub,
          username: session.username,
          ...(session.email ? { email: session.email } : {}),
        };
        session.signed = {
          value: await signer.sign(claims, IDENTITY_TTL_SECONDS),
          renewAfter: now + (IDENTITY_TTL_SECONDS / 2) * 1000,
        };
      }
      headers['x-amzn-oidc-data'] = session.signed.value;
      headers['x-amzn-oidc-identity'] = session.sub;
    }
    return headers;
  }

  /** Labs run their owner's code: they never see the gateway's or the provider's cookies. */
  function withoutGatewayCookies(
    headers: Record<string, string | string[]>,
  ): Record<string, string | string[]> {
    const cookie = headers.cookie;
    if (typeof cookie !== 'string') return headers;
    const kept = cookie
      .split(';')
      .map((c) => c.trim())
      .filter((c) => c && !/^(hubless_session|hubless_auth|hubless_oidc_[a-z_]+)(\.sig)?=/.test(c));
    const out = { ...headers };
    if (kept.length) out.cookie = kept.join('; ');
    else delete out.cookie;
    return out;
  }

  function flatten(headers: Record<string, string | string[]>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers))
      out[name] = Array.isArray(value) ? (value.at(-1) ?? '') : value;
    return out;
  }

  async function startLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only a page navigation starts a sign-in. A browser also fetches /favicon.ico and
    // scripts' XHRs; if those started logins too, each would replace the pending login's
    // cookie and the real callback would fail its state check.
    // Browsers label those with Sec-Fetch-Dest (image, empty, script); pages are document.
    const dest = req.headers['sec-fetch-dest'];
    const subresource =
      (dest !== undefined && dest !== 'document' && dest !== 'iframe') || pathOf(req.url) === '/favicon.ico';
    if ((req.method !== 'GET' && req.method !== 'HEAD') || subresource) {
      sendJson(res, 401, { error: 'unauthorized', message: 'Sign in first: open the portal in a browser.' });
      return;
    }
    const login = await rp.startLogin();
    const id = randomId();
    pending.set({ id, ...login, returnTo: safeReturnTo(req.url), expiresAt: Date.now() + 10 * 60_000 });
    res.writeHead(302, {
      location: login.url,
      'set-cookie': serializeCookie(LOGIN_COOKIE, id, {
        path: '/oauth2',
        maxAge: 600,
        secure: secureCookies,
      }),
      ...securityHeaders(),
    });
    res.end();
  }

  async function finishLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', publicUrl);
    const loginId = readCookie(req.headers.cookie, LOGIN_COOKIE);
    const login = pending.get(loginId);
    const clearLogin = serializeCookie(LOGIN_COOKIE, '', {
      path: '/oauth2',
      maxAge: 0,
      secure: secureCookies,
    });
    if (url.searchParams.has('error')) {
      pending.delete(loginId);
      sendPage(
        res,
        400,
        'Sign-in cancelled',
        '<h1>Sign-in did not finish</h1><p>The sign-in was cancelled or refused.</p><p><a href="/">Try again</a></p>',
        {
          headers: { 'set-cookie': clearLogin },
        },
      );
      return;
    }
    if (!login) {
      // Expired, or from another browser: start over (the provider may remember the user).
      res.writeHead(302, { location: '/', 'set-cookie': clearLogin, ...securityHeaders() });
      res.end();
      return;
    }
    pending.delete(login.id);
    let signedIn: Awaited<ReturnType<RelyingParty['finishLogin']>>;
    try {
      signedIn = await rp.finishLogin(url, login);
    } catch (error) {
      console.error(
        `[gateway] sign-in could not be completed: ${error instanceof Error ? error.name : 'error'}`,
      );
      sendPage(
        res,
        400,
        'Sign-in failed',
        '<h1>Sign-in could not be completed</h1><p><a href="/">Start again</a></p>',
        {
          headers: { 'set-cookie': clearLogin },
        },
      );
      return;
    }
    // Never reuse a session id across sign-ins (session fixation).
    sessions.delete(readCookie(req.headers.cookie, SESSION_COOKIE));
    const now = Date.now();
    const session: BrowserSession = {
      id: randomId(),
      sub: signedIn.sub,
      username: signedIn.username,
      createdAt: now,
      expiresAt: now + sessionTtlMs,
      checkedAt: now,
    };
    if (signedIn.email) session.email = signedIn.email;
    if (signedIn.idToken) session.idToken = signedIn.idToken;
    sessions.set(session);
    res.writeHead(302, {
      location: login.returnTo,
      'set-cookie': [
        serializeCookie(SESSION_COOKIE, session.id, {
          maxAge: Math.floor(sessionTtlMs / 1000),
          secure: secureCookies,
        }),
        clearLogin,
      ],
      ...securityHeaders(),
    });
    res.end();
  }

  async function logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    const session = sessions.get(id);
    sessions.delete(id);
    const location = await rp.logoutUrl({
      postLogoutRedirectUri: `${publicUrl}/`,
      ...(session?.idToken ? { idToken: session.idToken } : {}),
    });
    res.writeHead(302, {
      location,
      'set-cookie': serializeCookie(SESSION_COOKIE, '', { maxAge: 0, secure: secureCookies }),
      ...securityHeaders(),
    });
    res.end();
  }

  async function toApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!options.api) {
      sendJson(res, 404, { error: 'not_found', message: 'The hubless API is not enabled on this gateway.' });
      return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    const event = toHttpApiEvent(req, body, flatten(await identityHeaders(req, undefined)));
    writeHttpApiResult(res, await options.api(event));
  }

  async function toPortal(req: IncomingMessage, res: ServerResponse, session: BrowserSession): Promise<void> {
    const body = await readBody(req, MAX_BODY_BYTES);
    const event = toAlbEvent(req, body, flatten(await identityHeaders(req, session)));
    writeAlbResult(res, await options.portal(event));
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    res.on('finish', () => log(`${req.method} ${path} ${res.statusCode}`));
    try {
      if (!isSafePath(path)) {
        const message = 'The address has "." or ".." parts; use the plain path.';
        if (isApiPath(path)) sendApiError(res, path, 400, 'invalid_path', message);
        else sendPage(res, 400, 'Bad request', `<h1>Bad request</h1><p>${escapeHtml(message)}</p>`);
        return;
      }
      if (path === HEALTH_PATH) {
        sendJson(res, 200, { status: 'ok' });
        return;
      }
      if (path.startsWith(`${ALB_KEYS_PATH}/`)) {
        serveKey(res, decodeURIComponent(path.slice(ALB_KEYS_PATH.length + 1)));
        return;
      }
      if (path === OIDC_MOUNT_PATH || path.startsWith(`${OIDC_MOUNT_PATH}/`)) {
        await oidc.handle(req, res);
        return;
      }
      if (path === CALLBACK_PATH) {
        await finishLogin(req, res);
        return;
      }
      if (path === LOGOUT_PATH) {
        await logout(req, res);
        return;
      }
      if (isApiPath(path)) {
        await toApi(req, res);
        return;
      }
      const session = await currentSession(req);
      if (!session) {
        await startLogin(req, res);
        return;
      }
      const route = path.startsWith('/user/') ? router.lookup(path) : undefined;
      if (route) {
        if (!ownsRoute(session, route.sessionId)) {
          forbidden(res);
          return;
        }
        const headers = withoutGatewayCookies(await identityHeaders(req, session));
        proxyHttp(
          req,
          res,
          route.target,
          upstreamHeaders(req, headers, { publicProto: new URL(publicUrl).protocol.slice(0, -1) }),
        );
        return;
      }
      await toPortal(req, res, session);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        if (isApiPath(path)) sendApiError(res, path, 413, 'payload_too_large', error.message);
        else sendPage(res, 413, 'Too large', `<h1>Request too large</h1><p>${escapeHtml(error.message)}</p>`);
        return;
      }
      console.error(
        `[gateway] ${req.method} ${path} failed: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
      if (isApiPath(path))
        sendJson(res, 500, { error: 'internal', message: 'The gateway could not handle this request.' });
      else sendPage(res, 500, 'Error', '<h1>Something went wrong</h1><p>Try again in a moment.</p>');
    }
  }

  async function onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const path = pathOf(req.url);
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    try {
      if (!isSafePath(path) || !path.startsWith('/user/')) return refuse('404 Not Found');
      const session = await currentSession(req);
      if (!session) return refuse('401 Unauthorized');
      const route = router.lookup(path);
      if (!route) return refuse('404 Not Found');
      if (!ownsRoute(session, route.sessionId)) return refuse('403 Forbidden');
      const headers = withoutGatewayCookies(await identityHeaders(req, session));
      proxyUpgrade(
        req,
        socket,
        head,
        route.target,
        upstreamHeaders(req, headers, {
          upgrade: true,
          publicProto: new URL(publicUrl).protocol.slice(0, -1),
        }),
      );
    } catch (error) {
      console.error(
        `[gateway] upgrade ${path} failed: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
      refuse('500 Internal Server Error');
    }
  }

  function serveKey(res: ServerResponse, kid: string): void {
    if (kid !== signer.kid) {
      sendJson(res, 404, { error: 'not_found', message: 'No such key.' });
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/x-pem-file',
      'cache-control': 'public, max-age=3600',
      'x-content-type-options': 'nosniff',
    });
    res.end(signer.publicKeyPem);
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => void onRequest(req, res));
  server.on(
    'upgrade',
    (req: IncomingMessage, socket: Socket, head: Buffer) => void onUpgrade(req, socket, head),
  );
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  return {
    url: publicUrl,
    port,
    oidc,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

function forbidden(res: ServerResponse): void {
  sendPage(
    res,
    403,
    'Not your server',
    '<h1>This server belongs to another user</h1><p><a href="/">Go to your portal</a></p>',
  );
}

/** A lab is only ever proxied for its owner (see the security model in DESIGN.md). */
function ownsRoute(session: BrowserSession, routeSessionId: string): boolean {
  try {
    return parseSessionId(routeSessionId).user === session.username;
  } catch {
    return false;
  }
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0 ? raw : raw.slice(0, q);
}

function isSafePath(path: string): boolean {
  if (!path.startsWith('/')) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  return !decoded.split(/[/\\]/).some((segment) => segment === '.' || segment === '..');
}

/**
 * Refusals the gateway makes itself on API paths, in each API's own error shape: ours
 * ({error: {code, message}}) on /api/v1, JupyterHub's ({status, message}) on /hub/api.
 */
function sendApiError(
  res: ServerResponse,
  path: string,
  status: number,
  code: string,
  message: string,
): void {
  if (path.startsWith('/hub/')) sendJson(res, status, { status, message });
  else sendJson(res, status, { error: { code, message } });
}

function isApiPath(path: string): boolean {
  return (
    path === '/api/v1' || path.startsWith('/api/v1/') || path === '/hub/api' || path.startsWith('/hub/api/')
  );
}

/** Only same-origin paths: never an absolute URL or a protocol-relative one (open redirect). */
function safeReturnTo(url: string | undefined): string {
  if (!url?.startsWith('/') || url.startsWith('//') || url.startsWith('/\\')) return '/';
  return url;
}
