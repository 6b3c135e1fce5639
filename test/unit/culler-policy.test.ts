import { describe, expect, it } from 'vitest';
import {
  type CullPolicy,
  decideCull,
  formatDuration,
  plannedStop,
} from '../../functions/core/culling/policy.ts';
import type { LabActivity } from '../../functions/core/ports.ts';
import type { Session } from '../../functions/core/session.ts';

const NOW = new Date('2026-11-21T12:00:00.000Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString();

const policy: CullPolicy = {
  idleTimeoutSeconds: 3600,
  maxAgeSeconds: 0,
  busyKernelProtects: true,
  busyKernelMaxSeconds: 24 * 3600,
  dailyQuotaHours: 0,
  clockSkewSeconds: 300,
};

function session(patch: Partial<Session> = {}): Session {
  return {
    id: 'alice__n1',
    user: 'alice',
    server: '',
    profile: 'standard',
    state: 'ready',
    version: 3,
    createdAt: ago(3 * 3600),
    updatedAt: ago(3 * 3600),
    readyAt: ago(3 * 3600 - 60),
    events: [],
    ...patch,
  };
}

function lab(patch: Partial<LabActivity> = {}): LabActivity {
  return { lastActivity: ago(10), connections: 0, kernels: [], terminals: 0, ...patch };
}

describe('decideCull', () => {
  describe('idle time', () => {
    it('keeps a lab whose server saw activity within the timeout', () => {
      const decision = decideCull(policy, {
        session: session(),
        activity: lab({ lastActivity: ago(59 * 60) }),
        now: NOW,
      });
      expect(decision.action).toBe('keep');
      expect(decision.idleSeconds).toBe(59 * 60);
    });

    it('culls a lab idle for the whole timeout, with a message the user can read', () => {
      const decision = decideCull(policy, {
        session: session(),
        activity: lab({ lastActivity: ago(3600) }),
        now: NOW,
      });
      expect(decision).toMatchObject({
        action: 'cull',
        reason: { code: 'idle', message: 'Stopped after 60 minutes without activity.' },
      });
    });

    it('takes the latest of server, kernel and terminal activity', () => {
      const kernels = [
        { id: 'k1', executionState: 'idle', lastActivity: ago(7200) },
        { id: 'k2', executionState: 'idle', lastActivity: ago(120) },
      ];
      expect(
        decideCull(policy, {
          session: session(),
          activity: lab({ lastActivity: ago(7200), kernels }),
          now: NOW,
        }),
      ).toMatchObject({
        action: 'keep',
        idleSeconds: 120,
      });
      expect(
        decideCull(policy, {
          session: session(),
          activity: lab({ lastActivity: ago(7200), terminalLastActivity: ago(30) }),
          now: NOW,
        }),
      ).toMatchObject({ action: 'keep', idleSeconds: 30 });
    });

    it('counts a freshly ready lab as active even when the lab reports nothing', () => {
      const fresh = session({ createdAt: ago(200), readyAt: ago(100) });
      expect(
        decideCull(policy, { session: fresh, activity: lab({ lastActivity: undefined }), now: NOW }),
      ).toMatchObject({
        action: 'keep',
        idleSeconds: 100,
      });
    });

    it('falls back to createdAt when readyAt is missing', () => {
      const old = session({ readyAt: undefined, createdAt: ago(4000) });
      expect(
        decideCull(policy, { session: old, activity: lab({ lastActivity: undefined }), now: NOW }).action,
      ).toBe('cull');
    });

    it('uses the activity already recorded on the session', () => {
      const recorded = session({ lastActivity: ago(60) });
      expect(
        decideCull(policy, { session: recorded, activity: lab({ lastActivity: ago(9000) }), now: NOW })
          .idleSeconds,
      ).toBe(60);
    });
  });

  describe('open connections', () => {
    it('do not keep a lab alive by themselves (a tab left open overnight), but are reported', () => {
      const decision = decideCull(policy, {
        session: session(),
        activity: lab({ lastActivity: ago(8 * 3600), connections: 2 }),
        now: NOW,
      });
      expect(decision).toMatchObject({ action: 'cull', connections: 2 });
    });
  });

  describe('busy kernels', () => {
    const busy = (secondsAgo: number) => [
      { id: 'k1', executionState: 'busy', lastActivity: ago(secondsAgo) },
    ];

    it('protect a lab running a long cell from the idle timeout', () => {
      const decision = decideCull(policy, {
        session: session(),
        activity: lab({ lastActivity: ago(5 * 3600), kernels: busy(5 * 3600) }),
        now: NOW,
      });
      expect(decision).toMatchObject({ action: 'keep', why: 'busy-kernel', workingKernels: 1 });
    });

    it('stop protecting after busyKernelMaxSeconds (a kernel stuck busy)', () => {
      const decision = decideCull(policy, {
        session: session({ readyAt: ago(30 * 3600) }),
        activity: lab({ lastActivity: ago(25 * 3600), kernels: busy(25 * 3600) }),
        now: NOW,
      });
      expect(decision).toMatchObject({ action: 'cull', reason: { code: 'idle' }, stuckKernels: 1 });
    });

    it('do not protect when busyKernelProtects is off', () => {
      const decision = decideCull(
        { ...policy, busyKernelProtects: false },
        {
          session: session(),
          activity: lab({ lastActivity: ago(5 * 3600), kernels: busy(5 * 3600) }),
          now: NOW,
        },
      );
      expect(decision.action).toBe('cull');
    });

    it('do not protect from max age', () => {
      const decision = decideCull(
        { ...policy, maxAgeSeconds: 3600 },
        { session: session(), activity: lab({ kernels: busy(60) }), now: NOW },
      );
      expect(decision).toMatchObject({ action: 'cull', reason: { code: 'max-age' } });
    });
  });

  describe('max age', () => {
    it('stops an active lab once it has run for maxAgeSeconds', () => {
      const decision = decideCull(
        { ...policy, maxAgeSeconds: 8 * 3600 },
        { session: session({ readyAt: ago(8 * 3600) }), activity: lab({ lastActivity: ago(1) }), now: NOW },
      );
      expect(decision).toMatchObject({
        action: 'cull',
        reason: { code: 'max-age', message: 'Stopped after reaching the maximum run time of 8 hours.' },
      });
    });

    it('is off at 0', () => {
      expect(
        decideCull(policy, {
          session: session({ readyAt: ago(100 * 3600) }),
          activity: lab({ lastActivity: ago(1) }),
          now: NOW,
        }).action,
      ).toBe('keep');
    });
  });

  describe('daily quota', () => {
    const quota = { ...policy, dailyQuotaHours: 2 };

    it('stops a lab when finished sessions plus this one reach the quota', () => {
      const decision = decideCull(quota, {
        session: session({ readyAt: ago(1800) }),
        activity: lab(),
        now: NOW,
        usedSecondsToday: 5400,
      });
      expect(decision).toMatchObject({ action: 'cull', reason: { code: 'quota' } });
      expect(decision.action === 'cull' && decision.reason.message).toContain('2 hours');
    });

    it('keeps a lab below the quota', () => {
      expect(
        decideCull(quota, {
          session: session({ readyAt: ago(1800) }),
          activity: lab(),
          now: NOW,
          usedSecondsToday: 3600,
        }).action,
      ).toBe('keep');
    });

    it('counts only the part of this session that falls on today (UTC)', () => {
      const early = new Date('2026-11-21T00:30:00.000Z');
      const sinceYesterday = session({
        readyAt: '2026-11-20T20:00:00.000Z',
        createdAt: '2026-11-20T19:59:00.000Z',
      });
      const decision = decideCull(
        { ...quota, dailyQuotaHours: 1 },
        {
          session: sinceYesterday,
          activity: lab({ lastActivity: early.toISOString() }),
          now: early,
          usedSecondsToday: 0,
        },
      );
      expect(decision.action).toBe('keep');
    });

    it('is ignored without a usage number', () => {
      expect(
        decideCull(quota, { session: session({ readyAt: ago(30 * 3600) }), activity: lab(), now: NOW })
          .action,
      ).toBe('keep');
    });
  });

  describe('clock edge cases', () => {
    it('treats activity slightly in the future (clock skew) as now', () => {
      const decision = decideCull(policy, {
        session: session(),
        activity: lab({ lastActivity: ago(-60) }),
        now: NOW,
      });
      expect(decision).toMatchObject({ action: 'keep', idleSeconds: 0, lastActivity: NOW.toISOString() });
    });

    it('ignores activity far in the future, so a broken clock cannot keep a lab alive', () => {
      const decision = decideCull(policy, {
        session: session(),
        activity: lab({ lastActivity: '2099-01-01T00:00:00Z' }),
        now: NOW,
      });
      expect(decision.action).toBe('cull');
    });

    it('ignores timestamps that do not parse', () => {
      const decision = decideCull(policy, {
        session: session(),
        activity: lab({
          lastActivity: 'yesterday',
          kernels: [{ id: 'k', executionState: 'idle', lastActivity: '' }],
        }),
        now: NOW,
      });
      expect(decision).toMatchObject({ action: 'cull', idleSeconds: 3 * 3600 - 60 });
    });

    it('keeps a lab whose session timestamps are all missing (no evidence it is idle)', () => {
      const bare = session({ readyAt: undefined, createdAt: 'not a date' });
      expect(
        decideCull(policy, { session: bare, activity: lab({ lastActivity: undefined }), now: NOW }),
      ).toMatchObject({ action: 'keep', idleSeconds: 0 });
    });
  });
});

describe('formatDuration', () => {
  it('speaks in units a person would use', () => {
    expect(formatDuration(45)).toBe('45 seconds');
    expect(formatDuration(3600)).toBe('60 minutes');
    expect(formatDuration(60)).toBe('1 minute');
    expect(formatDuration(7200)).toBe('2 hours');
    expect(formatDuration(130)).toBe('2 minutes');
  });
});

describe('plannedStop (the notice next to a running server)', () => {
  const ready = {
    state: 'ready' as const,
    createdAt: '2026-12-02T09:58:00.000Z',
    readyAt: '2026-12-02T10:00:00.000Z',
  };

  it('is the latest activity plus the idle timeout, and says so', () => {
    const planned = plannedStop(
      { ...ready, lastActivity: '2026-12-02T10:20:00.000Z' },
      { idleTimeoutSeconds: 3600, maxAgeSeconds: 0 },
    );
    expect(planned).toMatchObject({ why: 'idle', at: new Date('2026-12-02T11:20:00.000Z') });
    expect(planned?.message).toBe(
      'Stops for inactivity at 11:20 UTC (after 60 minutes without activity) unless you use it.',
    );
  });

  it('counts from ready when no activity was recorded, and never from an activity before it', () => {
    const policy = { idleTimeoutSeconds: 1800, maxAgeSeconds: 0 };
    expect(plannedStop(ready, policy)?.at.toISOString()).toBe('2026-12-02T10:30:00.000Z');
    expect(
      plannedStop({ ...ready, lastActivity: '2026-12-02T09:00:00.000Z' }, policy)?.at.toISOString(),
    ).toBe('2026-12-02T10:30:00.000Z');
  });

  it('is the maximum run time when that comes first', () => {
    const planned = plannedStop(
      { ...ready, lastActivity: '2026-12-02T11:50:00.000Z' },
      { idleTimeoutSeconds: 3600, maxAgeSeconds: 7200 },
    );
    expect(planned).toMatchObject({ why: 'max-age', at: new Date('2026-12-02T12:00:00.000Z') });
    expect(planned?.message).toContain('the maximum run time is 2 hours');
  });

  it('is undefined for a server that is not running', () => {
    for (const state of ['pending', 'launching', 'running', 'stopping', 'stopped', 'failed'] as const)
      expect(plannedStop({ ...ready, state }, { idleTimeoutSeconds: 60, maxAgeSeconds: 0 })).toBeUndefined();
  });
});
