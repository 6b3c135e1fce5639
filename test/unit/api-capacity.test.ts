import { describe, expect, it } from 'vitest';
import { type ApiKit, makeApiKit, undocumented } from '../fakes/api-harness.ts';
import { MemoryCapacityStore } from '../fakes/api-stores.ts';

/** POST /api/v1/capacity: a course platform announces a class to come (FakeClock: 2026-11-21T10:00Z). */

async function kit(pool?: { balancers: number; sessionsPerBalancer: number }) {
  const capacity = new MemoryCapacityStore();
  return { api: await makeApiKit({ capacity, ...(pool ? { pool } : {}) }), capacity };
}

async function announce(api: ApiKit, body: unknown, scope?: string) {
  const answer = await api.call('POST', '/api/v1/capacity', { token: await api.token(scope), body });
  if (answer.status === 202) expect(undocumented(answer, 'POST', '/capacity')).toEqual([]);
  return answer;
}

describe('POST /api/v1/capacity', () => {
  it('records the class for the client and says the fixed pool has room for it', async () => {
    const { api, capacity } = await kit({ balancers: 2, sessionsPerBalancer: 49 });
    const answer = await announce(api, { sessions: 60, at: '2026-11-21T12:00:00+01:00' });
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({
      sessions: 60,
      at: '2026-11-21T11:00:00.000Z',
      fits: true,
      balancers_needed: 2,
      balancers: 2,
      sessions_per_balancer: 49,
    });
    const stored = await capacity.upcoming(new Date('2026-11-21T10:00:00Z'), 0);
    expect(stored).toEqual([
      expect.objectContaining({ sessions: 60, at: '2026-11-21T11:00:00.000Z', client: expect.any(String) }),
    ]);
  });

  it('says when the classes around that time do not fit the pool, and what the operator changes', async () => {
    const { api } = await kit({ balancers: 2, sessionsPerBalancer: 49 });
    expect((await announce(api, { sessions: 60, at: '2026-11-21T11:00:00Z' })).json.fits).toBe(true);
    // A second class half an hour later: 100 students around 11:00 on 98 slots.
    const answer = await announce(api, { sessions: 40, at: '2026-11-21T11:30:00Z' });
    expect(answer.json.fits).toBe(false);
    expect(answer.json.advice).toContain('hold 98 sessions at once and 100 are announced');
    expect(answer.json.advice).toContain('set albPoolSize to at least 3');
    // Announcing the first again replaces it (one per client and start time): it fits again.
    expect((await announce(api, { sessions: 50, at: '2026-11-21T11:00:00Z' })).json.fits).toBe(true);
  });

  it('answers without balancer figures where no balancer bounds a class (local mode)', async () => {
    const { api } = await kit();
    const answer = await announce(api, { sessions: 5000, at: '2026-11-22T09:00:00Z' });
    expect(answer.json).toEqual({ sessions: 5000, at: '2026-11-22T09:00:00.000Z', fits: true });
  });

  it('withdraws an announcement with 0 sessions', async () => {
    const { api, capacity } = await kit();
    await announce(api, { sessions: 30, at: '2026-11-21T11:00:00Z' });
    await announce(api, { sessions: 0, at: '2026-11-21T11:00:00Z' });
    expect(await capacity.upcoming(new Date('2026-11-21T10:00:00Z'), 0)).toEqual([]);
  });

  it('refuses a time in the past, too far ahead or without a time zone, saying what to send', async () => {
    const { api } = await kit();
    const late = await announce(api, { sessions: 30, at: '2026-11-21T09:49:00Z' });
    expect(late.status).toBe(400);
    expect(late.json.error.message).toContain('more than 10 minutes in the past');
    expect(late.json.error.message).toContain('2026-11-21T10:00:00.000Z now');
    expect((await announce(api, { sessions: 30, at: '2026-11-21T09:51:00Z' })).status).toBe(202);
    const far = await announce(api, { sessions: 30, at: '2027-01-21T10:00:01Z' });
    expect(far.status).toBe(400);
    expect(far.json.error.message).toContain('more than 60 days ahead');
    const local = await announce(api, { sessions: 30, at: '2026-11-21T12:00:00' });
    expect(local.status).toBe(400);
    expect(local.json.error.message).toContain('at');
  });

  it('refuses bad session counts and unknown fields, naming them', async () => {
    const { api } = await kit();
    for (const sessions of [-1, 2.5, '30', 100_001]) {
      const answer = await announce(api, { sessions, at: '2026-11-21T11:00:00Z' });
      expect(answer.status, `sessions ${sessions}`).toBe(400);
      expect(answer.json.error.message).toContain('sessions');
    }
    const extra = await announce(api, { sessions: 1, at: '2026-11-21T11:00:00Z', room: 'A1' });
    expect(extra.status).toBe(400);
    expect(extra.json.error.message).toContain('room');
  });

  it('needs the capacity scope', async () => {
    const { api } = await kit();
    const answer = await announce(api, { sessions: 30, at: '2026-11-21T11:00:00Z' }, 'hubless/launch');
    expect(answer.status).toBe(403);
    expect(answer.json.error.message).toContain('capacity');
  });
});
