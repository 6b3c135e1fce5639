import type { CoreDeps } from '../deps.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { NewUser, User } from '../ports.ts';
import { listServers } from './list-servers.ts';
import { stopSession } from './stop-server.ts';

/**
 * Users as a course platform (the API) or an administrator (the admin page) manages them:
 * create or update (idempotent), read, list, disable and enable, reset a password. The
 * Directory is the source of truth; these add the rules around it.
 */

/** A Directory user; `profile` is the default server profile a platform may set. */
export type ManagedUser = User;
type ManagedNewUser = NewUser;

export interface PutUserInput {
  name: string;
  email?: string;
  groups?: string[];
  profile?: string;
  /** Only an administrator may set it (see Manager). */
  admin?: boolean;
}

/**
 * Who manages users. A course platform (`users:write`) provisions students and staff and
 * may not touch admin accounts (see refuseAdmin). An administrator (the admin page) may
 * manage any account, but not lock themselves out: they cannot disable their own
 * account or take their own admin flag away (another administrator can).
 */
export type Manager = { kind: 'platform' } | { kind: 'administrator'; name: string };

const PLATFORM: Manager = { kind: 'platform' };

export async function getUser(deps: CoreDeps, name: string): Promise<ManagedUser> {
  const user = await deps.directory.get(name);
  if (!user)
    throw new NotFoundError(
      `There is no user named "${name}". Create it first with PUT /api/v1/users/${name}.`,
      'unknown_user',
    );
  return user;
}

/** The user, refusing a disabled one: starts and launch links are for users who may sign in. */
export async function getActiveUser(deps: CoreDeps, name: string): Promise<ManagedUser> {
  const user = await getUser(deps, name);
  if (user.disabled)
    throw new ForbiddenError(
      `The user "${name}" is disabled. An administrator must enable it again before it can start servers.`,
      'user_disabled',
    );
  return user;
}

