import type { Session, SessionState, StopCode, Target } from './session.ts';
import type { SharedDataAccess } from './shared-data.ts';

/**
 * Ports: what core needs from the outside world, with the contract every adapter keeps.
 * Modelled on JupyterHub's Spawner / Proxy / Authenticator: few required methods,
 * conveniences and reconciliation live in core. Each port has one contract suite in
 * test/contract/ that runs against every adapter (fake, local, AWS over a mocked SDK).
 */

/** A compute size and image users can choose (Zero to JupyterHub's "profiles"). */
export interface Profile {
  name: string;
  description: string;
  cpu: number; // vCPU units as ECS counts them: 256 = 0.25 vCPU
  memory: number; // MiB
  image?: string;
  spot: boolean;
  /** Empty: everyone may use it. Otherwise the user must be in one of these groups. */
  groups: string[];
}

export interface LaunchSpec {
  sessionId: string;
  user: string;
  server: string;
  profile: Profile;
  /** What Homes.ensure returned: an EFS access point id, or a directory. */
  home: string;
  /** "/user/<key>/" (or "/user/<key>/<server>/"): the lab serves everything under it. */
  baseUrl: string;
  /** Extra environment for the lab (owner, identity verification settings, idle settings). */
  env: Record<string, string>;
  /** How the lab mounts the shared data, where the deployment has it (core/shared-data.ts). */
  sharedData?: SharedDataAccess;
}

/**
 * What poll reports. `pending` covers everything before the lab listens, including
 * "the platform does not know this handle yet" (ECS DescribeTasks is eventually
 * consistent right after RunTask). `exited` is final.
 */
export type ComputeStatus =
  | { state: 'pending'; message?: string }
  | { state: 'running'; target: Target }
  | { state: 'exited'; code: StopCode; reason: string; exitCode?: number };

export interface ComputeTask {
  handle: string;
  sessionId: string;
  /** Whether the task is still alive (not yet exited). */
  alive: boolean;
}

export interface Compute {
  /**
   * Asks for a server and returns its handle at once; never waits for it to run.
   * Throws SpawnError (with the platform's reason) when the request is refused,
   * CapacityError when the platform has no room, ThrottledError after retries.
   */
  start(spec: LaunchSpec): Promise<string>;
  /** The current status of a handle returned by start. Never throws for an unknown handle: that is `exited` with code 'lost' once the platform has had time to know it, else `pending`. */
  poll(handle: string): Promise<ComputeStatus>;
  /** Asks the server to stop. Idempotent: stopping an exited or unknown handle succeeds. */
  stop(handle: string, reason: string): Promise<void>;
  /** Every task this deployment started that the platform still knows, for reconciliation. */
  list(): Promise<ComputeTask[]>;
}

/** Router-owned data about one route; stored on the session as it is. */
/** Router-owned data, opaque to core except `host`: the host name the route answers at, when it has one of its own (see labOrigin). */
export type RouteRecord = Record<string, string | number>;

export interface RouteEntry {
  sessionId: string;
  route: RouteRecord;
}

export interface Router {
  /**
   * Makes `target` reachable at the session's base URL for its owner. Idempotent: a
   * second call for the same session returns the same route. Throws CapacityError,
   * with how many sessions the pool holds and how to raise it, when no slot is free.
   * A failure part-way undoes what it did (no orphan slot, target group or rule).
   */
  addRoute(session: Session, target: Target): Promise<RouteRecord>;
  /** True once a request through the route reaches the lab (ALB: the target is healthy). */
  isRouteReady(session: Session): Promise<boolean>;
  /**
   * Removes the route of session `sessionId` and frees its slot. `route` is what
   * addRoute returned, when the session still has it; without it the router finds what
   * is left from the session id alone. Never removes a route of another session (a newer
   * session of the same user and server may hold the same path). Idempotent.
   */
  deleteRoute(sessionId: string, route?: RouteRecord): Promise<void>;
  /** Every route this deployment owns, for reconciliation. */
  listRoutes(): Promise<RouteEntry[]>;
}

/**
 * Where a start leaves the launch of its session (docs/architecture.md section 4): the
 * start request records the session (`pending`) and answers at once; a launcher takes
 * it from here at the pace the platform allows (SQS and the launcher Lambda in AWS,
 * an in-process queue locally). Delivery is at least once: a launch may arrive twice,
 * late, or for a session stopped meanwhile, and launching is idempotent by session
 * (core/use-cases/launch-session.ts).
 */
