import * as z from 'zod';
import { MissingHubScopeError } from '../../core/api/errors.ts';
import type { MachinePrincipal } from '../../core/api/ports.ts';
import { grantedHubScopes, type HubScope } from '../../core/api/scopes.ts';
import { apiStopReason } from '../../core/api/stop-reasons.ts';
import { ForbiddenError, HublessError, NotFoundError, ValidationError } from '../../core/errors.ts';
import { mutate } from '../../core/lifecycle.ts';
import { baseUrlFor, isTerminal, labOrigin, PROGRESS, type Session } from '../../core/session.ts';
import { getServer } from '../../core/use-cases/get-server.ts';
import { listServers } from '../../core/use-cases/list-servers.ts';
import { launchesAhead, queueMessage } from '../../core/use-cases/queue-place.ts';
import { startServer } from '../../core/use-cases/start-server.ts';
import { stopSession } from '../../core/use-cases/stop-server.ts';
import { getActiveUser, getUser, listUsers, type ManagedUser } from '../../core/use-cases/users.ts';
import type { HttpApiEvent, HttpApiResult } from '../http-types.ts';
import type { ApiDeps, ApiRequest } from './context.ts';
import { emptyResult, header, jsonBody, jsonResult } from './http.ts';
import { pendingOf } from './present.ts';

/**
 * JupyterHub's REST API (docs/source/_static/rest-api.yml in jupyterhub/jupyterhub,
 * JupyterHub 5.5.1), the part hub-aware tools use: jupyterhub-idle-culler pages through
 * users with their servers, reads last_activity and stops idle ones; dashboards start
 * default and named servers and follow the progress stream; HubAuth asks who a token
 * belongs to. Field names, status codes, scopes and the error shape {status, message}
 * follow JupyterHub's handlers (jupyterhub/apihandlers/users.py, base.py), so those tools
 * work against hubless with only a URL and a token.
 */

/** The JupyterHub release whose API these routes follow (clients check it to pick features). */
export const JUPYTERHUB_API_VERSION = '5.5.1';

export type HubRoute = (deps: ApiDeps, request: ApiRequest) => Promise<HttpApiResult>;

/** The JupyterHub scopes a principal holds, expanded. */
export function hubScopesOf(principal: MachinePrincipal): HubScope[] {
  return principal.hubScopes ?? grantedHubScopes(principal.scopes);
}

export function hasHubScope(principal: MachinePrincipal, scope: HubScope): boolean {
  return hubScopesOf(principal).includes(scope);
}

export function requireHubScope(principal: MachinePrincipal, scope: HubScope): void {
  if (!hasHubScope(principal, scope)) throw new MissingHubScopeError(scope);
}

function serverPath(user: string, server: string): string {
  return server ? `/users/${user}/servers/${server}` : `/users/${user}/server`;
}

