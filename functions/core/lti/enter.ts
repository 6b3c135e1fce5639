import type { CoreDeps } from '../deps.ts';
import { ForbiddenError } from '../errors.ts';
import { mutate } from '../lifecycle.ts';
import { isTerminal, type Session } from '../session.ts';
import { startServer } from '../use-cases/start-server.ts';
import type { LtiLaunch } from './launch.ts';

/**
 * What a verified LTI launch does: the user exists from then on (created on first launch,
 * keeping every group they had and adding the course's, and its admin group for an
 * instructor), and their server starts with the link's course material, opening the
 * link's path; a server that is already starting or running is pointed at that path.
 */
export async function enterFromLti(deps: CoreDeps, launch: LtiLaunch): Promise<Session> {
  const existing = await deps.directory.get(launch.user);
  if (existing?.disabled)
    throw new ForbiddenError(
      `The hubless account ${launch.user} is disabled. Ask your teacher or an administrator to enable it.`,
      'user_disabled',
    );
  const groups = [...new Set([...(existing?.groups ?? []), ...launch.groups])];
  const user = await deps.directory.upsert({
    name: launch.user,
    groups,
    ...(launch.email && !existing?.email ? { email: launch.email } : {}),
  });
  const { session, created } = await startServer(deps, {
    user: user.name,
    server: '',
    profile: user.profile,
    groups: user.groups,
    openPath: launch.path,
    content: launch.content,
  });
  if (created || isTerminal(session.state) || session.openPath === launch.path) return session;
  return mutate(deps, session, (current) =>
    current.id === session.id && !isTerminal(current.state) && current.openPath !== launch.path
      ? { ...current, openPath: launch.path, updatedAt: deps.clock.now().toISOString() }
      : undefined,
  );
}
