import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpActivityProbe, LabUnreachableError } from '../../functions/adapters/http/activity-probe.ts';
import { LogEventSink } from '../../functions/adapters/local/log-event-sink.ts';
import { EmfMetrics } from '../../functions/adapters/metrics/emf.ts';
import { withEventMetrics } from '../../functions/core/culling/metrics.ts';
import { DependencyTimeoutError } from '../../functions/core/errors.ts';
import type { LifecycleEvent } from '../../functions/core/ports.ts';
import type { Session } from '../../functions/core/session.ts';
import { MemoryEventSink } from '../fakes/fake-parts.ts';

const lab: Session = {
  id: 'alice_proj_n1',
  user: 'alice',
  server: 'proj',
  profile: 'standard',
  state: 'ready',
  version: 4,
  createdAt: '2026-11-21T10:00:00.000Z',
  updatedAt: '2026-11-21T10:00:00.000Z',
  target: { host: '10.0.3.7', port: 8888 },
  events: [],
};

/** Stands in for HMAC(key, session id): the probe must ask for the session's own token. */
const labTokens = { tokenFor: async (sessionId: string) => `token-of-${sessionId}` };

type Route = (url: URL, init: RequestInit) => Response | Promise<Response>;

function fakeFetch(route: Route): {
  fetch: typeof fetch;
  calls: { url: string; headers: Record<string, string> }[];
} {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const fn = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input));
    calls.push({ url: url.toString(), headers: init.headers as Record<string, string> });
    return route(url, init);
  }) as typeof fetch;
  return { fetch: fn, calls };
}

const jupyter: Route = (url) => {
  if (url.pathname.endsWith('/api/status'))
    return Response.json({
      last_activity: '2026-11-21T11:00:00.000000Z',
      connections: 2,
      kernels: 1,
      started: '2026-11-21T10:00:01Z',
    });
  if (url.pathname.endsWith('/api/kernels'))
    return Response.json([
      {
        id: 'k1',
        name: 'python3',
        last_activity: '2026-11-21T11:30:00.000000Z',
        execution_state: 'busy',
        connections: 2,
      },
    ]);
  if (url.pathname.endsWith('/api/terminals'))
    return Response.json([
      { name: '1', last_activity: '2026-11-21T11:10:00Z' },
      { name: '2', last_activity: '2026-11-21T11:20:00Z' },
    ]);
  return new Response('not found', { status: 404 });
};

