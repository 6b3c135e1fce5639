import type { ContentSource } from './content.ts';
import { InvalidStateError, ValidationError } from './errors.ts';
import type { SharedDataAccess } from './shared-data.ts';

/**
 * The session lifecycle (docs/architecture.md section 4):
 *   pending -> launching -> running -> ready -> stopping -> stopped, plus failed(reason).
 * `pending` is a recorded start whose launch is queued (LaunchQueue): the launcher
 * moves it to `launching` once the compute has accepted the task.
 * One item per (user, server) holds the current session; a new start replaces a
 * terminal one. Every write is conditional on `version` (see SessionStore).
 */
export const SESSION_STATES = [
  'pending',
  'launching',
  'running',
  'ready',
  'stopping',
  'stopped',
  'failed',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const TERMINAL_STATES: readonly SessionState[] = ['stopped', 'failed'];
/** States whose server is (or may be) consuming compute. */
export const ACTIVE_STATES: readonly SessionState[] = [
  'pending',
  'launching',
  'running',
  'ready',
  'stopping',
];

const NEXT: Record<SessionState, readonly SessionState[]> = {
  pending: ['launching', 'stopping', 'stopped', 'failed'],
  launching: ['running', 'stopping', 'stopped', 'failed'],
  running: ['ready', 'stopping', 'stopped', 'failed'],
  ready: ['stopping', 'stopped', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

export function isTerminal(state: SessionState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function canTransition(from: SessionState, to: SessionState): boolean {
  return NEXT[from].includes(to);
}

/** Where a running lab listens: a task's private IP and 8888 on AWS, 127.0.0.1 and a free port locally. */
export interface Target {
  host: string;
  port: number;
}

/** One step of start-up, shaped like JupyterHub's progress events. */
export interface ProgressEvent {
  progress: number;
  message: string;
  time: string;
}

/**
 * Why a session stopped or failed. `code` is stable for programs and metrics;
 * `message` is what the user reads on the portal.
 */
export type StopCode =
  | 'user'
  | 'admin'
  | 'idle'
  | 'max-age'
  | 'quota'
  | 'lost'
  | 'crashed'
  | 'spot-interruption'
  | 'capacity'
  | 'start-failed'
  | 'stuck';

export interface StopReason {
  code: StopCode;
  message: string;
  /**
   * Who asked, when someone did: "user:<name>", "service:<name>" (a /hub/api service
   * token) or "client:<id>" (a course platform). Absent for the control plane's own stops.
   */
  by?: string;
}

export interface Session {
  /** `<user>_<server>_<nonce>`: carries its own (user, server) so an event that names only the id finds the item. */
  id: string;
  user: string;
  /** '' is the default server. */
  server: string;
  profile: string;
  state: SessionState;
  /** Incremented by every write; writes are conditional on the version the writer read. */
  version: number;
  createdAt: string;
  updatedAt: string;
  launchedAt?: string;
  readyAt?: string;
  stoppedAt?: string;
  /** Opaque to core: a task ARN, a pid. */
  computeHandle?: string;
  target?: Target;
  /** Router-owned data (ALB slot, target group, rule), opaque to core. */
  route?: Record<string, string | number>;
  /**
   * `<iso time>#<nonce>` of the writer that won the right to add the route. Claimed with
   * a conditional write so two writers (task event, progress poll) never both allocate
   * an ALB slot; a claim older than a minute is treated as abandoned.
   */
  routeClaim?: string;
  home?: string;
  /**
   * How the lab mounts the shared data, decided from the user's groups when the start was
   * asked for (the launcher, later, knows only the session).
   */
  sharedData?: SharedDataAccess;
  /** The launch queue's ticket (LaunchQueue.enqueue), while pending: shows the user their place. */
  queueTicket?: number;
  reason?: StopReason;
  /** Path inside the lab to open once ready, e.g. "assignments/week3.ipynb". */
  openPath?: string;
  /** Course material the lab merges into the home when it starts (core/content.ts). */
  content?: ContentSource;
  lastActivity?: string;
  /**
   * The user's own activity reported without a server (JupyterHub's user-level
   * last_activity, e.g. from a service they used): shown as the user's, keeps no server alive.
   */
  userActivity?: string;
  /** Consecutive times the culler could not reach the lab. */
  probeMisses?: number;
  events: ProgressEvent[];
  /** Epoch seconds; DynamoDB TTL for terminal sessions. TTL deletes late, so readers filter too. */
  expiresAt?: number;
}

const SEPARATOR = '_';

export function newSessionId(user: string, server: string, nonce: string): string {
  return [user, server, nonce].join(SEPARATOR);
}

/** Usernames and server names never contain "_" (see username.ts), so the split is exact. */
export function parseSessionId(id: string): { user: string; server: string } {
  const parts = id.split(SEPARATOR);
  if (parts.length !== 3 || !parts[0] || !parts[2]) {
    throw new ValidationError(
      `"${id}" is not a hubless session id (expected <user>_<server>_<nonce>).`,
      'invalid_session_id',
    );
  }
  return { user: parts[0], server: parts[1] ?? '' };
}

/** The URL prefix of a lab: /user/alice/ for the default server, /user/alice/project/ for a named one. */
export function baseUrlFor(user: string, server: string): string {
  return server ? `/user/${user}/${server}/` : `/user/${user}/`;
}

/**
 * The origin a user reaches this session's lab at. A router that answers each route at a
 * host of its own (an ALB pool: a listener rule matches one balancer's host) records it as
 * `route.host`, and every URL handed out must carry it, or the request lands on another
 * balancer with no rule for it. Without one, `fallback` (the public URL, or '' for a
 * same-origin path).
 */
export function labOrigin(session: Pick<Session, 'route'>, fallback: string): string {
  const host = session.route?.host;
  return typeof host === 'string' && host ? `https://${host}` : fallback.replace(/\/+$/, '');
}

/** Progress percentages per state, so every writer reports the same numbers. */
export const PROGRESS: Record<SessionState, number> = {
  pending: 10,
  launching: 30,
  running: 70,
  ready: 100,
  stopping: 100,
  stopped: 100,
  failed: 100,
};

/**
 * The next version of a session after moving to `to`. Pure: the store's conditional
 * write decides whether it lands. Throws InvalidStateError for a move the lifecycle
 * does not allow, so a late event (say, RUNNING after the user pressed Stop) cannot
 * resurrect a session.
 */
export function transition(
  session: Session,
  to: SessionState,
  now: Date,
  patch: Partial<Omit<Session, 'id' | 'user' | 'server' | 'version' | 'state' | 'events'>> = {},
  message?: string,
): Session {
  if (!canTransition(session.state, to)) {
    throw new InvalidStateError(`A ${session.state} session cannot become ${to}.`);
  }
  const time = now.toISOString();
  const events = message ? [...session.events, { progress: PROGRESS[to], message, time }] : session.events;
  return { ...session, ...patch, state: to, events, updatedAt: time };
}

export function describeState(session: Session): string {
  switch (session.state) {
    case 'pending':
    case 'launching':
    case 'running':
      return 'starting';
    case 'ready':
      return 'running';
    case 'stopping':
      return 'stopping';
    case 'stopped':
      return session.reason ? `stopped: ${session.reason.message}` : 'stopped';
    case 'failed':
      return session.reason ? `failed: ${session.reason.message}` : 'failed';
  }
}
