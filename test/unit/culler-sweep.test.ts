import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLeaseStore } from '../../functions/core/culling/memory-lease-store.ts';
import type { CullerDeps, MetricDatum, Metrics } from '../../functions/core/culling/ports.ts';
import type { ActivityProbe, LabActivity } from '../../functions/core/ports.ts';
import type { Session } from '../../functions/core/session.ts';
import { type CullSummary, cullServers } from '../../functions/core/use-cases/cull.ts';
import { getServer } from '../../functions/core/use-cases/get-server.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { makeTestDeps, type TestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';
import { FakeRouter } from '../fakes/fake-router.ts';

type Answer = (session: Session) => LabActivity | Promise<LabActivity>;

/** A probe that answers per user as the test says; by default "active a second ago". */
class ScriptedProbe implements ActivityProbe {
  readonly answers = new Map<string, Answer>();
  readonly probed: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly fallback: Answer;
  constructor(fallback: Answer) {
    this.fallback = fallback;
  }
  async probe(session: Session): Promise<LabActivity> {
    this.probed.push(session.user);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      return await (this.answers.get(session.user) ?? this.fallback)(session);
    } finally {
      this.inFlight--;
    }
  }
}

class RecordingMetrics implements Metrics {
  readonly lines: { data: MetricDatum[]; dimensions?: Record<string, string> }[] = [];
  put(data: MetricDatum[], dimensions?: Record<string, string>): void {
    this.lines.push({ data, dimensions });
  }
  value(name: string, dimensions: Record<string, string> = {}): number | undefined {
    const line = this.lines.find(
      (l) =>
        l.data.some((d) => d.name === name) &&
        JSON.stringify(l.dimensions ?? {}) === JSON.stringify(dimensions),
    );
    return line?.data.find((d) => d.name === name)?.value;
  }
}

interface World {
  deps: CullerDeps & TestDeps;
  compute: FakeCompute;
  router: FakeRouter;
  probe: ScriptedProbe;
  metrics: RecordingMetrics;
}

const worlds: World[] = [];
afterEach(() => {
  for (const world of worlds.splice(0)) world.compute.dispose();
});

function world(culling: CullerDeps['culling'] = {}, extra: Pick<CullerDeps, 'usage'> = {}): World {
  const compute = new FakeCompute();
  const router = new FakeRouter(10_000);
  const base = makeTestDeps({ compute, router });
  const probe = new ScriptedProbe(() => ({
    lastActivity: new Date(base.clock.now().getTime() - 1000).toISOString(),
    connections: 1,
    kernels: [],
    terminals: 0,
  }));
  const metrics = new RecordingMetrics();
  const deps = {
    ...base,
    probe,
    lease: new MemoryLeaseStore({ clock: base.clock }),
    metrics,
    culling,
    ...extra,
  };
  const w = { deps, compute, router, probe, metrics };
  worlds.push(w);
  return w;
}

async function readyLab(w: World, user: string, server = ''): Promise<Session> {
  await startServer(w.deps, { user, server, groups: [] });
  await new Promise((resolve) => setTimeout(resolve, 1)); // FakeCompute runs the task on a 0 ms timer
  const session = await getServer(w.deps, user, server);
  expect(session.state).toBe('ready');
  return session;
}

const idleFor =
  (w: World, seconds: number): Answer =>
  () => ({
    lastActivity: new Date(w.deps.clock.now().getTime() - seconds * 1000).toISOString(),
    connections: 0,
    kernels: [],
    terminals: 0,
  });

async function sweep(w: World): Promise<CullSummary> {
  const run = await cullServers(w.deps, { reconcile: false });
  if ('skipped' in run) throw new Error('sweep skipped');
  return run;
}

