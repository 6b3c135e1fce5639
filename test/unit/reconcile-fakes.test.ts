import { afterEach, describe, expect, it } from 'vitest';
import { discardMetrics } from '../../functions/adapters/metrics/emf.ts';
import { MemoryLeaseStore } from '../../functions/core/culling/memory-lease-store.ts';
import type { CullerDeps } from '../../functions/core/culling/ports.ts';
import { reconcile } from '../../functions/core/culling/reconcile.ts';
import type { Session } from '../../functions/core/session.ts';
import { cullServers } from '../../functions/core/use-cases/cull.ts';
import { getServer } from '../../functions/core/use-cases/get-server.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { makeTestDeps, type TestDeps } from '../fakes/core-deps.ts';
import { type FakeBehaviour, FakeCompute } from '../fakes/fake-compute.ts';
import { FakeRouter } from '../fakes/fake-router.ts';

interface World {
  deps: CullerDeps & TestDeps;
  compute: FakeCompute;
  router: FakeRouter;
}

const computes: FakeCompute[] = [];
afterEach(() => {
  for (const compute of computes.splice(0)) compute.dispose();
});

function world(behaviour?: (user: string) => FakeBehaviour): World {
  const compute = new FakeCompute({ behaviour: behaviour ? (spec) => behaviour(spec.user) : undefined });
  computes.push(compute);
  const router = new FakeRouter();
  const base = makeTestDeps({ compute, router });
  const probe = {
    probe: async () => ({
      lastActivity: base.clock.now().toISOString(),
      connections: 0,
      kernels: [],
      terminals: 0,
    }),
  };
  return {
    deps: { ...base, probe, lease: new MemoryLeaseStore({ clock: base.clock }), metrics: discardMetrics },
    compute,
    router,
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

/**
 * A session whose start request died between creating the session and recording the
 * task's handle: the session is pending and the task runs. Returns the task's handle.
 */
async function startWithoutRecordingTheHandle(w: World, user: string): Promise<string> {
  const now = w.deps.clock.now().toISOString();
  const sessionId = `${user}__n1`;
  await w.deps.store.create({
    id: sessionId,
    user,
    server: '',
    profile: 'standard',
    state: 'pending',
    version: 1,
    createdAt: now,
    updatedAt: now,
    events: [],
  });
  return w.compute.start({
    sessionId,
    user,
    server: '',
    profile: w.deps.settings.profiles[0]!,
    home: '/h',
    baseUrl: `/user/${user}/`,
    env: {},
  });
}

async function readyLab(w: World, user: string): Promise<Session> {
  await startServer(w.deps, { user, server: '', groups: [] });
  await tick();
  return getServer(w.deps, user, '');
}

async function readySessions(w: World): Promise<Session[]> {
  return (await w.deps.store.listByState('ready', { limit: 1000 })).items;
}

describe('reconcile', () => {
  describe('orphan tasks', () => {
    it('stops a task no session claims', async () => {
      const w = world();
      const handle = await w.compute.start({
        sessionId: 'zed__abc',
        user: 'zed',
        server: '',
        profile: w.deps.settings.profiles[0]!,
        home: '/h',
        baseUrl: '/user/zed/',
        env: {},
      });
      await tick();
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.orphanTasksStopped).toBe(1);
      expect(await w.compute.poll(handle)).toMatchObject({ state: 'exited' });
    });

    it('stops the task of a session that already ended', async () => {
      const w = world();
      const lab = await readyLab(w, 'amy');
      // The stop was recorded but the StopTask call was lost.
      const ended = {
        ...lab,
        state: 'stopped' as const,
        route: undefined,
        updatedAt: w.deps.clock.now().toISOString(),
      };
      await w.deps.store.update(ended, lab.version);
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.orphanTasksStopped).toBe(1);
      expect(w.compute.calls.stop).toEqual([lab.computeHandle]);
    });

    it('leaves alone a task whose session is still being started (no handle recorded yet)', async () => {
      const w = world();
      await startWithoutRecordingTheHandle(w, 'ben');
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.orphanTasksStopped).toBe(0);
      expect(w.compute.calls.stop).toEqual([]);
    });

    it('leaves alone the tasks of live sessions', async () => {
      const w = world();
      await readyLab(w, 'cal');
      const result = await reconcile(w.deps, { ready: await readySessions(w) });
      expect(result).toMatchObject({
        orphanTasksStopped: 0,
        orphanRoutesDeleted: 0,
        lostSessions: 0,
        sessions: { ready: 1 },
      });
      expect(w.compute.calls.stop).toEqual([]);
    });
  });

  describe('orphan routes', () => {
    it('deletes a route no session claims', async () => {
      const w = world();
      const now = w.deps.clock.now().toISOString();
      const ghost: Session = {
        id: 'dan__gone',
        user: 'dan',
        server: '',
        profile: 'standard',
        state: 'ready',
        version: 1,
        createdAt: now,
        updatedAt: now,
        events: [],
      };
      await w.router.addRoute(ghost, { host: '10.0.0.9', port: 8888 });
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.orphanRoutesDeleted).toBe(1);
      expect(w.router.routes.size).toBe(0);
    });

    it('gives a ready session its route back when the router lost it', async () => {
      const w = world();
      const lab = await readyLab(w, 'eve');
      w.router.routes.clear(); // the local gateway restarted
      const result = await reconcile(w.deps, { ready: await readySessions(w) });
      expect(result.routesRestored).toBe(1);
      expect(w.router.routes.get(lab.id)?.target).toEqual(lab.target);
    });
  });

  describe('lost tasks', () => {
    it('records a ready session whose task the platform forgot as stopped with reason lost, and removes its route', async () => {
      const w = world();
      const lab = await readyLab(w, 'fin');
      w.compute.tasks.delete(lab.computeHandle!);
      const result = await reconcile(w.deps, { ready: await readySessions(w) });
      expect(result.lostSessions).toBe(1);
      expect(await w.deps.store.get('fin', '')).toMatchObject({ state: 'stopped', reason: { code: 'lost' } });
      expect(w.router.routes.has(lab.id)).toBe(false);
      expect(w.deps.events.events.at(-1)).toMatchObject({ type: 'stop', reason: 'lost' });
    });

    it('records a launching session whose task crashed (its event was lost) as failed', async () => {
      const w = world(() => ({ kind: 'never-starts' }));
      const { session } = await startServer(w.deps, { user: 'gil', server: '', groups: [] });
      w.compute.crash(session.computeHandle!, 1);
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.lostSessions).toBe(1);
      expect(await w.deps.store.get('gil', '')).toMatchObject({
        state: 'failed',
        reason: { code: 'crashed' },
      });
    });
  });

  describe('stuck sessions', () => {
    it('fails a session left pending past the start timeout (its start request died), stopping any task it had', async () => {
      const w = world();
      const handle = await startWithoutRecordingTheHandle(w, 'hana');
      w.deps.clock.advance(100);
      expect((await reconcile(w.deps, { ready: [] })).stuckFailed).toBe(0);
      w.deps.clock.advance(100);
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.stuckFailed).toBe(1);
      expect(await w.deps.store.get('hana', '')).toMatchObject({
        state: 'failed',
        reason: { code: 'stuck' },
      });
      expect(w.compute.calls.stop).toContain(handle);
    });

    it('fails and stops a server that never starts', async () => {
      const w = world(() => ({ kind: 'never-starts' }));
      const { session } = await startServer(w.deps, { user: 'ian', server: '', groups: [] });
      w.deps.clock.advance(181);
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.stuckFailed).toBe(1);
      const after = await w.deps.store.get('ian', '');
      expect(after).toMatchObject({
        state: 'failed',
        reason: { code: 'stuck', message: expect.stringContaining('3 minutes') },
      });
      expect(w.compute.calls.stop).toEqual([session.computeHandle]);
    });

    it('drives a launching session forward when its server runs but the event was lost', async () => {
      const w = world();
      await startServer(w.deps, { user: 'jo', server: '', groups: [] });
      await tick();
      w.deps.clock.advance(200);
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.stuckAdvanced).toBe(1);
      expect((await w.deps.store.get('jo', ''))?.state).toBe('ready');
    });

    it('asks again for a stop that never finished, and records it once the server exits', async () => {
      const w = world();
      const lab = await readyLab(w, 'kay');
      // Stopping was recorded, then the process died before StopTask was sent.
      const stopping = {
        ...lab,
        state: 'stopping' as const,
        reason: { code: 'idle' as const, message: 'Stopped after 60 minutes without activity.' },
        updatedAt: w.deps.clock.now().toISOString(),
      };
      await w.deps.store.update(stopping, lab.version);
      expect((await reconcile(w.deps, { ready: [] })).stopsRetried).toBe(0);
      w.deps.clock.advance(301);
      const result = await reconcile(w.deps, { ready: [] });
      expect(result.stopsRetried).toBe(1);
      expect(w.compute.calls.stop).toEqual([lab.computeHandle]);
      expect(await w.deps.store.get('kay', '')).toMatchObject({ state: 'stopped', reason: { code: 'idle' } });
      expect(w.router.routes.has(lab.id)).toBe(false);
      expect(w.deps.events.events.at(-1)).toMatchObject({ type: 'cull', reason: 'idle' });
    });
  });

  describe('as part of a culler run', () => {
    it('counts sessions by state and reports what it repaired', async () => {
      const w = world((user) =>
        user === 'slow' ? { kind: 'never-starts' } : { kind: 'normal', startMs: 0 },
      );
      await readyLab(w, 'liz');
      await startServer(w.deps, { user: 'slow', server: '', groups: [] });
      await w.compute.start({
        sessionId: 'nobody__x',
        user: 'nobody',
        server: '',
        profile: w.deps.settings.profiles[0]!,
        home: '/h',
        baseUrl: '/user/nobody/',
        env: {},
      });
      const run = await cullServers(w.deps);
      expect(run).toMatchObject({
        checked: 1,
        sessions: { ready: 1, launching: 1 },
        reconciled: { orphanTasksStopped: 1 },
        itemsRead: 2,
      });
    });
  });
});
