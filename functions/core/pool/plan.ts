/**
 * How many load balancers the pool needs, and which step comes next. Pure: the pool
 * manager (the reconciler that runs the steps) passes what it read, so every edge case
 * is a unit test.
 *
 * The pool keeps its base balancers (the ones the deploy made; one at rest) and adds
 * extra ones ahead of need:
 * - when the sessions in use pass `growAt` (70%) of the slots of the balancers that take
 *   new sessions (active, or still provisioning: those count, so a slow balancer is not
 *   asked for twice);
 * - when a course platform has announced a class (POST /api/v1/capacity): from `leadMs`
 *   before its start until `holdMs` after it, the pool holds room for every announced
 *   student on top of the sessions already running, so no student of the class waits
 *   for a balancer that is still being made.
 * An extra balancer that has had no session for `idleMs` (an hour) is drained (it takes
 * no new session) and, once empty, removed. Sessions never move: a draining balancer
 * with sessions waits for them to end, and one drained too early is put back in service
 * before anything new is made.
 */

export type BalancerState = 'provisioning' | 'active' | 'draining';

export interface PoolBalancer {
  /** Its place in the pool (0 is the deployment's own host; n is pool<n>.<domain>). */
  index: number;
  state: BalancerState;
  /** Made by the deploy: never drained or removed by the pool manager. */
  base: boolean;
  /** Sessions holding a slot on it. */
  sessions: number;
  /** When it last became empty (ISO), or when it became active if it never held one. */
  emptySince?: string;
  /** When it was drained (ISO): a Lambda that read the pool just before may still place one session on it. */
  drainingSince?: string;
}

export interface ClassAnnouncement {
  sessions: number;
  /** When the class starts (ISO). */
  at: string;
}

export interface PoolPolicy {
  /** Sessions one balancer holds (its listener rules, sessionsPerAlb). */
  capacityPerBalancer: number;
  /** The share of slots in use past which one more balancer is made (0.7). */
  growAt: number;
  /** The account's Application Load Balancers quota: the pool never grows past it. */
  maxBalancers: number;
  /** How long an extra balancer stays empty before it is drained (an hour). */
  idleMs: number;
  /** How long before an announced class its balancers must be ready. */
  leadMs: number;
  /** How long after an announced class starts its room is kept (latecomers). */
  holdMs: number;
  /** How long a drained balancer is kept before it may go: longer than any Lambda keeps its view of the pool. */
  drainGraceMs: number;
}

export const DEFAULT_POOL_POLICY = {
  growAt: 0.7,
  idleMs: 60 * 60_000,
  leadMs: 30 * 60_000,
  holdMs: 60 * 60_000,
  drainGraceMs: 10 * 60_000,
} as const satisfies Partial<PoolPolicy>;

export interface PoolPlan {
  /** Balancers that should take new sessions (active or provisioning), after this plan. */
  wanted: number;
  /** New balancers to make now (their indexes, lowest free first). */
  add: number[];
  /** Draining balancers to put back in service instead of making new ones. */
  reactivate: number[];
  /** Extra balancers to stop giving new sessions. */
  drain: number[];
  /** Drained, empty balancers to delete. */
  remove: number[];
  /** Balancers the quota kept the pool from making (0 when it fits). */
  shortBy: number;
  /** Why, in words, for the log. */
  reason: string;
}

/** Sessions announced for classes whose window (`leadMs` before to `holdMs` after) holds `now`. */
export function announcedSessions(
  announcements: readonly ClassAnnouncement[],
  now: Date,
  policy: Pick<PoolPolicy, 'leadMs' | 'holdMs'>,
): number {
  const t = now.getTime();
  return announcements
    .filter((a) => {
      const at = Date.parse(a.at);
      return t >= at - policy.leadMs && t <= at + policy.holdMs;
    })
    .reduce((sum, a) => sum + a.sessions, 0);
}

/**
 * Balancers that must take new sessions: enough that the sessions in use stay within
 * `growAt` of their slots (one more as soon as they pass it), and room for every
 * announced student besides the sessions running now; never fewer than the base.
 */
export function wantedBalancers(
  inUse: number,
  announced: number,
  base: number,
  policy: Pick<PoolPolicy, 'capacityPerBalancer' | 'growAt'>,
): number {
  const byLoad = Math.floor(inUse / (policy.capacityPerBalancer * policy.growAt)) + 1;
  const byClass = announced > 0 ? Math.ceil((inUse + announced) / policy.capacityPerBalancer) : 0;
  return Math.max(base, byLoad, byClass);
}

export function planPool(
  balancers: readonly PoolBalancer[],
  announcements: readonly ClassAnnouncement[],
  now: Date,
  policy: PoolPolicy,
): PoolPlan {
  const inUse = balancers.reduce((sum, b) => sum + b.sessions, 0);
  const base = balancers.filter((b) => b.base).length;
  const announced = announcedSessions(announcements, now, policy);
  const needed = wantedBalancers(inUse, announced, base, policy);
  const serving = balancers.filter((b) => b.state !== 'draining');
  const draining = balancers.filter((b) => b.state === 'draining').sort((a, b) => a.index - b.index);
  const plan: PoolPlan = {
    wanted: serving.length,
    add: [],
    reactivate: [],
    drain: [],
    remove: [],
    shortBy: 0,
    reason: '',
  };
  const why = `${inUse} sessions in use, ${announced} announced: ${needed} balancer(s) wanted`;

  if (needed > serving.length) {
    let missing = needed - serving.length;
    // A drained balancer already exists and is ready: cheaper and quicker than a new one.
    for (const b of draining) {
      if (missing === 0) break;
      plan.reactivate.push(b.index);
      missing -= 1;
    }
    const taken = new Set(balancers.map((b) => b.index));
    const room = Math.max(0, policy.maxBalancers - balancers.length);
    for (let index = 0; missing > 0 && plan.add.length < room; index += 1) {
      if (taken.has(index)) continue;
      plan.add.push(index);
      missing -= 1;
    }
    plan.shortBy = missing;
    plan.wanted = serving.length + plan.reactivate.length + plan.add.length;
    plan.reason =
      missing > 0
        ? `${why}; the quota of ${policy.maxBalancers} load balancers leaves ${missing} short: raise it in Service Quotas and set albQuota`
        : why;
  } else {
    // Shrink: the highest extra balancers first, only those empty for idleMs, and only
    // down to what is needed (never a base one, never one with sessions).
    const idle = serving
      .filter(
        (b) =>
          !b.base &&
          b.state === 'active' &&
          b.sessions === 0 &&
          b.emptySince !== undefined &&
          now.getTime() - Date.parse(b.emptySince) >= policy.idleMs,
      )
      .sort((a, b) => b.index - a.index);
    const spare = serving.length - needed;
    plan.drain = idle.slice(0, spare).map((b) => b.index);
    plan.wanted = serving.length - plan.drain.length;
    plan.reason = plan.drain.length > 0 ? `${why}; draining the idle extra balancer(s)` : why;
  }
  // Drained, empty, and past the grace: no session can reach them any more, so they go
  // (unless put back in service above).
  plan.remove = draining
    .filter(
      (b) =>
        b.sessions === 0 &&
        !plan.reactivate.includes(b.index) &&
        (b.drainingSince === undefined || now.getTime() - Date.parse(b.drainingSince) >= policy.drainGraceMs),
    )
    .map((b) => b.index);
  return plan;
}