describe('HttpActivityProbe', () => {
  describe('probe', () => {
    it("reads status, kernels and terminals under the lab's base URL with the control plane token", async () => {
      const { fetch, calls } = fakeFetch(jupyter);
      const activity = await new HttpActivityProbe({ fetch, labTokens }).probe(lab);
      expect(activity).toEqual({
        lastActivity: '2026-11-21T11:00:00.000000Z',
        connections: 2,
        kernels: [
          { id: 'k1', executionState: 'busy', lastActivity: '2026-11-21T11:30:00.000000Z', connections: 2 },
        ],
        terminals: 2,
        terminalLastActivity: '2026-11-21T11:20:00Z',
      });
      expect(calls.map((c) => c.url).sort()).toEqual([
        'http://10.0.3.7:8888/user/alice/proj/api/kernels?no_track_activity=1',
        'http://10.0.3.7:8888/user/alice/proj/api/status',
        'http://10.0.3.7:8888/user/alice/proj/api/terminals?no_track_activity=1',
      ]);
      // The token is recomputed from the session id: the session carries none.
      expect(calls.every((c) => c.headers.authorization === 'token token-of-alice_proj_n1')).toBe(true);
    });

    it('counts no terminals when the lab has terminals turned off (404)', async () => {
      const { fetch } = fakeFetch((url, init) =>
        url.pathname.endsWith('/api/terminals') ? new Response('', { status: 404 }) : jupyter(url, init),
      );
      expect((await new HttpActivityProbe({ fetch, labTokens }).probe(lab)).terminals).toBe(0);
    });

    it('throws LabUnreachableError when the lab answers 500', async () => {
      const { fetch } = fakeFetch(() => new Response('oops', { status: 500 }));
      await expect(new HttpActivityProbe({ fetch, labTokens }).probe(lab)).rejects.toBeInstanceOf(
        LabUnreachableError,
      );
    });

    it('says so when the lab refuses the token', async () => {
      const { fetch } = fakeFetch(() => new Response('', { status: 403 }));
      await expect(new HttpActivityProbe({ fetch, labTokens }).probe(lab)).rejects.toThrow(
        /does not accept the control plane token/,
      );
    });

    it('throws DependencyTimeoutError when the lab does not answer in time', async () => {
      const { fetch } = fakeFetch(
        (_url, init) =>
          new Promise<Response>((_resolve, reject) => {
            init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
          }),
      );
      const started = Date.now();
      await expect(
        new HttpActivityProbe({ fetch, labTokens, timeoutMs: 50 }).probe(lab),
      ).rejects.toBeInstanceOf(DependencyTimeoutError);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('throws for a session without a target', async () => {
      const { fetch, calls } = fakeFetch(jupyter);
      await expect(
        new HttpActivityProbe({ fetch, labTokens }).probe({ ...lab, target: undefined }),
      ).rejects.toBeInstanceOf(LabUnreachableError);
      expect(calls).toEqual([]);
    });
  });
});

describe('EmfMetrics', () => {
  describe('put', () => {
    it('writes one CloudWatch Embedded Metric Format line per call', () => {
      const lines: string[] = [];
      const metrics = new EmfMetrics({
        namespace: 'hubless-test',
        dimensions: { Stage: 'dev' },
        write: (line) => lines.push(line),
        now: () => 1_700_000_000_000,
      });
      metrics.put([{ name: 'CullsRequested', value: 3, unit: 'Count' }], { Reason: 'idle' });
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toEqual({
        _aws: {
          Timestamp: 1_700_000_000_000,
          CloudWatchMetrics: [
            {
              Namespace: 'hubless-test',
              Dimensions: [['Stage', 'Reason']],
              Metrics: [{ Name: 'CullsRequested', Unit: 'Count' }],
            },
          ],
        },
        Stage: 'dev',
        Reason: 'idle',
        CullsRequested: 3,
      });
    });

    it('never throws, even when the writer does', () => {
      const metrics = new EmfMetrics({
        write: () => {
          throw new Error('EPIPE');
        },
      });
      expect(() => metrics.put([{ name: 'X', value: 1, unit: 'Count' }])).not.toThrow();
    });
  });
});

describe('withEventMetrics', () => {
  it('turns ready events into spawn time and cull events into ends by reason, and still publishes', async () => {
    const lines: string[] = [];
    const inner = new MemoryEventSink();
    const sink = withEventMetrics(inner, new EmfMetrics({ write: (line) => lines.push(line) }));
    const base = { time: '2026-11-21T10:00:00Z', user: 'a', server: '', sessionId: 'a__1' };
    await sink.publish({ ...base, type: 'ready', durationSeconds: 42.5 });
    await sink.publish({ ...base, type: 'cull', reason: 'idle', durationSeconds: 3600 });
    expect(inner.events.map((e) => e.type)).toEqual(['ready', 'cull']);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0]).toMatchObject({ SpawnSeconds: 42.5 });
    expect(parsed[1]).toMatchObject({ SessionEnds: 1, Type: 'cull', Reason: 'idle' });
    expect(parsed[2]).toMatchObject({ SessionSeconds: 3600 });
  });
  it('counts every failed start once more without a reason, so one alarm sees them all', async () => {
    const lines: string[] = [];
    const metrics = new EmfMetrics({ dimensions: { Stage: 'prod' }, write: (line) => lines.push(line) });
    const sink = withEventMetrics(new MemoryEventSink(), metrics);
    const base = { time: '2026-11-21T10:00:00Z', user: 'a', server: '', sessionId: 'a__1' };
    await sink.publish({ ...base, type: 'fail', reason: 'capacity', durationSeconds: 3 });
    await sink.publish({ ...base, type: 'stop', reason: 'user', durationSeconds: 60 });
    const failed = lines.map((l) => JSON.parse(l)).filter((line) => 'StartsFailed' in line);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ StartsFailed: 1, Stage: 'prod' });
    expect(failed[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Stage']]);
  });
});

describe('LogEventSink', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('appends events as JSON lines and keeps the latest ones for reading, newest first', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hubless-events-'));
    const path = join(dir, 'nested', 'events.jsonl');
    const sink = new LogEventSink({ path, keep: 2 });
    const event = (n: number): LifecycleEvent => ({
      type: 'cull',
      time: `2026-11-21T10:00:0${n}Z`,
      user: 'u',
      server: '',
      sessionId: `u__${n}`,
      reason: 'idle',
      durationSeconds: n,
    });
    await Promise.all([sink.publish(event(1)), sink.publish(event(2)), sink.publish(event(3))]);
    const lines = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.sessionId)).toEqual(['u__1', 'u__2', 'u__3']);
    expect(sink.recent(10).map((e) => e.sessionId)).toEqual(['u__3', 'u__2']);
    expect(sink.recent(1).map((e) => e.sessionId)).toEqual(['u__3']);
  });
});