/** JupyterHub's Server model (apihandlers/base.py server_model). */
function hubServer(session: Session, origin: string) {
  const base = baseUrlFor(session.user, session.server);
  const progress = `/hub/api${serverPath(session.user, session.server)}/progress`;
  return {
    name: session.server,
    full_name: `${session.user}/${session.server}`,
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

function latest(times: Array<string | undefined>): string | null {
  return (
    times
      .filter((t): t is string => Boolean(t))
      .sort()
      .at(-1) ?? null
  );
}

/** The User fields each scope may read (JupyterHub's access_map in base.py user_model). */
const USER_FIELDS: Partial<Record<HubScope, readonly string[]>> = {
  'read:users': ['kind', 'name', 'admin', 'roles', 'groups', 'server', 'pending', 'created', 'last_activity'],
  'read:users:name': ['kind', 'name', 'admin'],
  'read:users:groups': ['kind', 'name', 'groups'],
  'read:users:activity': ['kind', 'name', 'last_activity'],
  'read:servers': ['kind', 'name', 'servers'],
};

/**
 * JupyterHub's User model (base.py user_model), cut to the fields the caller's scopes may
 * read. `sessions` are all the user's stored sessions, stopped ones included:
 * last_activity outlives a stop, as JupyterHub's does; `servers` lists the active ones
 * unless stopped servers were asked for.
 */
function hubUser(
  user: ManagedUser,
  sessions: Session[],
  origin: string,
  options: { scopes: readonly HubScope[]; withStopped: boolean },
) {
  const active = sessions.filter((s) => !isTerminal(s.state));
  const main = active.find((s) => s.server === '');
  const listed = options.withStopped ? sessions : active;
  const model: Record<string, unknown> = {
    kind: 'user' as const,
    name: user.name,
    admin: user.admin,
    roles: user.admin ? ['admin', 'user'] : ['user'],
    groups: user.groups,
    // On a pool of balancers the lab answers only at its route's host (labOrigin).
    server: main?.state === 'ready' ? `${labOrigin(main, '')}${baseUrlFor(user.name, '')}` : null,
    pending: main ? pendingOf(main) : null,
    created: user.createdAt,
    last_activity: latest(sessions.flatMap((s) => [s.lastActivity, s.userActivity])),
    servers: Object.fromEntries(listed.map((s) => [s.server, hubServer(s, origin)])),
  };
  const allowed = new Set(options.scopes.flatMap((scope) => USER_FIELDS[scope] ?? []));
  return Object.fromEntries(Object.entries(model).filter(([field]) => allowed.has(field)));
}

/**
 * The origin the client used, for the full URLs JupyterHub hands out (pagination's
 * next.url, full_url): the request's Host, as JupyterHub's request.full_url() does;
 * the configured public URL when there is none.
 */
function originOf(deps: ApiDeps, event: HttpApiEvent): string {
  const configured = new URL(deps.publicUrl);
  const host = header(event, 'host');
  if (!host) return configured.origin;
  const proto = (header(event, 'x-forwarded-proto') ?? configured.protocol.replace(':', '')).split(',')[0];
  return `${proto?.trim()}://${host}`;
}

/** JupyterHub's boolean query flags: present means true unless it says 0 or false. */
function flag(event: HttpApiEvent, name: string): boolean {
  const value = event.queryStringParameters?.[name];
  return value !== undefined && !['0', 'false'].includes(value.toLowerCase());
}

export const hubVersion: HubRoute = async () => jsonResult(200, { version: JUPYTERHUB_API_VERSION });

/** GET /user: who the token belongs to, with the scopes it carries (JupyterHub's RequestIdentity). */
export const hubWhoAmI: HubRoute = async (deps, { principal, event }) => {
  const scopes = hubScopesOf(principal);
  const credentials = { scopes, session_id: null, token_id: principal.tokenId ?? null };
  const owner = principal.owner ?? { kind: 'service' as const, name: principal.client };
  if (owner.kind === 'service')
    return jsonResult(200, { kind: 'service', name: owner.name, admin: false, roles: [], ...credentials });
  const user = await getUser(deps.core, owner.name);
  if (user.disabled) throw new ForbiddenError(`The user "${user.name}" is disabled.`, 'user_disabled');
  const sessions = await deps.core.store.listByUser(user.name);
  // Every token may read its owner's own model (JupyterHub adds the identify scopes here).
  const model = hubUser(user, sessions, originOf(deps, event), {
    scopes: [...scopes, 'read:users'],
    withStopped: false,
  });
  return jsonResult(200, { ...model, ...credentials });
};

const PAGE_DEFAULT_LIMIT = 50;
const PAGE_MAX_LIMIT = 200;
const PAGINATION_MEDIA_TYPE = 'application/jupyterhub-pagination+json';

/** JupyterHub's get_api_pagination: absolute values, limit clamped to 1..200. */
function pagination(event: HttpApiEvent, paged: boolean): { offset: number; limit: number } {
  const query = event.queryStringParameters ?? {};
  const parse = (value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!/^\s*[+-]?\d+\s*$/.test(value))
      throw new ValidationError('Invalid argument type, offset and limit must be integers.');
    return Math.abs(Number.parseInt(value, 10));
  };
  const offset = parse(query.offset, 0);
  const limit = Math.min(
    PAGE_MAX_LIMIT,
    Math.max(1, parse(query.limit, paged ? PAGE_DEFAULT_LIMIT : PAGE_MAX_LIMIT)),
  );
  return { offset, limit };
}

const SORTS = {
  id: (a: ManagedUser, b: ManagedUser) =>
    a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name),
  name: (a: ManagedUser, b: ManagedUser) => a.name.localeCompare(b.name),
} as const;

