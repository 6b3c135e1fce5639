import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CapacityError,
  ForbiddenError,
  SpawnError,
  ThrottledError,
  ValidationError,
} from '../../functions/core/errors.ts';
import { hmacLabTokens } from '../../functions/core/lab-tokens.ts';
import { finish } from '../../functions/core/lifecycle.ts';
import type { Session } from '../../functions/core/session.ts';
import type { TaskStateChangeEvent } from '../../functions/core/task-event.ts';
import { getServer } from '../../functions/core/use-cases/get-server.ts';
import { handleTaskEvent } from '../../functions/core/use-cases/handle-task-event.ts';
import { listServers } from '../../functions/core/use-cases/list-servers.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { stopServer } from '../../functions/core/use-cases/stop-server.ts';
import { makeTestDeps, TEST_LAB_TOKEN_KEY } from '../fakes/core-deps.ts';
import { type FakeBehaviour, FakeCompute } from '../fakes/fake-compute.ts';
import { FakeRouter } from '../fakes/fake-router.ts';

const computes: FakeCompute[] = [];
afterEach(() => {
  for (const compute of computes.splice(0)) compute.dispose();
});

function setup(options: { behaviour?: FakeBehaviour; routerCapacity?: number } = {}) {
  const compute = new FakeCompute({ behaviour: options.behaviour ?? { kind: 'never-starts' } });
  computes.push(compute);
  const router = new FakeRouter(options.routerCapacity);
  const deps = makeTestDeps({ compute, router });
  return { deps, compute, router };
}

const start = (
  deps: ReturnType<typeof setup>['deps'],
  user = 'alice',
  extra: Partial<Parameters<typeof startServer>[1]> = {},
) => startServer(deps, { user, server: '', groups: [], ...extra });

const stop = (deps: ReturnType<typeof setup>['deps'], user = 'alice') =>
  stopServer(deps, { user, server: '', reason: { code: 'user', message: 'Stopped by its owner.' } });

