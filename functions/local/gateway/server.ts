import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { JsonLogger } from '../../adapters/log/json-logger.ts';
import { isApiPath } from '../../handlers/api/http.ts';
import { ALB_KEYS_PATH } from '../identity-signer.ts';
import { OIDC_MOUNT_PATH } from '../oidc/provider.ts';
import { CALLBACK_PATH, LOGOUT_PATH, startBrowserSignIn } from './browser-sessions.ts';
import { EndedSessions } from './ended-sessions.ts';
import { HSTS, PublicHost } from './front-door.ts';
import { sendJson } from './html.ts';
import { IdentityHeaders, ownsRoute } from './identity-headers.ts';
import { ALB_TARGET, HTTP_API, invoke } from './lambda-events.ts';
import { listen } from './listener.ts';
import { handleLti, isLtiPath } from './lti.ts';
import { type Gateway, type GatewayOptions, HEALTH_PATH } from './options.ts';
import { isSafePath, pathOf } from './paths.ts';
import { proxyHttp, proxyUpgrade, upstreamHeaders } from './proxy.ts';
import { BAD_PATH, failure, NO_API, NOT_YOURS, refuse } from './refusals.ts';
import type { BrowserSession } from './sessions.ts';

/**
 * The local gateway, the ALB's stand-in in local mode: one HTTP server that hosts the
 * embedded OpenID provider under /oidc, signs browsers in (browser-sessions.ts), hands
 * /api/v1 and /hub/api to the API handler without sign-in or identity, proxies
 * /user/<key>/... (HTTP and WebSocket) to the owner's lab with a signed identity
 * (identity-headers.ts), and hands everything else to the portal as an ALB event.
 * Everything it refuses itself goes through refusals.ts.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const host = options.host ?? '127.0.0.1';
  const listener = await listen({
    host,
    port: options.port,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const scheme = options.tls ? 'https' : 'http';
  const publicUrl = (options.publicUrl ?? `${scheme}://${host}:${listener.port}`).replace(/\/+$/, '');
  const publicProto = new URL(publicUrl).protocol.slice(0, -1);
  const publicHost = new PublicHost(publicUrl, `${host}:${listener.port}`);
  const secure = publicProto === 'https';
  const { router } = options;
  const ended = options.endedSessionsFile ? new EndedSessions(options.endedSessionsFile) : undefined;
  const { oidc, sessions } = await (ended?.start() ?? Promise.resolve())
    .then(() =>
      startBrowserSignIn({
        ...options,
        ...(ended ? { ended } : {}),
        publicUrl,
        extraClients: options.extraClients ?? [],
        report: options.report ?? new JsonLogger().log,
      }),
    )
    .catch(async (error: unknown) => {
      await listener.close();
      throw error;
    });
  const identity = new IdentityHeaders(options.signer, publicProto);
  const log = options.log ?? (() => {});
  const report = options.report ?? new JsonLogger().log;
  /** The signed-in owner's lab under /user/, with what to forward; undefined: no route, the portal answers. */
  const labFor = async (req: IncomingMessage, session: BrowserSession, upgrade = false) => {
    const route = router.lookup(pathOf(req.url));
    if (!route) return undefined;
    if (!ownsRoute(session, route.sessionId)) return 'forbidden' as const;
    const headers = await identity.forLab(req, session);
    return { target: route.target, headers: upstreamHeaders(req, headers, { upgrade }) };
  };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    res.on('finish', () => log(`${req.method} ${path} ${res.statusCode}`));
    if (secure) res.setHeader('strict-transport-security', HSTS);
    try {
      if (!isSafePath(path)) return refuse(req, res, BAD_PATH);
      if (!publicHost.accepts(req.headers.host))
        return refuse(req, res, publicHost.refusal(req.headers.host));
      if (path === HEALTH_PATH) return sendJson(res, 200, { status: 'ok' });
      if (path.startsWith(`${ALB_KEYS_PATH}/`))
        return identity.serveKey(req, res, path.slice(ALB_KEYS_PATH.length + 1));
      if (path === OIDC_MOUNT_PATH || path.startsWith(`${OIDC_MOUNT_PATH}/`))
        return await oidc.handle(req, res);
      if (path === CALLBACK_PATH) return await sessions.finishLogin(req, res);
      if (path === LOGOUT_PATH) return await sessions.logout(req, res);
      if (options.lti && isLtiPath(path)) return await handleLti(req, res, options.lti, sessions);
      if (isApiPath(path)) {
        if (!options.api) return refuse(req, res, NO_API);
        return await invoke(req, res, options.api, HTTP_API, await identity.forHandler(req));
      }
      const session = await sessions.current(req);
      if (!session) return await sessions.startLogin(req, res);
      const lab = path.startsWith('/user/') ? await labFor(req, session) : undefined;
      if (lab === 'forbidden') return refuse(req, res, NOT_YOURS);
      if (lab) return proxyHttp(req, res, lab.target, lab.headers);
      await invoke(req, res, options.portal, ALB_TARGET, await identity.forHandler(req, session));
    } catch (error) {
      refuse(req, res, failure(`${req.method} ${path}`, error, report));
    }
  }

  async function onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const path = pathOf(req.url);
    const status = (line: string): void =>
      void socket.end(`HTTP/1.1 ${line}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    try {
      if (!isSafePath(path) || !path.startsWith('/user/')) return status('404 Not Found');
      if (!publicHost.accepts(req.headers.host)) return status('421 Misdirected Request');
      const session = await sessions.current(req);
      if (!session) return status('401 Unauthorized');
      const lab = await labFor(req, session, true);
      if (!lab) return status('404 Not Found');
      if (lab === 'forbidden') return status('403 Forbidden');
      proxyUpgrade(req, socket, head, lab.target, lab.headers);
    } catch (error) {
      failure(`upgrade ${path}`, error, report);
      status('500 Internal Server Error');
    }
  }

  listener.handle(
    (req: IncomingMessage, res: ServerResponse) => void onRequest(req, res),
    (req: IncomingMessage, socket: Socket, head: Buffer) => void onUpgrade(req, socket, head),
  );
  return { url: publicUrl, port: listener.port, oidc, close: () => listener.close() };
}
