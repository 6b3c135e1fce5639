import { OAUTH_AUTHORIZE_PATH } from '../../core/api/oauth.ts';
import { ForbiddenError, NotFoundError } from '../../core/errors.ts';
import { explainUnlinked, UnlinkedFederatedIdentityError } from '../../core/federation.ts';
import type { Log } from '../../core/log.ts';
import { baseUrlFor, labOrigin, type Session } from '../../core/session.ts';
import { findServer } from '../../core/use-cases/get-server.ts';
import { listServers } from '../../core/use-cases/list-servers.ts';
import { launchesAhead, queueMessage } from '../../core/use-cases/queue-place.ts';
import { DEFAULT_NAMED_SERVER_LIMIT, profilesFor, startServer } from '../../core/use-cases/start-server.ts';
import { stopServer } from '../../core/use-cases/stop-server.ts';
import { normaliseServerName } from '../../core/username.ts';
import { errorView, formFields, html, isSameOrigin, json, queryParam, redirect } from '../http.ts';
import type { AlbEvent, AlbResult } from '../http-types.ts';
import { adminRoute, announcementFor } from './admin.ts';
import type { PortalDeps, PortalRequest, PortalRoute } from './context.ts';
import { launchRoute } from './launch.ts';
import { oauthAuthorizeRoute } from './oauth.ts';
import { errorPage, homePage, logoutPage, notRunningPage, type PageUser, spawnPendingPage } from './views.ts';

type Request = PortalRequest;
type Route = PortalRoute;

/** Where a ready lab opens: its UI, or the path an LMS launch asked for. */
export function labUrl(
  session: Pick<Session, 'user' | 'server' | 'openPath' | 'route'>,
  ui: 'lab' | 'tree',
): string {
  // Absolute when the route answers at a pool host of its own; a same-origin path otherwise.
  const base = `${labOrigin(session, '')}${baseUrlFor(session.user, session.server)}`;
  const path = session.openPath?.replace(/^\/+/, '');
  if (!path) return `${base}${ui}`;
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  if (ui === 'lab') return `${base}lab/tree/${encoded}`;
  return `${base}${path.endsWith('.ipynb') ? 'notebooks' : 'tree'}/${encoded}`;
}

/** `ahead`: launches queued before this one (launchesAhead), shown instead of the last step while it waits. */
function progressOf(session: Session, ui: 'lab' | 'tree', ahead?: number) {
  const last = session.events.at(-1);
  return {
    version: progressVersion(session, ahead),
    state: session.state,
    progress: last?.progress ?? 0,
    message:
      session.state === 'failed'
        ? (session.reason?.message ?? 'The server failed.')
        : ahead
          ? queueMessage(ahead)
          : (last?.message ?? ''),
    ...(ahead ? { ahead } : {}),
    events: session.events.map(({ progress, message, time }) => ({ progress, message, time })),
    ready: session.state === 'ready',
    failed: session.state === 'failed' || session.state === 'stopped',
    url: session.state === 'ready' ? labUrl(session, ui) : undefined,
  };
}

/** The server a page is about: `?server=` (or a form field), '' for the default one. */
function serverOf(event: AlbEvent, form?: Record<string, string>): string {
  return normaliseServerName(form ? form.server : queryParam(event, 'server'));
}

function pendingUrl(server: string): string {
  return server ? `/spawn-pending?server=${encodeURIComponent(server)}` : '/spawn-pending';
}

const home: Route = async (deps, { user }) => {
  const session = await findServer(deps.core, user.name, '');
  const profiles = profilesFor(deps.core.settings.profiles, user.groups);
  const named = (await deps.core.store.listByUser(user.name))
    .filter((s) => s.server)
    .map((s) => ({ session: s, url: labUrl(s, deps.labUi) }));
  return html(
    200,
    homePage(
      user,
      session,
      session ? labUrl(session, deps.labUi) : '',
      profiles,
      user.profile,
      {
        servers: named,
        limit: deps.core.settings.namedServerLimit ?? DEFAULT_NAMED_SERVER_LIMIT,
      },
      deps.core.settings,
    ),
  );
};

