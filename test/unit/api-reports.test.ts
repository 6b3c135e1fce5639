import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { splitByDay, teeSink, usageSink } from '../../functions/core/use-cases/usage.ts';
import { type ApiKit, makeApiKit, undocumented } from '../fakes/api-harness.ts';
import { MemoryEventLog, MemoryUsageStore } from '../fakes/api-stores.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';
import { FakeClock, MemoryEventSink } from '../fakes/fake-parts.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('usage and events', () => {
  describe('splitByDay', () => {
    it('splits a span over the UTC days it covers', () => {
      expect(splitByDay(new Date('2026-11-21T23:00:00Z'), new Date('2026-11-22T01:30:00Z'))).toEqual([
        { date: '2026-11-21', seconds: 3600 },
        { date: '2026-11-22', seconds: 5400 },
      ]);
      expect(splitByDay(new Date('2026-11-21T10:00:00Z'), new Date('2026-11-21T10:00:00Z'))).toEqual([]);
    });
  });

  describe('usageSink', () => {
    it('counts a stopped session once even when its event is delivered twice', async () => {
      const store = new MemoryUsageStore();
      const sink = usageSink(store);
      const event = {
        type: 'stop' as const,
        time: '2026-11-21T12:00:00.000Z',
        user: 'ada',
        server: '',
        sessionId: 'ada__1',
        durationSeconds: 7200,
      };
      await sink.publish(event);
      await sink.publish(event);
      await sink.publish({ ...event, type: 'ready' });
      expect(await store.query({ from: '2026-11-21', to: '2026-11-21' })).toEqual([
        { user: 'ada', date: '2026-11-21', seconds: 7200 },
      ]);
    });
  });

  describe('teeSink', () => {
    it('publishes to every sink and does not let an extra sink’s failure fail the caller', async () => {
      const primary = new MemoryEventSink();
      const errors: string[] = [];
      const sink = teeSink(
        primary,
        [{ publish: async () => Promise.reject(new Error('table gone')) }],
        (_level, message) => errors.push(message),
      );
      await sink.publish({
        type: 'start',
        time: '2026-11-21T12:00:00.000Z',
        user: 'ada',
        server: '',
        sessionId: 'ada__1',
      });
      expect(primary.events).toHaveLength(1);
      expect(errors).toEqual(['event sink failed']);
    });
  });

  describe('API', () => {
    let kit: ApiKit;
    let token: string;
    let compute: FakeCompute;
    let clock: FakeClock;
    let usage: MemoryUsageStore;
    let log: MemoryEventLog;
    beforeEach(async () => {
      compute = new FakeCompute();
      clock = new FakeClock('2026-11-21T22:00:00.000Z');
      usage = new MemoryUsageStore();
      log = new MemoryEventLog();
      const core = makeTestDeps({ compute, clock });
      core.events = teeSink(new MemoryEventSink(), [usageSink(usage), log]) as MemoryEventSink;
      kit = await makeApiKit({ usage, eventLog: log }, core);
      token = await kit.token();
      for (const name of ['ada', 'bo']) {
        await kit.call('PUT', `/api/v1/users/${name}`, { token, body: {} });
        await kit.call('POST', `/api/v1/users/${name}/server`, { token });
      }
      await tick();
      for (const name of ['ada', 'bo']) await kit.call('GET', `/api/v1/users/${name}/server`, { token }); // both ready at 22:00
      clock.advance(3 * 3600); // 01:00 the next day
      await kit.call('DELETE', '/api/v1/users/ada/server', { token });
    });
    afterEach(() => compute.dispose());

    it('GET /usage reports hours per user per day, with the running server up to now', async () => {
      const answer = await kit.call('GET', '/api/v1/usage', {
        token,
        query: { from: '2026-11-21', to: '2026-11-22' },
      });
      expect(answer.status).toBe(200);
      expect(undocumented(answer, 'GET', '/usage')).toEqual([]);
      expect(answer.json.items).toEqual([
        { user: 'ada', date: '2026-11-21', seconds: 7200, hours: 2, running: false },
        { user: 'bo', date: '2026-11-21', seconds: 7200, hours: 2, running: true },
        { user: 'ada', date: '2026-11-22', seconds: 3600, hours: 1, running: false },
        { user: 'bo', date: '2026-11-22', seconds: 3600, hours: 1, running: true },
      ]);
      expect(answer.json.total_hours).toBe(6);
      const one = await kit.call('GET', '/api/v1/usage', {
        token,
        query: { from: '2026-11-22', to: '2026-11-22', user: 'bo' },
      });
      expect(one.json.items).toEqual([
        { user: 'bo', date: '2026-11-22', seconds: 3600, hours: 1, running: true },
      ]);
    });

    it('GET /usage refuses bad dates, reversed or too long ranges, and a missing scope', async () => {
      expect(
        (await kit.call('GET', '/api/v1/usage', { token, query: { from: '21/11/2026', to: '2026-11-22' } }))
          .status,
      ).toBe(400);
      expect(
        (await kit.call('GET', '/api/v1/usage', { token, query: { from: '2026-11-22', to: '2026-11-21' } }))
          .json.error.code,
      ).toBe('invalid_range');
      expect(
        (await kit.call('GET', '/api/v1/usage', { token, query: { from: '2026-01-01', to: '2026-12-31' } }))
          .json.error.code,
      ).toBe('invalid_range');
      expect(
        (
          await kit.call('GET', '/api/v1/usage', {
            token: await kit.token('users:read'),
            query: { from: '2026-11-21', to: '2026-11-21' },
          })
        ).status,
      ).toBe(403);
    });

    it('GET /events lists recent lifecycle events, newest first, with the stop reason', async () => {
      const answer = await kit.call('GET', '/api/v1/events', { token, query: { limit: '3' } });
      expect(answer.status).toBe(200);
      expect(undocumented(answer, 'GET', '/events')).toEqual([]);
      expect(answer.json.items).toHaveLength(3);
      expect(answer.json.items[0]).toMatchObject({
        type: 'stop',
        user: 'ada',
        reason: 'admin',
        duration_seconds: 10800,
      });
      expect((await kit.call('GET', '/api/v1/events', { token: await kit.token('launch') })).status).toBe(
        403,
      );
      expect((await kit.call('GET', '/api/v1/events', { token, query: { limit: '0' } })).status).toBe(400);
    });
  });
});