export const hubListUsers: HubRoute = async (deps, { principal, event }) => {
  requireHubScope(principal, 'list:users');
  const query = event.queryStringParameters ?? {};
  const paged = (header(event, 'accept') ?? '').includes(PAGINATION_MEDIA_TYPE);
  const { offset, limit } = pagination(event, paged);
  const state = query.state;
  if (state !== undefined && !['active', 'ready', 'inactive'].includes(state))
    throw new ValidationError(`Unrecognized state filter: '${state}'. Use active, ready or inactive.`);
  const sortParam = query.sort ?? 'id';
  const sortKey = sortParam.replace(/^-/, '');
  if (!['id', 'name', 'last_activity'].includes(sortKey))
    throw new ValidationError(`sort must be 'id', 'name', or 'last_activity', not '${sortParam}'.`);

  const withStopped = flag(event, 'include_stopped_servers');
  const origin = originOf(deps, event);
  let users = await listUsers(deps.core);
  if (query.name_filter) users = users.filter((u) => u.name.includes(query.name_filter!.toLowerCase()));
  // Like JupyterHub, state=ready pages over the users with an active server and keeps the
  // ready ones of each page: a server a culler is stopping keeps its user's place, so the
  // culler's later pages do not shift past users while it stops servers.
  let ready: Set<string> | undefined;
  if (state) {
    const sessions = await listServers(deps.core);
    const active = new Set(sessions.map((s) => s.user));
    users = users.filter((user) => active.has(user.name) === (state !== 'inactive'));
    if (state === 'ready') ready = new Set(sessions.filter((s) => s.state === 'ready').map((s) => s.user));
  }
  // Stopped sessions count too (last_activity outlives a stop): read each user's own.
  const history = (user: ManagedUser) => deps.core.store.listByUser(user.name);
  if (sortKey === 'last_activity') {
    const activity = new Map<string, string | null>();
    for (const user of users)
      activity.set(user.name, latest((await history(user)).map((s) => s.lastActivity)));
    users.sort((a, b) => (activity.get(a.name) ?? '').localeCompare(activity.get(b.name) ?? ''));
  } else users.sort(SORTS[sortKey as 'id' | 'name']);
  if (sortParam.startsWith('-')) users.reverse();

  const total = users.length;
  const scopes = hubScopesOf(principal);
  const page = [];
  for (const user of users.slice(offset, offset + limit))
    if (!ready || ready.has(user.name))
      page.push(hubUser(user, await history(user), origin, { scopes, withStopped }));
  if (!paged) return jsonResult(200, page);
  const nextOffset = offset + limit;
  let next = null;
  if (nextOffset < total) {
    // JupyterHub builds next.url from the full request URL, every parameter kept.
    const params = new URLSearchParams(query);
    params.set('offset', String(nextOffset));
    params.set('limit', String(limit));
    next = { offset: nextOffset, limit, url: `${origin}/hub/api/users?${params}` };
  }
  return jsonResult(200, { items: page, _pagination: { offset, limit, total, next } });
};

/** Any scope that reads part of a user lets GET /users/{name} answer with that part (JupyterHub's needs_scope). */
const READ_USER_SCOPES: readonly HubScope[] = [
  'read:users',
  'read:users:name',
  'read:servers',
  'read:users:groups',
  'read:users:activity',
];

export const hubGetUser: HubRoute = async (deps, { principal, params, event }) => {
  if (!READ_USER_SCOPES.some((scope) => hasHubScope(principal, scope)))
    throw new MissingHubScopeError('read:users');
  const user = await getUser(deps.core, params.user!);
  return jsonResult(
    200,
    hubUser(user, await deps.core.store.listByUser(user.name), originOf(deps, event), {
      scopes: hubScopesOf(principal),
      withStopped: flag(event, 'include_stopped_servers'),
    }),
  );
};

/** Warned once per caller: a culler with --cull-users asks every cycle. */
const warnedDeleters = new Set<string>();

/**
 * DELETE /users/{name}: refused. In JupyterHub a deleted user signs in again and is
 * recreated; in hubless users live in the Directory (Cognito) with their homes, and
 * removing them is an administrator's decision, not an idle timer's.
 */
export const hubDeleteUser: HubRoute = async (deps, { principal, params }) => {
  const who = principal.owner?.name ?? principal.client;
  if (!warnedDeleters.has(who)) {
    warnedDeleters.add(who);
    deps.core.log?.(
      'warn',
      'a JupyterHub client asked to delete a user; hubless does not (run the culler without --cull-users)',
      {
        client: who,
        user: params.user,
      },
    );
  }
  throw new ForbiddenError(
    'hubless does not delete users through the JupyterHub API: users and their homes live in the directory. Run jupyterhub-idle-culler without --cull-users; disable a user with DELETE /api/v1/users/{name} or `hubless users disable`.',
    'delete_users_unsupported',
  );
};

/** The spawner's user_options hubless understands. */
const userOptions = z.strictObject({ profile: z.string().min(1).optional() });