const start: Route = async (deps, { event, user }) => {
  const form = formFields(event);
  const { session } = await startServer(deps.core, {
    user: user.name,
    server: serverOf(event, form),
    profile: form.profile || user.profile,
    groups: user.groups,
  });
  return redirect(session.state === 'ready' ? labUrl(session, deps.labUi) : pendingUrl(session.server));
};

const spawnPending: Route = async (deps, { event, user }) => {
  const session = await findServer(deps.core, user.name, serverOf(event));
  if (!session) return redirect('/');
  if (session.state === 'ready') return redirect(labUrl(session, deps.labUi));
  return html(200, spawnPendingPage(user, session));
};

/** What the progress page has shown: a new step, a new place in the queue or a new state changes it. */
function progressVersion(session: Session, ahead?: number): string {
  return `${session.events.length}.${ahead ?? 0}.${session.state}`;
}

/**
 * How long a progress request may wait for a change, and how often it re-reads the session
 * meanwhile. A long poll, not a stream: on AWS the portal Lambda answers through the ALB,
 * which buffers a Lambda's whole answer (docs/architecture.md, section 4).
 */
export const PROGRESS_WAIT = { timeoutMs: 20_000, intervalMs: 250 };

/**
 * GET /progress answers at once, or, with `?seen=<version>` (the version of the last answer
 * the page showed), when the session's progress differs from it: the page learns the lab is
 * ready at the next re-read, not at its next poll. It answers unchanged after
 * `timeoutMs`, well within the Lambda's 29 s and the ALB's 60 s idle timeout.
 */
const progress: Route = async (deps, { event, user }) => {
  const server = serverOf(event);
  const seen = queryParam(event, 'seen');
  const wait = deps.progressWait ?? PROGRESS_WAIT;
  const until = Date.now() + wait.timeoutMs;
  for (;;) {
    const session = await findServer(deps.core, user.name, server);
    if (!session)
      throw new NotFoundError(
        server
          ? `You have no server named "${server}".`
          : 'You have no server. Start one from the home page.',
      );
    const ahead = await launchesAhead(deps.core, session);
    if (seen !== progressVersion(session, ahead) || Date.now() + wait.intervalMs > until)
      return json(200, progressOf(session, deps.labUi, ahead));
    await new Promise((resolve) => setTimeout(resolve, wait.intervalMs));
  }
};

const stop: Route = async (deps, { event, user }) => {
  await stopServer(deps.core, {
    user: user.name,
    server: serverOf(event, formFields(event)),
    reason: { code: 'user', message: 'Stopped by its owner.', by: `user:${user.name}` },
  });
  return redirect('/');
};

/** How many parts of a split ALB session cookie sign-out clears. */
const ALB_COOKIE_PARTS = 4;

/**
 * Sign-out. The ALB keeps its session in <sessionCookie>-0..N (split when large)
 * and honours one Set-Cookie per Lambda response unless multi-value headers are on, so
 * each step expires one part and redirects to the next; the last goes to Cognito's logout.
 */
const logout: Route = async (deps, { event, user }) => {
  const part = Number(queryParam(event, 'part') ?? '0');
  // The first step only by POST (a same-origin form, checked for every POST below): a
  // cross-site link or image must not start a sign-out. A GET without a later step asks.
  if (event.httpMethod.toUpperCase() !== 'POST' && !(Number.isInteger(part) && part > 0))
    return html(200, logoutPage(user));
  const index = Number.isInteger(part) && part >= 0 && part < ALB_COOKIE_PARTS ? part : 0;
  const next = index + 1 < ALB_COOKIE_PARTS ? `/logout?part=${index + 1}` : (deps.logoutUrl ?? '/');
  return {
    statusCode: 303,
    headers: {
      location: next,
      'cache-control': 'no-store',
      'set-cookie': `${deps.sessionCookie}-${index}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`,
    },
  };
};

