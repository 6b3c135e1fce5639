import { NAMED_SERVER_LIMIT } from '../config.ts';
import type { ContentSource } from '../content.ts';
import type { CoreDeps } from '../deps.ts';
import {
  ForbiddenError,
  HublessError,
  InvalidStateError,
  SessionConflictError,
  ValidationError,
} from '../errors.ts';
import { advance, finish, mutate } from '../lifecycle.ts';
import type { Profile } from '../ports.ts';
import { isTerminal, newSessionId, PROGRESS, type Session } from '../session.ts';
import { sharedDataAccess } from '../shared-data.ts';
import { getActiveUser } from './users.ts';

export interface StartRequest {
  user: string;
  server: string;
  /** Profile name; the first profile the user may use when absent. */
  profile?: string;
  /** The user's groups, to check profile access. */
  groups: string[];
  /** Path inside the lab to open when ready. */
  openPath?: string;
  /** Course material to merge into the home when the server starts. */
  content?: ContentSource;
}

export interface StartResult {
  session: Session;
  /** false when a session was already starting or running: start is idempotent. */
  created: boolean;
}

/** The profiles a member of `groups` may use: those open to everyone, and those of one of their groups. */
export function profilesFor(profiles: Profile[], groups: readonly string[]): Profile[] {
  return profiles.filter((p) => p.groups.length === 0 || p.groups.some((g) => groups.includes(g)));
}

/** Named servers per user when the deployment does not say (core/config.ts NAMED_SERVER_LIMIT). */
export const DEFAULT_NAMED_SERVER_LIMIT = NAMED_SERVER_LIMIT.default;

/**
 * A new named server must fit the per-user limit (JupyterHub's named_server_limit_per_user):
 * servers that are starting, running or stopping count; stopped ones do not.
 */
async function checkNamedServerLimit(deps: CoreDeps, user: string, server: string): Promise<void> {
  if (!server) return;
  const limit = deps.settings.namedServerLimit ?? DEFAULT_NAMED_SERVER_LIMIT;
  if (limit === 0)
    throw new ValidationError(
      'Named servers are not enabled on this deployment (HUBLESS_NAMED_SERVER_LIMIT is 0).',
      'named_servers_disabled',
    );
  const others = (await deps.store.listByUser(user)).filter(
    (s) => s.server && s.server !== server && !isTerminal(s.state),
  );
  if (others.length >= limit)
    throw new ValidationError(
      `${user} already has the maximum of ${limit} named servers (${others.map((s) => s.server).join(', ')}). Stop one before starting another.`,
      'named_server_limit',
    );
}

export function chooseProfile(profiles: Profile[], requested: string | undefined, groups: string[]): Profile {
  const allowed = profilesFor(profiles, groups);
  if (requested === undefined) {
    const first = allowed[0];
    if (!first)
      throw new ForbiddenError(
        'No server profile is available to you. Ask an administrator to add you to a group.',
      );
    return first;
  }
  const profile = profiles.find((p) => p.name === requested);
  if (!profile) {
    throw new ValidationError(
      `Unknown profile "${requested}". Available profiles: ${profiles.map((p) => p.name).join(', ')}.`,
      'unknown_profile',
    );
  }
  if (!allowed.includes(profile)) {
    throw new ForbiddenError(
      `The profile "${requested}" is limited to the groups ${profile.groups.join(', ')}.`,
    );
  }
  return profile;
}

/**
 * Starts (user, server), or returns the session that is already starting or running.
 * Records the session (`pending`), hands its launch to the launch queue and returns:
 * it never waits for AWS (access point, task definition, RunTask, each with throttling
 * retries), so a class starting at once gets its answers in milliseconds, and the
 * launcher (launch-session.ts) starts the tasks at the pace Fargate allows. Progress
 * continues through task events and polling (lifecycle.advance).
 */
export async function startServer(deps: CoreDeps, request: StartRequest): Promise<StartResult> {
  let existing = await deps.store.get(request.user, request.server);
  if (existing?.state === 'stopping') {
    // Start after Stop: if the old server is gone by now, start a new one; otherwise say so
    // rather than hand back a session that is about to end.
    existing = await advance(deps, existing);
    if (existing.state === 'stopping') {
      throw new InvalidStateError('Your previous server is still stopping. Try again in a few seconds.');
    }
  }
  if (existing && !isTerminal(existing.state)) return { session: existing, created: false };
  await checkNamedServerLimit(deps, request.user, request.server);

  const profile = chooseProfile(deps.settings.profiles, request.profile, request.groups);
  const now = deps.clock.now().toISOString();
  const draft: Session = {
    id: newSessionId(request.user, request.server, deps.randomId(9)),
    user: request.user,
    server: request.server,
    profile: profile.name,
    state: 'pending',
    version: 1,
    createdAt: now,
    updatedAt: now,
    openPath: request.openPath,
    ...(request.content ? { content: request.content } : {}),
    sharedData: sharedDataAccess(request.groups),
    events: [{ progress: PROGRESS.pending, message: 'Server requested', time: now }],
  };

  let session: Session;
  try {
    // The store's create condition (no session, or only a finished one) is what makes
    // N concurrent starts produce exactly one session: every loser gets the winner back.
    session = await deps.store.create(draft);
  } catch (error) {
    if (
      error instanceof SessionConflictError &&
      error.current &&
      !isTerminal((error.current as Session).state)
    ) {
      return { session: error.current as Session, created: false };
    }
    throw error;
  }
  await deps.events.publish({
    type: 'start',
    time: now,
    user: session.user,
    server: session.server,
    sessionId: session.id,
  });
  return { session: await enqueueLaunch(deps, session), created: true };
}

/**
 * Starts a server for a user by name, as the API and the admin page do: the user must
 * exist and be enabled, and the server starts with their groups and (unless the request
 * names one) their default profile.
 */
export async function startServerFor(
  deps: CoreDeps,
  request: Omit<StartRequest, 'groups'>,
): Promise<StartResult> {
  const user = await getActiveUser(deps, request.user);
  return startServer(deps, {
    ...request,
    user: user.name,
    profile: request.profile ?? user.profile,
    groups: user.groups,
  });
}

/**
 * Hands the launch to the queue and records the ticket (the user's place in the queue).
 * A queue that refuses leaves nobody to launch the session: it fails now, with a reason,
 * rather than waiting for the reconciler's start timeout.
 */
async function enqueueLaunch(deps: CoreDeps, session: Session): Promise<Session> {
  let ticket: number | undefined;
  try {
    ticket = await deps.launches.enqueue(session.id);
  } catch (error) {
    const exposed = error instanceof HublessError && error.expose;
    deps.log?.('error', 'could not queue the launch', { sessionId: session.id, error: String(error) });
    await finish(deps, session, {
      code: exposed && error.code === 'capacity' ? 'capacity' : 'start-failed',
      reason: exposed
        ? error.message
        : 'The server could not be started because of an internal error. Try again; if it keeps failing, tell your administrator.',
    });
    throw error;
  }
  if (ticket === undefined) {
    // The launch ran inside enqueue: answer with what it recorded.
    return (await deps.store.get(session.user, session.server)) ?? session;
  }
  // The launcher may have taken it already: then the ticket no longer matters.
  return mutate(deps, session, (current) =>
    current.id === session.id && current.state === 'pending' && current.queueTicket === undefined
      ? { ...current, queueTicket: ticket, updatedAt: deps.clock.now().toISOString() }
      : undefined,
  );
}
