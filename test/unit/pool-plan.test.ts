import { describe, expect, it } from 'vitest';
import {
  announcedSessions,
  DEFAULT_POOL_POLICY,
  type PoolBalancer,
  type PoolPolicy,
  planPool,
  wantedBalancers,
} from '../../functions/core/pool/plan.ts';

/** The elastic pool's decisions (functions/core/pool/plan.ts), at 49 sessions per balancer. */

const POLICY: PoolPolicy = { ...DEFAULT_POOL_POLICY, capacityPerBalancer: 49, maxBalancers: 50 };
const NOW = new Date('2026-12-02T09:00:00Z');
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000).toISOString();

function balancer(index: number, sessions: number, extra: Partial<PoolBalancer> = {}): PoolBalancer {
  return { index, state: 'active', base: index === 0, sessions, ...extra };
}

describe('the pool plan', () => {
  it('keeps one balancer at rest and makes nothing', () => {
    const plan = planPool([balancer(0, 0)], [], NOW, POLICY);
    expect(plan).toMatchObject({ wanted: 1, add: [], drain: [], remove: [], reactivate: [], shortBy: 0 });
  });

  it('adds one balancer once the sessions pass 70% of the slots, not before', () => {
    // 49 × 0.7 = 34.3 slots: 34 sessions fit, the 35th asks for a second balancer.
    expect(planPool([balancer(0, 34)], [], NOW, POLICY).add).toEqual([]);
    expect(planPool([balancer(0, 35)], [], NOW, POLICY).add).toEqual([1]);
    // Two balancers: 98 × 0.7 = 68.6.
    expect(planPool([balancer(0, 49), balancer(1, 19)], [], NOW, POLICY).add).toEqual([]);
    expect(planPool([balancer(0, 49), balancer(1, 20)], [], NOW, POLICY).add).toEqual([2]);
  });

  it('counts a balancer still provisioning, so a slow one is not asked for twice', () => {
    const pool = [balancer(0, 40), balancer(1, 0, { state: 'provisioning' })];
    expect(planPool(pool, [], NOW, POLICY).add).toEqual([]);
  });

  it('makes room for an announced class from 30 minutes before it until an hour after it starts', () => {
    const classOf1000 = [{ sessions: 1000, at: minutes(30) }];
    const plan = planPool([balancer(0, 0)], classOf1000, NOW, POLICY);
    // ceil(1000 / 49) = 21 balancers, all made at once, lowest free indexes first.
    expect(plan.wanted).toBe(21);
    expect(plan.add).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(planPool([balancer(0, 0)], [{ sessions: 1000, at: minutes(31) }], NOW, POLICY).add).toEqual([]);
    expect(announcedSessions(classOf1000, new Date(minutes(90)), POLICY)).toBe(1000);
    expect(announcedSessions(classOf1000, new Date(minutes(91)), POLICY)).toBe(0);
  });

  it('adds the sessions already running to an announced class, and adds up classes that overlap', () => {
    expect(wantedBalancers(49, 49, 1, POLICY)).toBe(2);
    const two = [
      { sessions: 30, at: minutes(10) },
      { sessions: 30, at: minutes(20) },
    ];
    expect(planPool([balancer(0, 0)], two, NOW, POLICY).add).toEqual([1]);
  });

  it('never grows past the quota, and says by how many it fell short and what to do', () => {
    const plan = planPool([balancer(0, 0)], [{ sessions: 1000, at: minutes(0) }], NOW, {
      ...POLICY,
      maxBalancers: 5,
    });
    expect(plan.add).toEqual([1, 2, 3, 4]);
    expect(plan.shortBy).toBe(16);
    expect(plan.reason).toContain('Service Quotas');
    expect(plan.reason).toContain('albQuota');
  });

  it('puts a drained balancer back in service before making a new one', () => {
    const pool = [balancer(0, 40), balancer(1, 0, { state: 'draining', drainingSince: minutes(-1) })];
    const plan = planPool(pool, [], NOW, POLICY);
    expect(plan).toMatchObject({ reactivate: [1], add: [], remove: [] });
  });

  it('drains an extra balancer empty for an hour, the highest first, never a base one or one in use', () => {
    const pool = [
      balancer(0, 0, { emptySince: minutes(-600) }),
      balancer(1, 0, { emptySince: minutes(-60) }),
      balancer(2, 0, { emptySince: minutes(-61) }),
      balancer(3, 0, { emptySince: minutes(-59) }),
      balancer(4, 1),
    ];
    expect(planPool(pool, [], NOW, POLICY).drain).toEqual([2, 1]);
  });

  it('keeps an idle extra balancer while an announced class still needs it', () => {
    const pool = [balancer(0, 0), balancer(1, 0, { emptySince: minutes(-120) })];
    expect(planPool(pool, [{ sessions: 60, at: minutes(10) }], NOW, POLICY).drain).toEqual([]);
  });

  it('removes a drained balancer once it is empty and past the grace, never one a session still uses', () => {
    const drained = (sessions: number, since: number) =>
      balancer(1, sessions, { state: 'draining', drainingSince: minutes(since) });
    expect(planPool([balancer(0, 0), drained(0, -10)], [], NOW, POLICY).remove).toEqual([1]);
    expect(planPool([balancer(0, 0), drained(0, -9)], [], NOW, POLICY).remove).toEqual([]);
    expect(planPool([balancer(0, 0), drained(2, -600)], [], NOW, POLICY).remove).toEqual([]);
  });

  it('grows before a class of 1,000 arrives and shrinks back to one balancer after it', () => {
    // A 10-minute reconcile loop over a day: the class is announced for 10:00, all its
    // students start at 10:00 and stop at 11:00.
    const policy = POLICY;
    const start = new Date('2026-12-02T08:00:00Z').getTime();
    const at = new Date('2026-12-02T10:00:00Z').getTime();
    const classes = [{ sessions: 1000, at: new Date(at).toISOString() }];
    let pool: PoolBalancer[] = [balancer(0, 0, { emptySince: new Date(start).toISOString() })];
    let largest = 1;
    let refused = 0;
    for (let t = start; t <= start + 8 * 3600_000; t += 10 * 60_000) {
      const now = new Date(t);
      // Students are placed on active balancers only, before this tick's plan runs.
      const wanting = t >= at && t < at + 60 * 60_000 ? 1000 : 0;
      const active = pool.filter((b) => b.state === 'active');
      refused += Math.max(0, wanting - active.length * policy.capacityPerBalancer);
      let left = wanting;
      pool = pool.map((b) => {
        if (b.state !== 'active' && !(b.state === 'draining' && b.sessions > 0)) return { ...b, sessions: 0 };
        const sessions = b.state === 'active' ? Math.min(left, policy.capacityPerBalancer) : 0;
        left -= sessions;
        const emptySince = sessions > 0 ? undefined : (b.emptySince ?? now.toISOString());
        return { ...b, sessions, emptySince };
      });
      const plan = planPool(pool, classes, now, policy);
      // The step runs before the next tick: a new balancer is active by then (a few minutes).
      pool = pool
        .filter((b) => !plan.remove.includes(b.index))
        .map((b) =>
          plan.reactivate.includes(b.index)
            ? { ...b, state: 'active' as const, drainingSince: undefined }
            : plan.drain.includes(b.index)
              ? { ...b, state: 'draining' as const, drainingSince: now.toISOString() }
              : b.state === 'provisioning'
                ? { ...b, state: 'active' as const, emptySince: now.toISOString() }
                : b,
        );
      for (const index of plan.add) pool.push({ index, state: 'provisioning', base: false, sessions: 0 });
      largest = Math.max(largest, pool.length);
      if (t < at - policy.leadMs) expect(pool, `at ${now.toISOString()}`).toHaveLength(1);
    }
    expect(refused).toBe(0);
    expect(largest).toBeGreaterThanOrEqual(21);
    expect(largest).toBeLessThanOrEqual(policy.maxBalancers);
    expect(pool).toEqual([expect.objectContaining({ index: 0, state: 'active', sessions: 0 })]);
  });
});
