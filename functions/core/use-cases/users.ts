import type { CoreDeps } from '../deps.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { NewUser, User } from '../ports.ts';
import { listServers } from './list-servers.ts';
import { stopSession } from './stop-server.ts';

/**
 * Users as a course platform manages them: create or update (idempotent), read, list,
 * disable. The Directory is the source of truth; these add the rules around it.
 */

/** A Directory user; `profile` is the default server profile a platform may set. */
export type ManagedUser = User;
type ManagedNewUser = NewUser;

export interface PutUserInput {
  name: string;
  email?: string;
  groups?: string[];
  profile?: string;
}

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
): Promise<{ user: ManagedUser; created: boolean }> {
  if (input.profile !== undefined && !deps.settings.profiles.some((p) => p.name === input.profile)) {
    throw new ValidationError(
      `Unknown profile "${input.profile}". Available profiles: ${deps.settings.profiles.map((p) => p.name).join(', ')}.`,
      'unknown_profile',
    );
  }
  const before = await deps.directory.get(input.name);
  if (before) refuseAdmin(before, 'change');
  const request: ManagedNewUser = { name: input.name };
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
export async function disableUser(deps: CoreDeps, name: string): Promise<ManagedUser> {
  refuseAdmin(await getUser(deps, name), 'disable');
  await deps.directory.disable(name);
  for (const session of await listServers(deps, { user: name })) {
    await stopSession(deps, session, { code: 'admin', message: 'The account was disabled.' });
  }
  return getUser(deps, name);
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
