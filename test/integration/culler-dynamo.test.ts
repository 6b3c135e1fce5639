import '../support/aws-calls/checked.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoLeaseStore } from '../../functions/adapters/dynamodb/lease-store.ts';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store.ts';
import { discardMetrics } from '../../functions/adapters/metrics/emf.ts';
import type { CullerDeps } from '../../functions/core/culling/ports.ts';
import type { LabActivity } from '../../functions/core/ports.ts';
import type { Session } from '../../functions/core/session.ts';
import { cullServers } from '../../functions/core/use-cases/cull.ts';
import { getServer } from '../../functions/core/use-cases/get-server.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';
import { FakeClock } from '../fakes/fake-parts.ts';
import { FakeRouter } from '../fakes/fake-router.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { waitFor } from '../support/net.ts';

const dynamo = useTestDynamo();
const computes: FakeCompute[] = [];
afterEach(() => {
  for (const compute of computes.splice(0)) compute.dispose();
});

describe('cullServers over DynamoDB Local', () => {
  async function world() {
    const clock = new FakeClock();
    const tableName = await dynamo.freshTable();
    const compute = new FakeCompute();
    computes.push(compute);
    const router = new FakeRouter();
    const base = makeTestDeps({
      clock,
      compute,
      router,
      store: new DynamoSessionStore({ client: dynamo.doc, tableName, clock }),
    });
    let answer = (): Promise<LabActivity> =>
      Promise.resolve({
        lastActivity: new Date(clock.now().getTime() - 2 * 3600 * 1000).toISOString(),
        connections: 1,
        kernels: [],
        terminals: 0,
      });
    const deps: CullerDeps = {
      ...base,
      probe: { probe: () => answer() },
      lease: new DynamoLeaseStore({ client: dynamo.doc, tableName, clock }),
      metrics: discardMetrics,
    };
    return { deps, clock, compute, router, setAnswer: (fn: typeof answer) => (answer = fn) };
  }

  async function readyLab(deps: CullerDeps, user: string): Promise<Session> {
    await startServer(deps, { user, server: '', groups: [] });
    // The fake task runs on its next timer tick; getServer then records the lab ready.
    return waitFor(
      `${user}'s lab to be ready`,
      async () => {
        const session = await getServer(deps, user, '');
        return session.state === 'ready' ? session : undefined;
      },
      10_000,
      5,
    );
  }

  it('stops idle labs, deletes orphan routes and records the culls in the table', async () => {
    const { deps, clock, router } = await world();
    const idle = await readyLab(deps, 'alice');
    expect(idle.state).toBe('ready');
    const now = clock.now().toISOString();
    await router.addRoute(
      { ...idle, id: 'ghost__gone', user: 'ghost', createdAt: now },
      { host: '10.9.9.9', port: 8888 },
    );
    clock.advance(2 * 3600);

    const run = await cullServers(deps);

    expect(run).toMatchObject({ checked: 1, culled: { idle: 1 }, reconciled: { orphanRoutesDeleted: 1 } });
    expect(await deps.store.get('alice', '')).toMatchObject({ state: 'stopped', reason: { code: 'idle' } });
    expect((await deps.store.listByState('ready')).items).toEqual([]);
    expect(router.routes.size).toBe(0);
  });

  it('runs one sweep at a time: a concurrent one returns lease-held', async () => {
    const { deps, setAnswer } = await world();
    await readyLab(deps, 'bob');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let probing!: () => void;
    const probed = new Promise<void>((resolve) => (probing = resolve));
    setAnswer(async () => {
      probing();
      await gate;
      return { lastActivity: new Date().toISOString(), connections: 0, kernels: [], terminals: 0 };
    });
    const first = cullServers(deps, { holder: 'first' });
    // The first sweep probes only once it holds the lease: from here it holds it until released.
    await probed;
    expect(await cullServers(deps, { holder: 'second' })).toEqual({ skipped: 'lease-held' });
    release();
    expect(await first).toMatchObject({ checked: 1, kept: 1 });
    expect(await cullServers(deps, { holder: 'third' })).toMatchObject({ checked: 1 });
  });

  it('counts probe misses on the stored session with conditional writes', async () => {
    const { deps, setAnswer } = await world();
    await readyLab(deps, 'cy');
    setAnswer(() => Promise.reject(new Error('connection refused')));
    await cullServers(deps);
    await cullServers(deps);
    expect(await deps.store.get('cy', '')).toMatchObject({ state: 'ready', probeMisses: 2 });
  });
});
