import { ValidationError } from '../errors.ts';
import type { Clock } from '../ports.ts';
import { type ClassAnnouncement, DEFAULT_POOL_POLICY } from './plan.ts';

/**
 * A course platform's announcement of a class (POST /api/v1/capacity): how many students
 * will start servers, and when. The pool plan (./plan.ts) makes room for them ahead of
 * time where the pool is elastic; a fixed pool is measured against the class, and the
 * answer says whether it fits and what the operator would change.
 */

/** An announcement as stored: one per client and start time; announcing again replaces it. */
export interface StoredAnnouncement extends ClassAnnouncement {
  client: string;
  announcedAt: string;
}

export interface CapacityStore {
  /** Records (or, for the same client and `at`, replaces) an announcement; `sessions` 0 withdraws it. */
  announce(announcement: StoredAnnouncement): Promise<void>;
  /**
   * Announcements whose class has not ended for the pool (its start plus `holdMs` is at
   * or after `now`), soonest first.
   */
  upcoming(now: Date, holdMs: number): Promise<StoredAnnouncement[]>;
}

/** The deployment's balancers as the API sees them; absent (local mode): no balancer bounds a class. */
export interface PoolCapacity {
  balancers: number;
  sessionsPerBalancer: number;
}

/** How far ahead a class may be announced, and how late an announcement may still come. */
export const ANNOUNCE_HORIZON_DAYS = 60;
export const ANNOUNCE_LATE_MINUTES = 10;

export interface CapacityAnswer {
  sessions: number;
  at: string;
  /** Balancers the class alone needs, at the pool's sessions per balancer. */
  balancersNeeded?: number;
  balancers?: number;
  sessionsPerBalancer?: number;
  fits: boolean;
  /** What the operator would change when it does not fit. */
  advice?: string;
}

/**
 * Checks and records an announcement. `at` must be an instant with a time zone, not more
 * than ANNOUNCE_LATE_MINUTES in the past (a class that started may still be announced
 * for its latecomers) and at most ANNOUNCE_HORIZON_DAYS ahead.
 */
export async function announceClass(
  deps: { store: CapacityStore; clock: Clock; pool?: PoolCapacity },
  request: { client: string; sessions: number; at: string },
): Promise<CapacityAnswer> {
  const now = deps.clock.now();
  const at = Date.parse(request.at);
  if (Number.isNaN(at))
    throw new ValidationError(
      `at: "${request.at}" is not a date and time; send ISO 8601 with a time zone, e.g. "2026-12-03T09:00:00Z".`,
    );
  if (at < now.getTime() - ANNOUNCE_LATE_MINUTES * 60_000)
    throw new ValidationError(
      `at: ${request.at} is more than ${ANNOUNCE_LATE_MINUTES} minutes in the past; announce a class before it starts (it is ${now.toISOString()} now).`,
    );
  if (at > now.getTime() + ANNOUNCE_HORIZON_DAYS * 86_400_000)
    throw new ValidationError(
      `at: ${request.at} is more than ${ANNOUNCE_HORIZON_DAYS} days ahead; announce the class closer to its date.`,
    );
  const iso = new Date(at).toISOString();
  await deps.store.announce({
    client: request.client,
    sessions: request.sessions,
    at: iso,
    announcedAt: now.toISOString(),
  });
  const answer: CapacityAnswer = { sessions: request.sessions, at: iso, fits: true };
  if (!deps.pool) return answer;
  const { balancers, sessionsPerBalancer } = deps.pool;
  const needed = Math.ceil(request.sessions / sessionsPerBalancer);
  // Everything announced for the same window counts: two classes at once need room for both.
  const overlapping = (await deps.store.upcoming(now, DEFAULT_POOL_POLICY.holdMs)).filter(
    (a) => Math.abs(Date.parse(a.at) - at) <= DEFAULT_POOL_POLICY.holdMs,
  );
  const together = overlapping.reduce((sum, a) => sum + a.sessions, 0);
  const room = balancers * sessionsPerBalancer;
  const fits = together <= room;
  return {
    ...answer,
    balancersNeeded: needed,
    balancers,
    sessionsPerBalancer,
    fits,
    ...(fits
      ? {}
      : {
          advice: `The pool's ${balancers} load balancer(s) hold ${room} sessions at once and ${together} are announced around ${iso}: set albPoolSize to at least ${Math.ceil(together / sessionsPerBalancer)} in hubless.config.json and deploy (within albQuota), or students past ${room} will be told the pool is full.`,
        }),
  };
}