describe('cullServers (idle sweep)', () => {
  it('culls an idle named server and spares the same user’s active default server', async () => {
    const w = world();
    await readyLab(w, 'alice');
    await readyLab(w, 'alice', 'thesis');
    w.deps.clock.advance(2 * 3600);
    const active = idleFor(w, 1);
    const idle = idleFor(w, 2 * 3600);
    w.probe.answers.set('alice', (session) =>
      session.server === 'thesis' ? idle(session) : active(session),
    );
    await sweep(w);
    expect((await w.deps.store.get('alice', 'thesis'))?.reason?.code).toBe('idle');
    expect((await w.deps.store.get('alice', ''))?.state).toBe('ready');
  });

  describe('an idle lab', () => {
    it('is stopped with reason idle, its route removed, and a cull event published', async () => {
      const w = world();
      const lab = await readyLab(w, 'alice');
      w.deps.clock.advance(2 * 3600);
      w.probe.answers.set('alice', idleFor(w, 2 * 3600));

      const summary = await sweep(w);

      const after = await w.deps.store.get('alice', '');
      expect(after).toMatchObject({
        state: 'stopped',
        reason: { code: 'idle', message: 'Stopped after 60 minutes without activity.' },
      });
      expect(w.router.routes.has(lab.id)).toBe(false);
      expect(w.compute.calls.stop).toEqual([lab.computeHandle]);
      expect(summary.culled).toEqual({ idle: 1, 'max-age': 0, quota: 0 });
      expect(w.deps.events.events.at(-1)).toMatchObject({
        type: 'cull',
        reason: 'idle',
        sessionId: lab.id,
        durationSeconds: 7200,
      });
      expect(w.metrics.value('CullsRequested', { Reason: 'idle' })).toBe(1);
    });
  });

  describe('an active lab', () => {
    it('is kept, and its latest activity is recorded on the session', async () => {
      const w = world();
      await readyLab(w, 'bob');
      w.deps.clock.advance(1800);
      const summary = await sweep(w);
      expect(summary).toMatchObject({ checked: 1, kept: 1 });
      const after = await w.deps.store.get('bob', '');
      expect(after?.state).toBe('ready');
      expect(after?.lastActivity).toBe(new Date(w.deps.clock.now().getTime() - 1000).toISOString());
    });

    it('running a long cell survives the idle timeout', async () => {
      const w = world();
      await readyLab(w, 'carol');
      w.deps.clock.advance(3 * 3600);
      const started = new Date(w.deps.clock.now().getTime() - 3 * 3600 * 1000).toISOString();
      w.probe.answers.set('carol', () => ({
        lastActivity: started,
        connections: 0,
        terminals: 0,
        kernels: [{ id: 'k', executionState: 'busy', lastActivity: started }],
      }));
      expect((await sweep(w)).kept).toBe(1);
      expect((await w.deps.store.get('carol', ''))?.state).toBe('ready');
    });
  });

  describe('max age and quota', () => {
    it('stops an active lab past max age', async () => {
      const w = world();
      w.deps.settings = { ...w.deps.settings, maxAgeSeconds: 4 * 3600 };
      await readyLab(w, 'dave');
      w.deps.clock.advance(4 * 3600);
      expect((await sweep(w)).culled['max-age']).toBe(1);
      expect((await w.deps.store.get('dave', ''))?.reason?.code).toBe('max-age');
    });

    it('asks the usage source for the user and stops at the quota', async () => {
      const asked: string[] = [];
      const w = world(
        { dailyQuotaHours: 1 },
        {
          usage: async (user) => {
            asked.push(user);
            return 3000;
          },
        },
      );
      await readyLab(w, 'erin');
      w.deps.clock.advance(700);
      expect((await sweep(w)).culled.quota).toBe(1);
      expect(asked).toEqual(['erin']);
    });
  });

  describe('a lab that does not answer', () => {
    it('is not stopped on the first misses; misses are counted on the session', async () => {
      const w = world();
      await readyLab(w, 'fay');
      w.probe.answers.set('fay', () => Promise.reject(new Error('HTTP 500')));
      expect((await sweep(w)).misses).toBe(1);
      expect((await sweep(w)).misses).toBe(1);
      const after = await w.deps.store.get('fay', '');
      expect(after).toMatchObject({ state: 'ready', probeMisses: 2 });
      expect(w.compute.calls.stop).toEqual([]);
    });

    it('has its miss count reset by the next answer', async () => {
      const w = world();
      await readyLab(w, 'gus');
      w.probe.answers.set('gus', () => Promise.reject(new Error('timeout')));
      await sweep(w);
      w.probe.answers.delete('gus');
      await sweep(w);
      expect((await w.deps.store.get('gus', ''))?.probeMisses).toBeUndefined();
    });

    it('is recorded as ended after the miss limit when the compute says it exited', async () => {
      const w = world({ probeMissLimit: 2 });
      const lab = await readyLab(w, 'hal');
      w.probe.answers.set('hal', () => Promise.reject(new Error('connection refused')));
      await sweep(w);
      w.compute.crash(lab.computeHandle!, 137);
      const summary = await sweep(w);
      expect(summary.lost).toBe(1);
      const after = await w.deps.store.get('hal', '');
      expect(after).toMatchObject({ state: 'stopped', reason: { code: 'crashed' } });
      expect(w.router.routes.has(lab.id)).toBe(false);
    });

    it('is stopped with reason lost after the miss limit when it still runs but never answers', async () => {
      const w = world({ probeMissLimit: 3 });
      const lab = await readyLab(w, 'ivy');
      w.probe.answers.set('ivy', () => Promise.reject(new Error('timeout')));
      for (let i = 0; i < 3; i++) await sweep(w);
      const after = await w.deps.store.get('ivy', '');
      expect(after).toMatchObject({ state: 'stopped', reason: { code: 'lost' } });
      expect(after?.reason?.message).toContain('3 checks in a row');
      expect(w.compute.calls.stop).toEqual([lab.computeHandle]);
    });

    it('is not stopped when most labs fail at once (the culler is probably cut off)', async () => {
      const w = world({ probeMissLimit: 1 });
      const users = ['ja', 'jb', 'jc', 'jd', 'je', 'jf'];
      for (const user of users) await readyLab(w, user);
      w.probe.answers.clear();
      for (const user of users.slice(0, 4))
        w.probe.answers.set(user, () => Promise.reject(new Error('no route to host')));
      const summary = await sweep(w);
      expect(summary).toMatchObject({ probesSuspect: true, misses: 4, lost: 0 });
      expect(w.compute.calls.stop).toEqual([]);
    });
  });

  describe('what it reads', () => {
    it('probes only ready labs: starting and stopping ones are left alone', async () => {
      const w = world();
      await readyLab(w, 'kim');
      const never = new FakeCompute({ behaviour: { kind: 'never-starts' } });
      worlds.push({ ...w, compute: never });
      w.deps.compute = never;
      await startServer(w.deps, { user: 'lee', server: '', groups: [] });
      await sweep(w);
      expect(w.probe.probed).toEqual(['kim']);
    });

    it('pages through many sessions with bounded concurrency', async () => {
      const w = world({ concurrency: 7 });
      const now = w.deps.clock.now().toISOString();
      for (let i = 0; i < 1203; i++) {
        await w.deps.store.create({
          id: `u${i}__n${i}`,
          user: `u${i}`,
          server: '',
          profile: 'standard',
          state: 'ready',
          version: 1,
          createdAt: now,
          updatedAt: now,
          readyAt: now,
          lastActivity: now,
          target: { host: '10.0.0.1', port: 8888 },
          events: [],
        });
      }
      const summary = await sweep(w);
      expect(summary).toMatchObject({ checked: 1203, kept: 1203, itemsRead: 1203 });
      expect(new Set(w.probe.probed).size).toBe(1203);
      expect(w.probe.maxInFlight).toBe(7);
    });

    it('keeps going when one lab makes the check throw', async () => {
      const w = world();
      await readyLab(w, 'mo');
      await readyLab(w, 'ned');
      w.deps.clock.advance(2 * 3600);
      w.probe.answers.set('mo', () => ({ connections: 0, terminals: 0 }) as unknown as LabActivity); // no kernels list
      w.probe.answers.set('ned', idleFor(w, 2 * 3600));
      const summary = await sweep(w);
      expect(summary).toMatchObject({ errors: 1, culled: { idle: 1 } });
      expect((await w.deps.store.get('ned', ''))?.state).toBe('stopped');
    });
  });

  describe('lease', () => {
    it('lets only one of two concurrent sweeps run; the other reports lease-held', async () => {
      const w = world();
      await readyLab(w, 'olga');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      w.probe.answers.set('olga', async (s) => {
        await gate;
        return idleFor(w, 1)(s);
      });
      const first = cullServers(w.deps, { holder: 'one' });
      await new Promise((resolve) => setImmediate(resolve));
      const second = await cullServers(w.deps, { holder: 'two' });
      expect(second).toEqual({ skipped: 'lease-held' });
      release();
      expect(await first).toMatchObject({ checked: 1 });
      expect(w.probe.probed).toEqual(['olga']);
      expect(await cullServers(w.deps, { holder: 'three' })).toMatchObject({ checked: 1 }); // released afterwards
    });

    it('is taken over once it has expired (a sweep that crashed holding it)', async () => {
      const w = world({ leaseSeconds: 60 });
      expect(await w.deps.lease.acquire('culler', 'crashed', 60)).toBe(true);
      expect(await cullServers(w.deps)).toEqual({ skipped: 'lease-held' });
      w.deps.clock.advance(61);
      expect(await cullServers(w.deps)).toMatchObject({ checked: 0 });
    });
  });
});
