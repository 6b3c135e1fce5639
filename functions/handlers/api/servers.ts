import { paginate } from '../../core/api/pagination.ts';
import type { ListServersQuery, StartServerBody } from '../../core/api/schemas.ts';
import { apiStopReason } from '../../core/api/stop-reasons.ts';
import { contentFrom } from '../../core/content.ts';
import { isTerminal, SESSION_STATES, type SessionState } from '../../core/session.ts';
import { findServer, getServer } from '../../core/use-cases/get-server.ts';
import { listServers } from '../../core/use-cases/list-servers.ts';
import { launchesAhead } from '../../core/use-cases/queue-place.ts';
import { startServerFor } from '../../core/use-cases/start-server.ts';
import { stopSession } from '../../core/use-cases/stop-server.ts';
import { getUser, membersOf } from '../../core/use-cases/users.ts';
import { normaliseUsername } from '../../core/username.ts';
import type { ApiHandlerFn } from './context.ts';
import { emptyResult, jsonResult } from './http.ts';
import { serverView } from './present.ts';

/**
 * /api/v1/users/{user}/server, .../servers/{server} (named servers) and /api/v1/servers:
 * start, watch, stop, list. `params.server` is absent for the default server.
 */

function serverPath(user: string, server: string): string {
  return server ? `/api/v1/users/${user}/servers/${server}` : `/api/v1/users/${user}/server`;
}

export const startServerRoute: ApiHandlerFn = async (deps, { params, body }) => {
  const request = (body ?? {}) as StartServerBody;
  const { session } = await startServerFor(deps.core, {
    user: params.user!,
    server: params.server ?? '',
    profile: request.profile,
    openPath: request.path,
    content: contentFrom(request),
  });
  const location = { location: serverPath(session.user, session.server) };
  return jsonResult(session.state === 'ready' ? 200 : 202, serverView(session, deps.publicUrl), location);
};

export const getServerRoute: ApiHandlerFn = async (deps, { params }) => {
  await getUser(deps.core, params.user!);
  const session = await getServer(deps.core, params.user!, params.server ?? '');
  return jsonResult(200, serverView(session, deps.publicUrl, await launchesAhead(deps.core, session)));
};

export const stopServerRoute: ApiHandlerFn = async (deps, { params, principal }) => {
  await getUser(deps.core, params.user!);
  const session = await findServer(deps.core, params.user!, params.server ?? '');
  if (!session || isTerminal(session.state)) return emptyResult(204);
  const stopped = await stopSession(deps.core, session, apiStopReason(principal, 'course platform'));
  return isTerminal(stopped.state) ? emptyResult(204) : jsonResult(202, serverView(stopped, deps.publicUrl));
};

export const listServersRoute: ApiHandlerFn = async (deps, { query }) => {
  const { state, user, group, limit, cursor } = query as ListServersQuery;
  const states: readonly SessionState[] | undefined =
    state === 'all' ? SESSION_STATES : state === 'active' ? undefined : [state];
  let sessions = await listServers(deps.core, {
    user: user === undefined ? undefined : normaliseUsername(user),
    states,
  });
  if (group !== undefined) {
    const members = await membersOf(deps.core, group);
    sessions = sessions.filter((s) => members.has(s.user));
  }
  const page = paginate(sessions, (s) => `${s.user}\u0000${s.server}`, { limit, cursor });
  return jsonResult(200, {
    items: page.items.map((s) => serverView(s, deps.publicUrl)),
    next_cursor: page.nextCursor ?? null,
  });
};