function parseUserOptions(event: HttpApiEvent, profiles: string[]): z.output<typeof userOptions> {
  const body = jsonBody(event);
  if (body === undefined || body === null) return {};
  const result = userOptions.safeParse(body);
  if (result.success) return result.data;
  const unknown = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' ? issue.keys : [],
  );
  if (unknown.length)
    throw new ValidationError(
      `Unknown user_options ${unknown.map((k) => `"${k}"`).join(', ')}: hubless understands only "profile" (one of ${profiles.join(', ')}).`,
      'invalid_user_options',
    );
  throw new ValidationError(
    'The body must be a JSON object of user_options, e.g. {"profile": "standard"}.',
    'invalid_user_options',
  );
}

/** POST /users/{name}/server and /users/{name}/servers/{server}: JupyterHub's status codes. */
export const hubStartServer: HubRoute = async (deps, { principal, params, event }) => {
  requireHubScope(principal, 'servers');
  const user = await getActiveUser(deps.core, params.user!);
  const server = params.server ?? '';
  const options = parseUserOptions(
    event,
    deps.core.settings.profiles.map((p) => p.name),
  );
  const label = server ? `${user.name}/${server}` : user.name;
  const current = await deps.core.store.get(user.name, server);
  if (current?.state === 'ready')
    throw new ValidationError(`${label}'s server is already running.`, 'already_running');
  if (current?.state === 'stopping')
    throw new ValidationError(`${label}'s server is pending stop.`, 'pending_stop');
  if (current && !isTerminal(current.state)) return emptyResult(202); // pending spawn
  const { session } = await startServer(deps.core, {
    user: user.name,
    server,
    profile: options.profile ?? user.profile,
    groups: user.groups,
  });
  // One step forward before answering (JupyterHub waits briefly too): a compute that is
  // already running (a local process) answers 201, Fargate's 30-60 s answer 202.
  const now =
    session.state === 'ready' || isTerminal(session.state)
      ? session
      : await getServer(deps.core, user.name, server);
  return emptyResult(now.state === 'ready' ? 201 : 202);
};

const removeBody = z.object({ remove: z.boolean().optional() }).passthrough();

/**
 * DELETE /users/{name}/server and /users/{name}/servers/{server}. Like JupyterHub: 204
 * once stopped (also when it was not running, so racing cullers see success), 202 while
 * stopping, 404 for a named server that never existed. `remove` is accepted: a stopped
 * named server no longer counts against the limit, and its record expires on its own.
 */
export const hubStopServer: HubRoute = async (deps, { principal, params, event }) => {
  requireHubScope(principal, 'delete:servers');
  await getUser(deps.core, params.user!);
  const server = params.server ?? '';
  const body = removeBody.safeParse(jsonBody(event) ?? {});
  if (!body.success) throw new ValidationError('The body must be a JSON object, e.g. {"remove": true}.');
  if (!server && body.data.remove) throw new ValidationError('Cannot delete the default server.');
  const session = await deps.core.store.get(params.user!, server);
  if (!session && server) throw new NotFoundError(`${params.user} has no server named '${server}'.`);
  if (!session || isTerminal(session.state)) return emptyResult(204);
  const stopped = await stopSession(deps.core, session, apiStopReason(principal, 'JupyterHub API'));
  return emptyResult(isTerminal(stopped.state) ? 204 : 202);
};

const timestamp = z.string().min(1);
const activityBody = z.object({
  last_activity: timestamp.optional(),
  servers: z.record(z.string(), z.object({ last_activity: timestamp })).optional(),
});

