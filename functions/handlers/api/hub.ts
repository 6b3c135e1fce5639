import * as z from 'zod';
import type { MachinePrincipal } from '../../core/api/ports.ts';
import { JUPYTERHUB_SCOPES } from '../../core/api/scopes.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { mutate } from '../../core/lifecycle.ts';
import {
  ACTIVE_STATES,
  baseUrlFor,
  isTerminal,
  labOrigin,
  SESSION_STATES,
  type Session,
} from '../../core/session.ts';
import { getServer } from '../../core/use-cases/get-server.ts';
import { listServers } from '../../core/use-cases/list-servers.ts';
import { startServer } from '../../core/use-cases/start-server.ts';
import { stopSession } from '../../core/use-cases/stop-server.ts';
import { getActiveUser, getUser, listUsers, type ManagedUser } from '../../core/use-cases/users.ts';
import type { HttpApiResult } from '../http-types.ts';
import type { ApiDeps, ApiRequest } from './context.ts';
import { emptyResult, jsonBody, jsonResult, requireScope, validate } from './http.ts';
import { pendingOf } from './present.ts';

/**
 * JupyterHub's REST API (docs/source/_static/rest-api.yml in jupyterhub/jupyterhub),
 * the part hub-aware tools use: jupyterhub-idle-culler lists users with their servers,
 * reads last_activity and stops idle ones; dashboards start servers and follow the
 * progress stream. Field names, status codes and the error shape {status, message}
 * follow JupyterHub, so those tools work against hubless with only a URL and a token.
 */

/** The JupyterHub API level these routes follow (clients check it to pick features). */
export const JUPYTERHUB_API_VERSION = '5.0.0';

export type HubRoute = (deps: ApiDeps, request: ApiRequest) => Promise<HttpApiResult>;

/** Checks a JupyterHub scope by the hubless scopes it maps to. */
export function requireHubScope(principal: MachinePrincipal, scope: keyof typeof JUPYTERHUB_SCOPES): void {
  for (const needed of JUPYTERHUB_SCOPES[scope] ?? []) requireScope(principal, needed);
}

function hubServer(session: Session, deps: ApiDeps) {
  const base = baseUrlFor(session.user, session.server);
  const progress = `/hub/api/users/${session.user}/server/progress`;
  const origin = deps.publicUrl.replace(/\/+$/, '');
  return {
    name: session.server,
    ready: session.state === 'ready',
    stopped: isTerminal(session.state),
    pending: pendingOf(session),
    url: base,
    progress_url: progress,
    full_url: `${labOrigin(session, origin)}${base}`,
    full_progress_url: `${origin}${progress}`,
    started: session.createdAt,
    last_activity: session.lastActivity ?? null,
    user_options: { profile: session.profile },
  };
}

function hubUser(user: ManagedUser, sessions: Session[], deps: ApiDeps, withServers: boolean) {
  const ready = sessions.find((s) => s.server === '' && s.state === 'ready');
  const main = sessions.find((s) => s.server === '' && !isTerminal(s.state));
  const activity = sessions
    .map((s) => s.lastActivity)
    .filter((t): t is string => Boolean(t))
    .sort()
    .at(-1);
  return {
    kind: 'user' as const,
    name: user.name,
    admin: user.admin,
    roles: user.admin ? ['admin', 'user'] : ['user'],
    groups: user.groups,
    server: ready ? baseUrlFor(ready.user, '') : null,
    pending: main ? pendingOf(main) : null,
    created: user.createdAt,
    last_activity: activity ?? null,
    ...(withServers
      ? { servers: Object.fromEntries(sessions.map((s) => [s.server, hubServer(s, deps)])) }
      : {}),
  };
}

export const hubVersion: HubRoute = async () => jsonResult(200, { version: JUPYTERHUB_API_VERSION });

const hubUsersQuery = z.object({
  state: z.enum(['active', 'ready', 'inactive']).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  include_stopped_servers: z.string().optional(),
  sort: z.string().optional(),
});

export const hubListUsers: HubRoute = async (deps, { principal, event }) => {
  requireHubScope(principal, 'list:users');
  const query = validate(hubUsersQuery, event.queryStringParameters ?? {}, 'query');
  const withStopped = query.include_stopped_servers !== undefined;
  const sessions = await listServers(deps.core, { states: withStopped ? SESSION_STATES : ACTIVE_STATES });
  const byUser = Map.groupBy(sessions, (s) => s.user);
  const withServers = principal.scopes.includes('servers:read');
  let users = await listUsers(deps.core);
  if (query.state) {
    users = users.filter((user) => {
      const own = (byUser.get(user.name) ?? []).filter((s) => !isTerminal(s.state));
      if (query.state === 'ready') return own.some((s) => s.state === 'ready');
      if (query.state === 'active') return own.length > 0;
      return own.length === 0;
    });
  }
  const total = users.length;
  const page = users
    .slice(query.offset, query.offset + query.limit)
    .map((user) => hubUser(user, byUser.get(user.name) ?? [], deps, withServers));
  // JupyterHub pages only for clients that ask for it with this media type (JupyterHub 2.0+).
  if (!(event.headers.accept ?? '').includes('application/jupyterhub-pagination+json'))
    return jsonResult(200, page);
  const nextOffset = query.offset + query.limit;
  const next =
    nextOffset < total
      ? {
          offset: nextOffset,
          limit: query.limit,
          url: `/hub/api/users?offset=${nextOffset}&limit=${query.limit}${query.state ? `&state=${query.state}` : ''}`,
        }
      : null;
  return jsonResult(200, {
    items: page,
    _pagination: { offset: query.offset, limit: query.limit, total, next },
  });
};