export interface LaunchQueue {
  /**
   * Queues the launch of session `sessionId` and returns once it is queued (durably, in
   * AWS). Returns the session's ticket, its place in the order of arrival, to pass to
   * `ahead`; undefined when the queue does not count (a launch run inside the request).
   */
  enqueue(sessionId: string): Promise<number | undefined>;
  /**
   * How many launches queued before `ticket` have not had their turn yet: approximate
   * (a duplicate delivery counts twice), never negative, one cheap read.
   */
  ahead(ticket: number): Promise<number>;
  /**
   * A launcher in another process (the launcher Lambda) took `count` launches off the
   * queue for the first time, so `ahead` counts them out. A queue that launches in this
   * process counts on its own and ignores it.
   */
  taken(count: number): Promise<void>;
}

export interface Homes {
  /**
   * Creates the user's private home if needed and returns its reference. Idempotent.
   * `known` is the reference an earlier session of the user recorded: an adapter may check
   * it instead of searching (EFS: one describe instead of paging through every access point).
   */
  ensure(user: string, known?: string): Promise<string>;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

export interface SessionStore {
  /** The current session of (user, server), or undefined. Expired items are treated as absent. */
  get(user: string, server: string): Promise<Session | undefined>;
  /**
   * Writes a brand-new session (version 1) for (user, server). Succeeds only when there
   * is no session or the existing one is terminal: N concurrent starts make one session.
   * Otherwise throws SessionConflictError carrying the existing session.
   */
  create(session: Session): Promise<Session>;
  /**
   * Writes `next` as version `expectedVersion + 1`, only if the stored item still has
   * `expectedVersion` and the same id. Otherwise throws SessionConflictError carrying
   * the stored session (or undefined when it is gone). Returns what was written.
   */
  update(next: Session, expectedVersion: number): Promise<Session>;
  /** Sessions in one state, oldest update first, read from the state index (no scan). */
  listByState(state: SessionState, page?: { limit?: number; cursor?: string }): Promise<Page<Session>>;
  /** All current sessions of one user. */
  listByUser(user: string): Promise<Session[]>;
}

export interface User {
  name: string;
  email?: string;
  groups: string[];
  admin: boolean;
  disabled: boolean;
  createdAt: string;
  /** The profile this user's servers start with when a start names none. */
  profile?: string;
  /** Set when the user signs in through a school's identity provider (core/federation.ts). */
  viaIdentityProvider?: true;
  /**
   * How a user just created will first sign in, set only in the answer of the upsert that
   * created them: `invited` (the directory e-mailed an invitation), or `initialPassword`
   * (a password the directory set, shown this once: hand it to the user; it is never
   * stored in the clear nor returned again).
   */
  signIn?: { invited: true } | { initialPassword: string };
}

export interface NewUser {
  name: string;
  email?: string;
  groups?: string[];
  admin?: boolean;
  profile?: string;
  /** Local mode only: the initial password (hashed with scrypt before it is stored). */
  password?: string;
}

export interface Directory {
  get(name: string): Promise<User | undefined>;
  list(): Promise<User[]>;
  /**
   * Creates the user, or updates email, groups and admin of an existing one. Idempotent.
   * A user it creates can sign in: the answer's `signIn` says how (see User).
   */
  upsert(user: NewUser): Promise<User>;
  /** Disables sign-in. The user's home is kept. Idempotent. Throws NotFoundError for an unknown user. */
  disable(name: string): Promise<void>;
  /** Lets a disabled user sign in again. Idempotent. Throws NotFoundError for an unknown user. */
  enable(name: string): Promise<void>;
  /**
   * Replaces the user's password with a generated one and returns it, this once (an
   * administrator hands it over; it is never stored in the clear nor returned again).
   * Throws NotFoundError for an unknown user.
   */
  resetPassword(name: string): Promise<string>;
}

export interface KernelActivity {
  id: string;
  executionState: string;
  lastActivity?: string;
  connections?: number;
}

export interface LabActivity {
  /** From /api/status: the latest activity the server itself saw. */
  lastActivity?: string;
  connections: number;
  kernels: KernelActivity[];
  terminals: number;
  /** The latest terminal activity (jupyter reports it per terminal in /api/terminals), when there are terminals. */
  terminalLastActivity?: string;
}

export interface ActivityProbe {
  /** Reads the lab's /api/status and /api/kernels. Throws when the lab does not answer. */
  probe(session: Session): Promise<LabActivity>;
}

export type LifecycleEventType = 'start' | 'ready' | 'stop' | 'cull' | 'fail';

export interface LifecycleEvent {
  type: LifecycleEventType;
  time: string;
  user: string;
  server: string;
  sessionId: string;
  reason?: string;
  /** For ready: seconds from request to ready. For stop: seconds the session lived. */
  durationSeconds?: number;
}

export interface EventSink {
  publish(event: LifecycleEvent): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