describe('startServer', () => {
  it('returns at once with a launching session, without waiting for the server to run', async () => {
    const { deps, compute } = setup();
    const { session, created } = await start(deps);
    expect(created).toBe(true);
    expect(session.state).toBe('launching');
    expect(session.computeHandle).toBe('fake-task/1');
    expect(session.events.map((e) => e.message)).toEqual(['Server requested', 'Server is starting']);
    expect(compute.calls.start).toHaveLength(1);
  });

  it('launches the lab under the user base URL with its owner and the hash of its token', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    const spec = compute.calls.start[0]!;
    expect(spec.baseUrl).toBe('/user/alice/');
    expect(spec.home).toBe('/homes/alice');
    expect(spec.env.HUBLESS_OWNER).toBe('alice');
    expect(spec.env.HUBLESS_IDENTITY_KEYS_URL).toBe('http://keys.invalid');
    // The lab gets SHA-256 of HMAC(key, session id): the token it will be shown when the culler calls.
    const token = createHmac('sha256', TEST_LAB_TOKEN_KEY).update(session.id).digest('hex');
    expect(spec.env.HUBLESS_LAB_TOKEN_SHA256).toBe(createHash('sha256').update(token).digest('hex'));
  });

  it('stores no lab token and hands none to the compute: only its hash travels', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    const token = await deps.labTokens.tokenFor(session.id);
    const stored = await deps.store.get('alice', '');
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(JSON.stringify(compute.calls.start[0])).not.toContain(token);
    expect(Object.keys(compute.calls.start[0]!.env)).not.toContain('HUBLESS_LAB_TOKEN');
    // Tokens differ per session and keys differ per deployment.
    const other = hmacLabTokens(async () => 'another-deployment-key-0123456789');
    expect(await other.tokenFor(session.id)).not.toBe(token);
    expect(await deps.labTokens.tokenFor(`${session.id}x`)).not.toBe(token);
  });

  it('refuses to make lab tokens from an empty key, and reads the key again after a failure', async () => {
    let reads = 0;
    const tokens = hmacLabTokens(async () => (++reads === 1 ? '' : 'a-key-of-enough-length-123'));
    await expect(tokens.tokenFor('alice__n1')).rejects.toThrow(/lab token key/);
    await expect(tokens.tokenFor('alice__n1')).resolves.toMatch(/^[0-9a-f]{64}$/);
    await tokens.tokenFor('bob__n2');
    expect(reads).toBe(2);
  });

  it('is idempotent: a second start returns the same session', async () => {
    const { deps, compute } = setup();
    const first = await start(deps);
    const second = await start(deps);
    expect(second.created).toBe(false);
    expect(second.session.id).toBe(first.session.id);
    expect(compute.calls.start).toHaveLength(1);
  });

  it('makes exactly one server for 50 concurrent starts of one user', async () => {
    const { deps, compute } = setup();
    const results = await Promise.all(Array.from({ length: 50 }, () => start(deps)));
    expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(compute.calls.start).toHaveLength(1);
  });

  it('refuses an unknown profile with a 400 that lists the available ones', async () => {
    const { deps } = setup();
    await expect(start(deps, 'alice', { profile: 'huge' })).rejects.toThrow(ValidationError);
    await expect(start(deps, 'alice', { profile: 'huge' })).rejects.toThrow(/Available profiles: standard/);
  });

  it('keeps group-limited profiles to their groups', async () => {
    const { deps } = setup();
    deps.settings.profiles = [
      ...deps.settings.profiles,
      { name: 'gpu', description: '', cpu: 4096, memory: 16384, spot: false, groups: ['research'] },
    ];
    await expect(start(deps, 'alice', { profile: 'gpu' })).rejects.toThrow(ForbiddenError);
    const { session } = await start(deps, 'bob', { profile: 'gpu', groups: ['research'] });
    expect(session.profile).toBe('gpu');
  });

  it('records the platform refusal on the session and lets the user try again', async () => {
    const { deps } = setup({
      behaviour: { kind: 'refuses', error: new SpawnError('No Fargate capacity in the zone.') },
    });
    await expect(start(deps)).rejects.toThrow('No Fargate capacity in the zone.');
    const failed = await getServer(deps, 'alice', '');
    expect(failed.state).toBe('failed');
    expect(failed.reason).toEqual({ code: 'start-failed', message: 'No Fargate capacity in the zone.' });
    await expect(start(deps)).rejects.toThrow(SpawnError); // a new attempt, not the old failure
  });

  it('hides internal errors from the user but still fails the session', async () => {
    const { deps } = setup({
      behaviour: { kind: 'refuses', error: new Error('socket hang up at 10.0.0.1') },
    });
    await expect(start(deps)).rejects.toThrow('socket hang up');
    const failed = await getServer(deps, 'alice', '');
    expect(failed.reason?.message).toMatch(/internal error/);
    expect(failed.reason?.message).not.toContain('10.0.0.1');
  });
});

describe('progress to ready', () => {
  it('moves launching -> running -> ready once the route answers', async () => {
    const { deps, compute, router } = setup();
    const { session } = await start(deps);
    compute.run(session.computeHandle!);
    const ready = await getServer(deps, 'alice', '');
    expect(ready.state).toBe('ready');
    expect(ready.route).toEqual({ prefix: '/user/alice/', slot: 1 });
    expect(router.routes.has(session.id)).toBe(true);
    expect(ready.events.map((e) => e.progress)).toEqual([10, 30, 70, 100]);
    expect(deps.events.events.map((e) => e.type)).toEqual(['start', 'ready']);
  });

  it('adds the route once when the task event and progress polls race', async () => {
    const { deps, compute, router } = setup();
    const { session } = await start(deps);
    compute.run(session.computeHandle!);
    const results = await Promise.all(Array.from({ length: 10 }, () => getServer(deps, 'alice', '')));
    expect(router.addCalls).toBe(1);
    expect(results.some((s) => s.state === 'ready')).toBe(true);
    expect((await getServer(deps, 'alice', '')).state).toBe('ready');
  });

  it('stays running while the route does not answer yet (ALB health check)', async () => {
    const { deps, compute, router } = setup();
    router.healthy = false;
    const { session } = await start(deps);
    compute.run(session.computeHandle!);
    expect((await getServer(deps, 'alice', '')).state).toBe('running');
    router.healthy = true;
    expect((await getServer(deps, 'alice', '')).state).toBe('ready');
  });

  it('stays launching while the server never starts', async () => {
    const { deps } = setup({ behaviour: { kind: 'never-starts' } });
    await start(deps);
    expect((await getServer(deps, 'alice', '')).state).toBe('launching');
  });

  it('fails with the exit reason when the server crashes while starting', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    compute.crash(session.computeHandle!, 3);
    const failed = await getServer(deps, 'alice', '');
    expect(failed.state).toBe('failed');
    expect(failed.reason).toEqual({ code: 'crashed', message: 'The server exited with exit code 3.' });
  });

  it('stops the server and says the pool is full when no route is free', async () => {
    const { deps, compute } = setup({ routerCapacity: 1 });
    const a = await start(deps, 'alice');
    compute.run(a.session.computeHandle!);
    expect((await getServer(deps, 'alice', '')).state).toBe('ready');
    const b = await start(deps, 'bob');
    compute.run(b.session.computeHandle!);
    await expect(getServer(deps, 'bob', '')).rejects.toThrow(CapacityError);
    const failed = await getServer(deps, 'bob', '');
    expect(failed.state).toBe('failed');
    expect(failed.reason?.code).toBe('capacity');
    expect(await compute.poll(b.session.computeHandle!)).toMatchObject({ state: 'exited' });
  });
});