/**
 * /user/<key>/[<server>/]... reaches the portal only when no route serves it: the server
 * is not running. The segment after the user names a server when the user has one by
 * that name (as in JupyterHub, a named server's prefix is longer than the default's).
 */
const userPath: Route = async (deps, { event, user }) => {
  const [, , owner = '', second = ''] = event.path.split('/');
  let server = '';
  if (owner === user.name) {
    const named = second
      ? (await deps.core.store.listByUser(user.name)).find((s) => s.server === second)
      : undefined;
    server = named?.server ?? '';
    const session = await findServer(deps.core, user.name, server);
    if (session && session.state !== 'stopped' && session.state !== 'failed' && session.state !== 'ready')
      return redirect(pendingUrl(server), 302);
  }
  return html(owner === user.name ? 404 : 403, notRunningPage(user, owner, server));
};

const ROUTES: Record<string, Route> = {
  'GET /': home,
  'POST /start': start,
  'GET /spawn-pending': spawnPending,
  'GET /progress': progress,
  'POST /stop': stop,
  'GET /logout': logout,
  'POST /logout': logout,
};

export async function routePortal(deps: PortalDeps, event: AlbEvent): Promise<AlbResult> {
  let user: Request['user'] | undefined;
  try {
    const identity = await deps.identity.verify(event.headers['x-amzn-oidc-data']);
    const record = await deps.core.directory.get(identity.username);
    if (record?.disabled)
      throw new ForbiddenError('Your account is disabled. Ask an administrator to enable it.');
    user = {
      name: identity.username,
      admin: record?.admin ?? false,
      groups: record?.groups ?? [],
      profile: record?.profile,
    };

    const method = event.httpMethod.toUpperCase();
    if (method === 'POST' && !isSameOrigin(event)) {
      throw new ForbiddenError('This form was sent from another site. Go back to hubless and try again.');
    }
    const key = `${method === 'HEAD' ? 'GET' : method} ${event.path}`;
    if (key === 'GET /launch' && deps.launchLinks)
      return await launchRoute(deps.launchLinks)(deps, { event, user });
    if (key === `GET ${OAUTH_AUTHORIZE_PATH}`) return await oauthAuthorizeRoute(deps, { event, user });
    // Pages (not the progress poll, which is JSON) show the administrators' announcement.
    if (key !== 'GET /progress') {
      const announcement = await announcementFor(deps);
      if (announcement) user.announcement = announcement;
    }
    const route = ROUTES[key] ?? adminRoute(key);
    if (route) return await route(deps, { event, user });
    if (event.path.startsWith('/user/') && (method === 'GET' || method === 'HEAD'))
      return await userPath(deps, { event, user });
    throw new NotFoundError(`There is no page at ${event.path}.`);
  } catch (error) {
    if (error instanceof UnlinkedFederatedIdentityError) {
      const reason = await explainUnlinked(error, deps.federation, async (name) => {
        const holder = await deps.core.directory.get(name);
        return holder && { federated: holder.viaIdentityProvider === true };
      });
      return portalErrorResult(event, reason, deps.core.log);
    }
    return portalErrorResult(event, error, deps.core.log, user);
  }
}

/**
 * How the portal answers a failure: JSON to the progress poll, an error page otherwise.
 * Unexposed errors are logged and shown as a generic message.
 */
export function portalErrorResult(
  event: AlbEvent,
  error: unknown,
  log: Log | undefined,
  user?: PageUser,
): AlbResult {
  const view = errorView(error, (message, fields) => log?.('error', message, fields));
  if (event.path === '/progress')
    return json(view.status, { error: { code: view.status, message: view.message } });
  return html(view.status, errorPage(user, view.title, view.message));
}