export async function listUsers(deps: CoreDeps): Promise<ManagedUser[]> {
  return (await deps.directory.list()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Creates the user or updates the fields given (absent fields keep their value).
 * Idempotent: the same request twice leaves the same user. `created` says which.
 * Never grants admin: a course platform provisions students and staff, not operators.
 */
export async function putUser(
  deps: CoreDeps,
  input: PutUserInput,
  manager: Manager = PLATFORM,
): Promise<{ user: ManagedUser; created: boolean }> {
  if (input.profile !== undefined && !deps.settings.profiles.some((p) => p.name === input.profile)) {
    throw new ValidationError(
      `Unknown profile "${input.profile}". Available profiles: ${deps.settings.profiles.map((p) => p.name).join(', ')}.`,
      'unknown_profile',
    );
  }
  const before = await deps.directory.get(input.name);
  if (manager.kind === 'platform') {
    if (before) refuseAdmin(before, 'change');
    if (input.admin)
      throw new ForbiddenError(
        'A course platform may not make administrators. An administrator does that on the admin page.',
        'admin_account',
      );
  } else if (input.admin === false && before?.admin && isSelf(manager, before.name)) {
    throw new ForbiddenError(
      'You cannot take away your own administrator rights (you would lock yourself out). Ask another administrator.',
      'own_account',
    );
  }
  const request: ManagedNewUser = { name: input.name };
  if (input.admin !== undefined && manager.kind === 'administrator') request.admin = input.admin;
  if (input.email !== undefined) request.email = input.email;
  if (input.groups !== undefined) request.groups = [...new Set(input.groups)].sort();
  if (input.profile !== undefined) request.profile = input.profile;
  const user: ManagedUser = await deps.directory.upsert(request);
  return { user, created: !before };
}

/**
 * Disables sign-in (the home stays) and stops the user's servers: in AWS the ALB's
 * session cookie stays valid for hours, so a running lab would otherwise stay reachable.
 * Idempotent; NotFoundError for an unknown user.
 */
export async function disableUser(
  deps: CoreDeps,
  name: string,
  manager: Manager = PLATFORM,
): Promise<ManagedUser> {
  const user = await getUser(deps, name);
  if (manager.kind === 'platform') refuseAdmin(user, 'disable');
  else if (isSelf(manager, user.name))
    throw new ForbiddenError(
      'You cannot disable your own account (you would lock yourself out). Ask another administrator.',
      'own_account',
    );
  await deps.directory.disable(name);
  for (const session of await listServers(deps, { user: name })) {
    await stopSession(deps, session, { code: 'admin', message: 'The account was disabled.' });
  }
  return getUser(deps, name);
}

/** Lets a disabled user sign in again (their home and settings were kept). Idempotent. */
export async function enableUser(
  deps: CoreDeps,
  name: string,
  manager: Manager = PLATFORM,
): Promise<ManagedUser> {
  const user = await getUser(deps, name);
  if (manager.kind === 'platform') refuseAdmin(user, 'change');
  await deps.directory.enable(user.name);
  return getUser(deps, user.name);
}

/**
 * Gives the user a new generated password and returns it, this once, for the manager to
 * hand over (Directory.resetPassword). The old password stops working at once.
 */
export async function resetUserPassword(
  deps: CoreDeps,
  name: string,
  manager: Manager = PLATFORM,
): Promise<string> {
  const user = await getUser(deps, name);
  if (manager.kind === 'platform') refuseAdmin(user, 'change');
  return deps.directory.resetPassword(user.name);
}

export interface UserSearch {
  /** Part of a name, e-mail or group, any case; '' for everyone. */
  query: string;
  /** 1-based; past the last page gives the last page. */
  page: number;
  pageSize: number;
}

export interface UserSearchResult {
  users: ManagedUser[];
  /** Users matching the query, and users in all. */
  matching: number;
  total: number;
  page: number;
  pages: number;
  /** The names of every matching user (not only this page's), to filter their servers. */
  names: Set<string>;
  /** Every group any user is in, sorted. */
  groups: string[];
}

/**
 * One page of the users whose name, e-mail or a group contains the query (the admin page's
 * search). One directory listing per call: Cognito has no substring search on usernames,
 * and a class of 1,000 is 17 ListUsers pages.
 */
export async function searchUsers(deps: CoreDeps, search: UserSearch): Promise<UserSearchResult> {
  const all = await listUsers(deps);
  const needle = search.query.trim().toLowerCase();
  const matches = needle
    ? all.filter(
        (u) =>
          u.name.includes(needle) ||
          (u.email ?? '').toLowerCase().includes(needle) ||
          u.groups.some((g) => g.toLowerCase().includes(needle)),
      )
    : all;
  const pages = Math.max(1, Math.ceil(matches.length / search.pageSize));
  const page = Math.min(Math.max(1, Math.floor(search.page) || 1), pages);
  return {
    users: matches.slice((page - 1) * search.pageSize, page * search.pageSize),
    matching: matches.length,
    total: all.length,
    page,
    pages,
    names: new Set(matches.map((u) => u.name)),
    groups: [...new Set(all.flatMap((u) => u.groups))].sort(),
  };
}

/** The names of the members of `group`. */
export async function membersOf(deps: CoreDeps, group: string): Promise<Set<string>> {
  return new Set((await listUsers(deps)).filter((u) => u.groups.includes(group)).map((u) => u.name));
}

function isSelf(manager: Manager, name: string): boolean {
  return manager.kind === 'administrator' && manager.name === name;
}

/**
 * Admin accounts are outside a course platform's reach: `users:write` provisions
 * students and staff, and must not let a leaked LMS credential lock the operators out
 * (disable) or take over their accounts (change e-mail or groups). Admins are managed
 * where they are made: `hubless users` locally, Cognito's console in AWS.
 */
function refuseAdmin(user: ManagedUser, action: 'change' | 'disable'): void {
  if (!user.admin) return;
  throw new ForbiddenError(
    `"${user.name}" is an admin account; the API may not ${action} it (users:write covers students and staff only). Manage admins with \`hubless users\` (local mode) or the Cognito console.`,
    'admin_account',
  );
}
