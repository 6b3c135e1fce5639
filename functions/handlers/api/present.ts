import type { ServerResponse, UserResponse } from '../../core/api/schemas.ts';
import type { LifecycleEvent } from '../../core/ports.ts';
import { baseUrlFor, labOrigin, type Session } from '../../core/session.ts';
import { queueMessage } from '../../core/use-cases/queue-place.ts';
import type { ManagedUser } from '../../core/use-cases/users.ts';

/** Domain objects as /api/v1 shows them (snake_case, explicit nulls, never a lab token or route). */

export function userView(user: ManagedUser): UserResponse {
  return {
    name: user.name,
    email: user.email ?? null,
    groups: user.groups,
    profile: user.profile ?? null,
    admin: user.admin,
    disabled: user.disabled,
    created: user.createdAt,
    ...(user.signIn
      ? {
          sign_in:
            'initialPassword' in user.signIn
              ? { initial_password: user.signIn.initialPassword }
              : { invited: true as const },
        }
      : {}),
  };
}

/** JupyterHub's `pending`: a transition is under way. */
export function pendingOf(session: Session): 'spawn' | 'stop' | null {
  switch (session.state) {
    case 'pending':
    case 'launching':
    case 'running':
      return 'spawn';
    case 'stopping':
      return 'stop';
    default:
      return null;
  }
}

/** `ahead`: launches queued before this one (launchesAhead), shown as the message while it waits. */
export function serverView(session: Session, publicUrl: string, ahead?: number): ServerResponse {
  const last = session.events.at(-1);
  return {
    user: session.user,
    server: session.server,
    state: session.state,
    ready: session.state === 'ready',
    pending: pendingOf(session),
    profile: session.profile,
    url: `${labOrigin(session, publicUrl)}${baseUrlFor(session.user, session.server)}`,
    progress: last?.progress ?? 0,
    message:
      session.state === 'failed'
        ? (session.reason?.message ?? 'The server failed.')
        : ahead
          ? queueMessage(ahead)
          : (last?.message ?? ''),
    events: session.events.map(({ progress, message, time }) => ({ progress, message, time })),
    started: session.createdAt,
    ready_at: session.readyAt ?? null,
    stopped_at: session.stoppedAt ?? null,
    last_activity: session.lastActivity ?? null,
    reason: session.reason
      ? { code: session.reason.code, message: session.reason.message, by: session.reason.by ?? null }
      : null,
  };
}

export function eventView(event: LifecycleEvent) {
  return {
    type: event.type,
    time: event.time,
    user: event.user,
    server: event.server,
    session_id: event.sessionId,
    reason: event.reason ?? null,
    duration_seconds: event.durationSeconds ?? null,
  };
}
