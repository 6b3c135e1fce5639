import { currentAnnouncement, setAnnouncement } from '../../core/announcements.ts';
import { ForbiddenError, ValidationError } from '../../core/errors.ts';
import { ACTIVE_STATES, type StopReason } from '../../core/session.ts';
import { listServers } from '../../core/use-cases/list-servers.ts';
import { startServerFor } from '../../core/use-cases/start-server.ts';
import { stopGroupServers } from '../../core/use-cases/stop-group.ts';
import { stopServer } from '../../core/use-cases/stop-server.ts';
import {
  disableUser,
  enableUser,
  type Manager,
  putUser,
  resetUserPassword,
  searchUsers,
} from '../../core/use-cases/users.ts';
import { normaliseServerName, normaliseUsername } from '../../core/username.ts';
import { formFields, html, queryParam, redirect } from '../http.ts';
import type { AlbEvent, AlbResult } from '../http-types.ts';
import { type AdminPageData, adminPage } from './admin-views.ts';
import type { PortalDeps, PortalRequest, PortalRoute } from './context.ts';

/**
 * The admin page's routes. Every action calls the use case the API calls (users.ts,
 * start-server.ts, stop-server.ts), as an administrator (users.ts Manager); the portal
 * refuses non-administrators here and cross-site posts for every form (routes.ts).
 */

/** Users per page: a class of 1,000 is 20 pages, each page one directory listing and 50 session reads. */
export const USERS_PER_PAGE = 50;
/** Servers listed at most (the search narrows them). */
const SERVERS_SHOWN = 200;

function manager(request: PortalRequest): Manager {
  return { kind: 'administrator', name: request.user.name };
}

function adminReason(request: PortalRequest, message: string): StopReason {
  return { code: 'admin', message, by: `user:${request.user.name}` };
}

/** Where an action returns: the admin page it was sent from (never another site), with what it did. */
function back(form: Record<string, string>, done: Record<string, string>): AlbResult {
  const from = form.back?.startsWith('/admin?') || form.back === '/admin' ? form.back : '/admin';
  const url = new URL(from, 'http://portal');
  for (const [name, value] of Object.entries(done)) url.searchParams.set(name, value);
  return redirect(`${url.pathname}${url.search}`);
}

/** What the last action did, from the redirect's parameters; only these sentences, with the names escaped by the view. */
function noticeOf(event: AlbEvent): string | undefined {
  const who = queryParam(event, 'who') ?? '';
  const n = Number(queryParam(event, 'n') ?? '0');
  switch (queryParam(event, 'done')) {
    case 'disabled':
      return `${who} is disabled and can no longer sign in; their servers were stopped.`;
    case 'enabled':
      return `${who} can sign in again.`;
    case 'updated':
      return `${who} was saved.`;
    case 'invited':
      return `${who} was added; the directory e-mailed them an invitation to set a password.`;
    case 'started':
      return `A server is starting for ${who}; its progress shows below.`;
    case 'stopped':
      return `The server ${who} is stopping.`;
    case 'group':
      return `${n} server${n === 1 ? '' : 's'} of the group ${who} ${n === 1 ? 'was' : 'were'} asked to stop.`;
    case 'announced':
      return 'The announcement is set: every portal page shows it.';
    case 'cleared':
      return 'The announcement is cleared.';
    default:
      return undefined;
  }
}

async function render(
  deps: PortalDeps,
  request: PortalRequest,
  search: { query: string; page: number },
  extra: Pick<AdminPageData, 'notice' | 'secret'> = {},
): Promise<AlbResult> {
  const core = deps.core;
  const found = await searchUsers(core, { ...search, pageSize: USERS_PER_PAGE });
  const sessions = await Promise.all(found.users.map((u) => core.store.listByUser(u.name)));
  const servers = (await listServers(core, { states: [...ACTIVE_STATES, 'failed'] })).filter(
    (s) => !search.query || found.names.has(s.user),
  );
  const data: AdminPageData = {
    listing: {
      query: search.query,
      users: found.users.map((user, i) => ({
        user,
        sessions: (sessions[i] ?? []).sort((a, b) => a.server.localeCompare(b.server)),
      })),
      matching: found.matching,
      total: found.total,
      page: found.page,
      pages: found.pages,
      servers: servers.slice(0, SERVERS_SHOWN),
      serverCount: servers.length,
      groups: found.groups,
    },
    profiles: core.settings.profiles,
    policy: core.settings,
    now: core.clock.now(),
    announcement: await deps.announcements?.get(),
    ...extra,
  };
  return html(200, adminPage(request.user, data));
}

const show: PortalRoute = async (deps, request) => {
  const notice = noticeOf(request.event);
  return render(
    deps,
    request,
    { query: queryParam(request.event, 'q') ?? '', page: Number(queryParam(request.event, 'page') ?? '1') },
    notice ? { notice } : {},
  );
};

/** "a, b ,c" -> ['a', 'b', 'c']; empty parts dropped. */
function groupList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
}