describe('handleTaskEvent', () => {
  function eventFor(
    session: Session,
    lastStatus: string,
    extra: Partial<TaskStateChangeEvent['detail']> = {},
  ): TaskStateChangeEvent {
    return {
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      detail: {
        taskArn: session.computeHandle!,
        startedBy: session.id,
        lastStatus,
        attachments: [{ details: [{ name: 'privateIPv4Address', value: '10.0.0.9' }] }],
        ...extra,
      },
    };
  }

  it('makes a session ready from a RUNNING event', async () => {
    const { deps } = setup();
    const { session } = await start(deps);
    const result = await handleTaskEvent(deps, eventFor(session, 'RUNNING'));
    expect(result.outcome).toBe('advanced');
    expect(result.session?.state).toBe('ready');
    expect(result.session?.target).toEqual({ host: '10.0.0.9', port: 8888 });
  });

  it('is harmless when events are duplicated or arrive out of order', async () => {
    const { deps } = setup();
    const { session } = await start(deps);
    await handleTaskEvent(deps, eventFor(session, 'RUNNING'));
    await handleTaskEvent(deps, eventFor(session, 'RUNNING'));
    await handleTaskEvent(deps, eventFor(session, 'PENDING'));
    expect((await getServer(deps, 'alice', '')).state).toBe('ready');
    const stopped = eventFor(session, 'STOPPED', { stopCode: 'SpotInterruption' });
    await handleTaskEvent(deps, stopped);
    await handleTaskEvent(deps, stopped);
    await handleTaskEvent(deps, eventFor(session, 'RUNNING'));
    const final = await getServer(deps, 'alice', '');
    expect(final.state).toBe('stopped');
    expect(final.reason?.code).toBe('spot-interruption');
    expect(final.route).toBeUndefined();
  });

  it('stops a running task that no session claims', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    await stop(deps);
    await start(deps); // a newer session replaces the old one
    const late = await handleTaskEvent(deps, {
      ...eventFor(session, 'RUNNING'),
      detail: { ...eventFor(session, 'RUNNING').detail, taskArn: 'fake-task/99' },
    });
    expect(late.outcome).toBe('orphan-stopped');
    expect(compute.calls.stop).toContain('fake-task/99');
  });

  it('ignores tasks that hubless did not start', async () => {
    const { deps } = setup();
    const result = await handleTaskEvent(deps, {
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      detail: { taskArn: 'arn:aws:ecs:t/1', startedBy: 'ecs-svc/123', lastStatus: 'RUNNING' },
    });
    expect(result.outcome).toBe('ignored');
  });
});