async function sessionsOf(deps: ApiDeps, user: string, withStopped: boolean): Promise<Session[]> {
  const sessions = await deps.core.store.listByUser(user);
  return withStopped ? sessions : sessions.filter((s) => !isTerminal(s.state));
}

export const hubGetUser: HubRoute = async (deps, { principal, params, event }) => {
  requireHubScope(principal, 'read:users');
  const user = await getUser(deps.core, params.user!);
  const withStopped = event.queryStringParameters?.include_stopped_servers !== undefined;
  return jsonResult(
    200,
    hubUser(
      user,
      await sessionsOf(deps, user.name, withStopped),
      deps,
      principal.scopes.includes('servers:read'),
    ),
  );
};

export const hubStartServer: HubRoute = async (deps, { principal, params, event }) => {
  requireHubScope(principal, 'servers');
  const user = await getActiveUser(deps.core, params.user!);
  // The body is the spawner's user_options; hubless understands "profile".
  const options = validate(
    z.object({ profile: z.string().min(1).optional() }).optional(),
    jsonBody(event),
    'body',
  );
  const current = await deps.core.store.get(user.name, '');
  if (current?.state === 'ready')
    throw new ValidationError(`${user.name}'s server is already running.`, 'already_running');
  if (current?.state === 'stopping')
    throw new ValidationError(`${user.name}'s server is pending stop.`, 'pending_stop');
  const { session } = await startServer(deps.core, {
    user: user.name,
    server: '',
    profile: options?.profile ?? user.profile,
    groups: user.groups,
  });
  // One step forward before answering (JupyterHub waits briefly too): a compute that is
  // already running (a local process) answers 201, Fargate's 30-60 s answer 202.
  const now =
    session.state === 'ready' || isTerminal(session.state)
      ? session
      : await getServer(deps.core, user.name, '');
  return emptyResult(now.state === 'ready' ? 201 : 202);
};

export const hubStopServer: HubRoute = async (deps, { principal, params }) => {
  requireHubScope(principal, 'delete:servers');
  await getUser(deps.core, params.user!);
  const session = await deps.core.store.get(params.user!, '');
  if (!session || isTerminal(session.state))
    throw new ValidationError(`${params.user}'s server is not running.`, 'not_running');
  const stopped = await stopSession(deps.core, session, {
    code: 'admin',
    message: `Stopped through the JupyterHub API by ${principal.client}.`,
  });
  return emptyResult(isTerminal(stopped.state) ? 204 : 202);
};

const activityBody = z.object({
  last_activity: z.iso.datetime({ offset: true }).optional(),
  servers: z.record(z.string(), z.object({ last_activity: z.iso.datetime({ offset: true }) })).optional(),
});

/** POST .../activity: what the lab (or a proxy) saw; last_activity only ever moves forward. */
export const hubActivity: HubRoute = async (deps, { principal, params, event }) => {
  requireHubScope(principal, 'users:activity');
  await getUser(deps.core, params.user!);
  const body = validate(activityBody, jsonBody(event) ?? {}, 'body');
  const now = deps.core.clock.now();
  for (const [name, { last_activity }] of Object.entries(body.servers ?? {})) {
    const session = await deps.core.store.get(params.user!, name);
    if (!session || isTerminal(session.state))
      throw new ValidationError(`${params.user} has no running server named "${name}".`, 'no_such_server');
    const seen = new Date(Math.min(Date.parse(last_activity), now.getTime())).toISOString();
    await mutate(deps.core, session, (latest) =>
      latest.id === session.id &&
      !isTerminal(latest.state) &&
      (!latest.lastActivity || latest.lastActivity < seen)
        ? { ...latest, lastActivity: seen, updatedAt: now.toISOString() }
        : undefined,
    );
  }
  return emptyResult(200);
};

/**
 * GET .../server/progress as text/event-stream, like JupyterHub's: one `data:` line per
 * progress event, then a final event with ready and url, or failed and the reason. A
 * Lambda cannot stream for minutes, so the body is sent whole once the server is ready
 * or failed, or when the time budget runs out (EventSource clients then reconnect).
 */
export const hubProgress: HubRoute = async (deps, { principal, params }) => {
  requireHubScope(principal, 'read:servers');
  await getUser(deps.core, params.user!);
  const budget = deps.progressBudgetMs ?? 20_000;
  const pollMs = deps.progressPollMs ?? 1000;
  const started = Date.now();
  const lines: string[] = [];
  const send = (data: Record<string, unknown>) => lines.push(`data: ${JSON.stringify(data)}\n\n`);
  let sent = 0;
  let session = await getServer(deps.core, params.user!, '').catch((error) => {
    if (error instanceof NotFoundError) throw new NotFoundError(`${params.user} has no server.`);
    throw error;
  });
  for (;;) {
    for (const event of session.events.slice(sent))
      send({ progress: event.progress, message: event.message });
    sent = session.events.length;
    if (session.state === 'ready') {
      const url = baseUrlFor(session.user, session.server);
      send({
        progress: 100,
        ready: true,
        message: `Server ready at ${url}`,
        html_message: `Server ready at <a href="${url}">${url}</a>`,
        url,
      });
      break;
    }
    if (isTerminal(session.state)) {
      send({
        progress: 100,
        failed: true,
        message: `Spawn failed: ${session.reason?.message ?? 'the server stopped.'}`,
      });
      break;
    }
    if (Date.now() - started + pollMs > budget) break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    session = await getServer(deps.core, params.user!, '');
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
    body: lines.join(''),
  };
};