const add: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const name = normaliseUsername(form.user ?? '');
  if (await deps.core.directory.get(name))
    throw new ValidationError(
      `There is already a user named "${name}". Find them with the search and use Edit, Reset password or Enable.`,
      'user_exists',
    );
  const { user } = await putUser(
    deps.core,
    {
      name,
      ...(form.email ? { email: form.email.trim() } : {}),
      groups: groupList(form.groups),
      ...(form.profile ? { profile: form.profile } : {}),
      admin: form.admin === 'yes',
    },
    manager(request),
  );
  if (user.signIn && 'initialPassword' in user.signIn)
    return render(
      deps,
      request,
      { query: user.name, page: 1 },
      {
        notice: `${user.name} was added.`,
        secret: { user: user.name, password: user.signIn.initialPassword },
      },
    );
  return back(form, { q: user.name, done: user.signIn ? 'invited' : 'updated', who: user.name });
};

const update: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const { user } = await putUser(
    deps.core,
    {
      name: normaliseUsername(form.user ?? ''),
      groups: groupList(form.groups),
      admin: form.admin === 'yes',
      // An empty choice keeps the default profile as it is (the directory cannot unset it).
      ...(form.profile ? { profile: form.profile } : {}),
    },
    manager(request),
  );
  return back(form, { done: 'updated', who: user.name });
};

const disable: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const user = await disableUser(deps.core, normaliseUsername(form.user ?? ''), manager(request));
  return back(form, { done: 'disabled', who: user.name });
};

const enable: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const user = await enableUser(deps.core, normaliseUsername(form.user ?? ''), manager(request));
  return back(form, { done: 'enabled', who: user.name });
};

const password: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const name = normaliseUsername(form.user ?? '');
  const secret = await resetUserPassword(deps.core, name, manager(request));
  return render(
    deps,
    request,
    { query: name, page: 1 },
    {
      notice: `The password of ${name} was reset; the old one no longer works.`,
      secret: { user: name, password: secret },
    },
  );
};

const start: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const { session } = await startServerFor(deps.core, {
    user: normaliseUsername(form.user ?? ''),
    server: normaliseServerName(form.server),
    ...(form.profile ? { profile: form.profile } : {}),
  });
  return back(form, { done: 'started', who: session.user });
};

const stop: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const server = normaliseServerName(form.server);
  const session = await stopServer(deps.core, {
    user: form.user ?? '',
    server,
    reason: adminReason(request, `Stopped by the administrator ${request.user.name}.`),
  });
  return back(form, { done: 'stopped', who: `${session.user}${server ? `/${server}` : ''}` });
};

const stopGroup: PortalRoute = async (deps, request) => {
  const form = formFields(request.event);
  const group = (form.group ?? '').trim();
  const result = await stopGroupServers(
    deps.core,
    group,
    adminReason(
      request,
      `Stopped by the administrator ${request.user.name}, with every server of the group ${group}.`,
    ),
  );
  return back(form, { done: 'group', who: group, n: String(result.stopped) });
};

const announce: PortalRoute = async (deps, request) => {
  const store = deps.announcements;
  if (!store) throw new ValidationError('This deployment keeps no announcements.', 'no_announcements');
  const form = formFields(request.event);
  if (form.action === 'clear') {
    await store.clear();
    return back(form, { done: 'cleared' });
  }
  // datetime-local sends "YYYY-MM-DDTHH:MM" without a zone; the form says it is UTC.
  const ends = form.ends?.trim();
  await setAnnouncement(
    store,
    {
      message: form.message ?? '',
      ...(ends ? { endsAt: /[zZ]|[+-]\d\d:\d\d$/.test(ends) ? ends : `${ends}Z` } : {}),
      by: `user:${request.user.name}`,
    },
    deps.core.clock.now(),
  );
  return back(form, { done: 'announced' });
};

const ROUTES: Record<string, PortalRoute> = {
  'GET /admin': show,
  'POST /admin/stop': stop,
  'POST /admin/users/add': add,
  'POST /admin/users/update': update,
  'POST /admin/users/disable': disable,
  'POST /admin/users/enable': enable,
  'POST /admin/users/password': password,
  'POST /admin/servers/start': start,
  'POST /admin/servers/stop-group': stopGroup,
  'POST /admin/announcement': announce,
};

/** The admin route for `key` ("METHOD /path"), refusing anyone but an administrator. */
export function adminRoute(key: string): PortalRoute | undefined {
  const route = ROUTES[key];
  if (!route) return undefined;
  return (deps, request) => {
    if (!request.user.admin) throw new ForbiddenError('Only administrators can use the admin page.');
    return route(deps, request);
  };
}

/** The announcement pages show now (none when the store cannot be read: a banner is not worth an error page). */
export async function announcementFor(deps: PortalDeps) {
  if (!deps.announcements) return undefined;
  try {
    return await currentAnnouncement(deps.announcements, deps.core.clock.now());
  } catch (error) {
    deps.core.log?.('warn', 'could not read the announcement', { error: String(error) });
    return undefined;
  }
}