/** JupyterHub's _parse_timestamp: any ISO 8601 time, at most 59 minutes ahead. */
function parseActivityTime(value: string, now: Date): string {
  const time = Date.parse(value);
  if (!Number.isFinite(time) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    throw new ValidationError(`Not a valid timestamp: '${value}'.`);
  if (time - now.getTime() > 59 * 60_000)
    throw new ValidationError(`Rejecting activity from more than an hour in the future: ${value}.`);
  // A little ahead (clock skew) counts as now: a lab must not keep itself alive by its own clock.
  return new Date(Math.min(time, now.getTime())).toISOString();
}

/**
 * POST /users/{name}/activity: what a lab (or a proxy) saw. last_activity only moves
 * forward. A server's activity lands on its stored session, stopped or not (a lab's last
 * report often arrives just after its stop); a user-level time lands on the user's most
 * recent session, where it counts for the user but keeps no server alive.
 */
export const hubActivity: HubRoute = async (deps, { principal, params, event }) => {
  requireHubScope(principal, 'users:activity');
  await getUser(deps.core, params.user!);
  const raw = jsonBody(event);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError(
      'The body must be a JSON object: {"last_activity": …, "servers": {name: {"last_activity": …}}}.',
    );
  const parsed = activityBody.safeParse(raw);
  if (!parsed.success)
    throw new ValidationError(
      'servers must be a dict of the form {server_name: {last_activity: timestamp}}.',
    );
  const body = parsed.data;
  if (!body.last_activity && !Object.keys(body.servers ?? {}).length)
    throw new ValidationError('The body must contain at least one of `last_activity` or `servers`.');
  const now = deps.core.clock.now();
  const sessions = await deps.core.store.listByUser(params.user!);
  const updates: Array<[Session, Partial<Session>]> = [];
  for (const [name, { last_activity }] of Object.entries(body.servers ?? {})) {
    const session = sessions.find((s) => s.server === name);
    if (!session)
      throw new ValidationError(`No such server '${name}' for user ${params.user}.`, 'no_such_server');
    updates.push([session, { lastActivity: parseActivityTime(last_activity, now) }]);
  }
  if (body.last_activity) {
    const seen = parseActivityTime(body.last_activity, now);
    const recent = sessions.toSorted((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
    if (recent) updates.push([recent, { userActivity: seen }]);
  }
  for (const [session, patch] of updates) {
    const field = 'lastActivity' in patch ? 'lastActivity' : 'userActivity';
    const seen = patch[field]!;
    await mutate(deps.core, session, (current) =>
      current.id === session.id && (!current[field] || current[field]! < seen)
        ? { ...current, [field]: seen, updatedAt: now.toISOString() }
        : undefined,
    );
  }
  return emptyResult(200);
};

/**
 * GET .../progress as text/event-stream, like JupyterHub's SpawnProgressAPIHandler: a
 * ready server gets the ready event alone; a starting one its events so far, then each
 * new one, then ready (with the url) or failed; a failed start the failed event; a
 * stopped server a 400. A Lambda cannot stream for minutes, so the body is sent whole once
 * the start ends or the time budget runs out (EventSource clients then reconnect).
 */
export const hubProgress: HubRoute = async (deps, { principal, params }) => {
  requireHubScope(principal, 'read:servers');
  await getUser(deps.core, params.user!);
  const server = params.server ?? '';
  const label = server ? `${params.user}/${server}` : params.user!;
  const budget = deps.progressBudgetMs ?? 20_000;
  const pollMs = deps.progressPollMs ?? 1000;
  const started = Date.now();
  const lines: string[] = [];
  const send = (data: Record<string, unknown>) => lines.push(`data: ${JSON.stringify(data)}\n\n`);
  // A start that fails for good while we read (the deployment is full, the platform
  // refused) is recorded as failed: read that record and end the stream with it.
  const read = () =>
    getServer(deps.core, params.user!, server).catch(async (error) => {
      if (error instanceof NotFoundError) throw new NotFoundError(`${label} has no such server.`);
      const recorded = await deps.core.store.get(params.user!, server);
      if (error instanceof HublessError && recorded?.state === 'failed') return recorded;
      throw error;
    });
  let session = await read();
  if (session.state === 'stopped' || session.state === 'stopping')
    throw new ValidationError(`${label}'s server is not starting.`, 'not_starting');
  let sent = session.state === 'ready' || session.state === 'failed' ? session.events.length : 0;
  let lastAhead: number | undefined;
  for (;;) {
    for (const event of session.events.slice(sent))
      send({ progress: event.progress, message: event.message });
    sent = session.events.length;
    // While the launch waits in the queue, the place in it (when it changed) is the news.
    const ahead = await launchesAhead(deps.core, session);
    if (ahead !== undefined && ahead !== lastAhead)
      send({ progress: PROGRESS.pending, message: queueMessage(ahead) });
    lastAhead = ahead;
    if (session.state === 'ready') {
      const url = `${labOrigin(session, '')}${baseUrlFor(session.user, session.server)}`;
      send({
        progress: 100,
        ready: true,
        message: `Server ready at ${url}`,
        html_message: `Server ready at <a href="${url}">${url}</a>`,
        url,
      });
      break;
    }
    if (isTerminal(session.state) || session.state === 'stopping') {
      send({
        progress: 100,
        failed: true,
        message: `Spawn failed: ${session.reason?.message ?? 'the server stopped.'}`,
      });
      break;
    }
    if (Date.now() - started + pollMs > budget) break;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    session = await read();
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
    body: lines.join(''),
  };
};