describe('stopServer', () => {
  it('stops a ready server, removes its route and keeps the reason', async () => {
    const { deps, compute, router } = setup();
    const { session } = await start(deps);
    compute.run(session.computeHandle!);
    await getServer(deps, 'alice', '');
    const stopped = await stop(deps);
    expect(stopped.state).toBe('stopped');
    expect(stopped.reason).toEqual({ code: 'user', message: 'Stopped by its owner.' });
    expect(router.routes.size).toBe(0);
    expect(deps.events.events.map((e) => e.type)).toEqual(['start', 'ready', 'stop']);
  });

  it('is idempotent', async () => {
    const { deps } = setup();
    await start(deps);
    await stop(deps);
    const again = await stop(deps);
    expect(again.state).toBe('stopped');
  });

  it('lets the user start again after a stop, with a new session', async () => {
    const { deps, compute } = setup();
    const first = await start(deps);
    await stop(deps);
    const second = await start(deps);
    expect(second.created).toBe(true);
    expect(second.session.id).not.toBe(first.session.id);
    expect(compute.calls.start).toHaveLength(2);
  });

  it('says so when the user has no server', async () => {
    const { deps } = setup();
    await expect(stop(deps, 'nobody')).rejects.toThrow('nobody has no server.');
  });
});

describe('listServers', () => {
  it('lists active sessions across users, or one user', async () => {
    const { deps } = setup();
    await start(deps, 'alice');
    await start(deps, 'bob');
    await stop(deps, 'bob');
    expect((await listServers(deps)).map((s) => s.user)).toEqual(['alice']);
    expect((await listServers(deps, { user: 'bob', states: ['stopped'] })).map((s) => s.state)).toEqual([
      'stopped',
    ]);
  });
});

describe('lifecycle events', () => {
  it('announces ready and stop once each when writers race', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    compute.run(session.computeHandle!);
    await Promise.all(Array.from({ length: 5 }, () => getServer(deps, 'alice', '')));
    await Promise.all([stop(deps), stop(deps), getServer(deps, 'alice', '')]);
    expect(deps.events.events.map((e) => e.type)).toEqual(['start', 'ready', 'stop']);
  });
});

describe('a task that runs before its start is recorded', () => {
  it('still becomes ready without anyone polling', async () => {
    const { deps } = setup({ behaviour: { kind: 'normal', startMs: 0 } });
    const compute = deps.compute as FakeCompute;
    // The fake runs the task synchronously inside start(), before the handle is written.
    const start = compute.start.bind(compute);
    compute.start = async (spec) => {
      const handle = await start(spec);
      compute.run(handle);
      return handle;
    };
    const { session } = await startServer(deps, { user: 'alice', server: '', groups: [] });
    expect(session.state).toBe('ready');
  });
});

describe('finish after a racing route', () => {
  it('removes a route recorded after the finisher read the session', async () => {
    const { deps, compute, router } = setup();
    const { session } = await start(deps);
    const stale = await deps.store.get('alice', ''); // read before the route exists
    compute.run(session.computeHandle!);
    await getServer(deps, 'alice', ''); // connect() records the route
    expect(router.routes.size).toBe(1);
    await finish(deps, stale!, { code: 'crashed', reason: 'The server exited.' });
    expect((await deps.store.get('alice', ''))?.state).toBe('stopped');
    expect(router.routes.size).toBe(0);
  });
});

describe('cloud trouble while starting', () => {
  it('keeps a server running and retries the route later when AWS throttles', async () => {
    const { deps, compute, router } = setup();
    const { session } = await start(deps);
    compute.run(session.computeHandle!);
    router.failNextAdd = new ThrottledError('AWS is throttling CreateRule.');
    expect((await getServer(deps, 'alice', '')).state).toBe('running');
    expect(await compute.poll(session.computeHandle!)).toMatchObject({ state: 'running' });
    expect((await getServer(deps, 'alice', '')).state).toBe('ready');
  });

  it('answers Start after Stop with a clear message while the old server is still stopping', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    compute.run(session.computeHandle!);
    await getServer(deps, 'alice', '');
    // A compute that takes its time to stop (like Fargate's 30 s).
    compute.stop = async () => undefined;
    expect((await stop(deps)).state).toBe('stopping');
    await expect(start(deps)).rejects.toThrow('still stopping');
    compute.crash(session.computeHandle!, 0);
    const again = await start(deps);
    expect(again.created).toBe(true);
  });
});
