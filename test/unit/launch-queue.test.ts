import { afterEach, describe, expect, it } from 'vitest';
import { InProcessLaunchQueue } from '../../functions/adapters/local/in-process-launch-queue.ts';
import { SpawnError, ThrottledError } from '../../functions/core/errors.ts';
import type { LaunchQueue } from '../../functions/core/ports.ts';
import { canTransition } from '../../functions/core/session.ts';
import { handleTaskEvent } from '../../functions/core/use-cases/handle-task-event.ts';
import { launchSession } from '../../functions/core/use-cases/launch-session.ts';
import { launchesAhead, queueMessage } from '../../functions/core/use-cases/queue-place.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { stopServer } from '../../functions/core/use-cases/stop-server.ts';
import { makeTestDeps, type TestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';

/** A queue that only records: the test plays the launcher (and SQS's redeliveries). */
class RecordingQueue implements LaunchQueue {
  readonly sent: string[] = [];
  took = 0;
  refuse?: Error;
  async enqueue(sessionId: string): Promise<number> {
    if (this.refuse) throw this.refuse;
    this.sent.push(sessionId);
    return this.sent.length;
  }
  async ahead(ticket: number): Promise<number> {
    return Math.max(0, ticket - this.took - 1);
  }
  async taken(count: number): Promise<void> {
    this.took += count;
  }
}

const computes: FakeCompute[] = [];
afterEach(() => {
  for (const compute of computes.splice(0)) compute.dispose();
});

function setup(compute = new FakeCompute({ behaviour: { kind: 'never-starts' } })) {
  computes.push(compute);
  const queue = new RecordingQueue();
  const deps: TestDeps = makeTestDeps({ compute, launches: queue });
  return { deps, compute, queue };
}

const start = (deps: TestDeps, user = 'alice', groups: string[] = []) =>
  startServer(deps, { user, server: '', groups });

describe('start with a launch queue', () => {
  it('records the session and queues its launch, without touching the compute or the homes', async () => {
    const { deps, compute, queue } = setup();
    const { session, created } = await start(deps);
    expect(created).toBe(true);
    expect(session.state).toBe('pending');
    expect(session.queueTicket).toBe(1);
    expect(queue.sent).toEqual([session.id]);
    expect(compute.calls.start).toHaveLength(0);
    expect(deps.homes.ensured).toHaveLength(0);
    expect(deps.events.events.map((e) => e.type)).toEqual(['start']);
  });

  it('queues one launch for N concurrent starts of one user', async () => {
    const { deps, queue } = setup();
    const results = await Promise.all(Array.from({ length: 5 }, () => start(deps)));
    expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
    expect(queue.sent).toHaveLength(1);
  });

  it('fails the session with a reason when the queue refuses, so nobody waits for a launch that never comes', async () => {
    const { deps, queue } = setup();
    queue.refuse = new Error('SQS is down');
    await expect(start(deps)).rejects.toThrow('SQS is down');
    const stored = await deps.store.get('alice', '');
    expect(stored?.state).toBe('failed');
    expect(stored?.reason?.code).toBe('start-failed');
    expect(stored?.reason?.message).toMatch(/internal error/);
  });

  it('shows the place in the queue while the launch waits, and nothing once it launched', async () => {
    const { deps, queue } = setup();
    for (const user of ['ann', 'bob', 'cy']) await start(deps, user);
    const cy = (await deps.store.get('cy', ''))!;
    expect(await launchesAhead(deps, cy)).toBe(2);
    expect(queueMessage(2)).toBe('Waiting for capacity: 2 ahead of you');
    await queue.taken(2);
    expect(await launchesAhead(deps, cy)).toBeUndefined();
    queue.took = 0;
    await launchSession(deps, cy.id);
    expect(await launchesAhead(deps, (await deps.store.get('cy', ''))!)).toBeUndefined();
  });
});

describe('launchSession (the launcher)', () => {
  it('launches a pending session: home, task, launching, with the shared-data access decided at start', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps, 'grace', ['py-101-admins']);
    const result = await launchSession(deps, session.id);
    expect(result.outcome).toBe('launched');
    expect(result.session?.state).toBe('launching');
    expect(result.session?.queueTicket).toBeUndefined();
    expect(compute.calls.start).toHaveLength(1);
    expect(compute.calls.start[0]?.sharedData).toBe('write');
    expect(compute.calls.start[0]?.env.HUBLESS_OWNER).toBe('grace');
  });

  it('is a no-op for a redelivered message: one task per session', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    expect((await launchSession(deps, session.id)).outcome).toBe('launched');
    expect((await launchSession(deps, session.id)).outcome).toBe('skipped');
    expect(compute.calls.start).toHaveLength(1);
    expect((await deps.store.get('alice', ''))?.computeHandle).toBe('fake-task/1');
  });

  it('leaves one task running when two copies of a message launch at once', async () => {
    // ECS gives both the same task (RunTask's clientToken is the session's); a compute
    // that does not, as this fake, gets the loser's task stopped.
    const { deps, compute } = setup();
    const { session } = await start(deps);
    const outcomes = await Promise.all([launchSession(deps, session.id), launchSession(deps, session.id)]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['launched', 'skipped']);
    const recorded = (await deps.store.get('alice', ''))?.computeHandle;
    const started = compute.calls.start.map((_, i) => `fake-task/${i + 1}`);
    expect(started.filter((handle) => handle !== recorded)).toEqual(compute.calls.stop);
  });

  it('launches nothing for a session stopped while it waited in the queue', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    const stopped = await stopServer(deps, {
      user: 'alice',
      server: '',
      reason: { code: 'user', message: 'Stopped by its owner.' },
    });
    expect(stopped.state).toBe('stopped');
    expect((await launchSession(deps, session.id)).outcome).toBe('skipped');
    expect(compute.calls.start).toHaveLength(0);
  });

  it('launches nothing for a message of an older session the user has since replaced', async () => {
    const { deps, compute } = setup();
    const { session: old } = await start(deps);
    await stopServer(deps, { user: 'alice', server: '', reason: { code: 'user', message: 'Stopped.' } });
    const { session: fresh } = await start(deps);
    expect((await launchSession(deps, old.id)).outcome).toBe('skipped');
    expect(compute.calls.start).toHaveLength(0);
    expect((await launchSession(deps, fresh.id)).outcome).toBe('launched');
  });

  it('drops a message that names no session', async () => {
    const { deps } = setup();
    expect((await launchSession(deps, 'not-a-session')).outcome).toBe('skipped');
  });

  it('stops the task it started when the session was stopped during the launch', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    const realStart = compute.start.bind(compute);
    compute.start = async (spec) => {
      const handle = await realStart(spec);
      await stopServer(deps, { user: 'alice', server: '', reason: { code: 'user', message: 'Stopped.' } });
      return handle;
    };
    const result = await launchSession(deps, session.id);
    expect(result.outcome).toBe('skipped');
    expect(compute.calls.stop).toContain('fake-task/1');
    expect((await deps.store.get('alice', ''))?.state).toBe('stopped');
  });

  it('throws throttling for the queue to retry, leaving the session pending; the retry launches it', async () => {
    let throttle = true;
    const compute = new FakeCompute({ behaviour: { kind: 'never-starts' } });
    const realStart = compute.start.bind(compute);
    compute.start = async (spec) => {
      if (throttle) throw new ThrottledError('Rate exceeded');
      return realStart(spec);
    };
    const { deps } = setup(compute);
    const { session } = await start(deps);
    await expect(launchSession(deps, session.id)).rejects.toBeInstanceOf(ThrottledError);
    expect((await deps.store.get('alice', ''))?.state).toBe('pending');
    throttle = false;
    expect((await launchSession(deps, session.id)).outcome).toBe('launched');
  });

  it('records a refused launch as failed with the platform reason, and does not ask for a retry', async () => {
    const { deps } = setup(
      new FakeCompute({ behaviour: { kind: 'refuses', error: new SpawnError('RESOURCE:ENI (fake).') } }),
    );
    const { session } = await start(deps);
    const result = await launchSession(deps, session.id);
    expect(result.outcome).toBe('failed');
    const stored = await deps.store.get('alice', '');
    expect(stored?.state).toBe('failed');
    expect(stored?.reason).toMatchObject({ code: 'start-failed', message: 'RESOURCE:ENI (fake).' });
  });

  it('fails a session whose profile was removed while it waited, saying so', async () => {
    const { deps, compute } = setup();
    const { session } = await start(deps);
    deps.settings = {
      ...deps.settings,
      profiles: deps.settings.profiles.map((p) => ({ ...p, name: `${p.name}-new` })),
    };
    expect((await launchSession(deps, session.id)).outcome).toBe('failed');
    expect((await deps.store.get('alice', ''))?.reason?.message).toMatch(/no longer exists/);
    expect(compute.calls.start).toHaveLength(0);
  });

  it('a task event for a still-pending session is left to the launcher (which polls once after recording)', async () => {
    const { deps } = setup();
    const { session } = await start(deps);
    const outcome = await handleTaskEvent(deps, {
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      detail: { taskArn: 'fake-task/1', lastStatus: 'PROVISIONING', startedBy: session.id },
    });
    expect(outcome.outcome).toBe('ignored');
    expect((await deps.store.get('alice', ''))?.state).toBe('pending');
  });

  it('uses only lifecycle moves the state machine allows (pending -> launching; pending -> stopping -> stopped)', () => {
    expect(canTransition('pending', 'launching')).toBe(true);
    expect(canTransition('pending', 'stopping')).toBe(true);
    expect(canTransition('pending', 'failed')).toBe(true);
    expect(canTransition('stopped', 'launching')).toBe(false);
    expect(canTransition('failed', 'launching')).toBe(false);
  });
});

describe('InProcessLaunchQueue (local mode)', () => {
  function gatedQueue(concurrency: number) {
    const started: string[] = [];
    const release = new Map<string, () => void>();
    const queue = new InProcessLaunchQueue({
      concurrency,
      launch: (id) =>
        new Promise<void>((resolve) => {
          started.push(id);
          release.set(id, resolve);
        }),
      retryDelaysMs: [5],
    });
    return { queue, started, release };
  }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

  it('runs at most `concurrency` launches at once, in arrival order', async () => {
    const { queue, started, release } = gatedQueue(2);
    const tickets = [];
    for (const id of ['a', 'b', 'c', 'd']) tickets.push(await queue.enqueue(id));
    expect(tickets).toEqual([1, 2, 3, 4]);
    await tick();
    expect(started).toEqual(['a', 'b']);
    expect(await queue.ahead(4)).toBe(1);
    release.get('a')?.();
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(await queue.ahead(4)).toBe(0);
    for (const id of ['b', 'c']) release.get(id)?.();
    await tick();
    release.get('d')?.();
    await queue.idle();
    expect(queue.size).toBe(0);
  });

  it('queues a session once while it waits or launches', async () => {
    const { queue, started, release } = gatedQueue(1);
    expect(await queue.enqueue('a')).toBe(1);
    expect(await queue.enqueue('b')).toBe(2);
    expect(await queue.enqueue('b')).toBe(2);
    await tick();
    release.get('a')?.();
    await tick();
    release.get('b')?.();
    await queue.idle();
    expect(started).toEqual(['a', 'b']);
  });

  it('retries a launch that threw, then gives up (the reconciler fails the session)', async () => {
    let calls = 0;
    const logged: string[] = [];
    const queue = new InProcessLaunchQueue({
      concurrency: 1,
      launch: async () => {
        calls++;
        throw new ThrottledError('busy');
      },
      retryDelaysMs: [1, 1],
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    await queue.enqueue('a');
    await queue.idle();
    expect(calls).toBe(3);
    expect(logged).toEqual(['warn launch failed', 'warn launch failed', 'error launch failed']);
  });

  it('takes nothing more once closed', async () => {
    const { queue, started } = gatedQueue(1);
    await queue.enqueue('a');
    await queue.enqueue('b');
    await tick();
    queue.close();
    await tick();
    expect(started).toEqual(['a']);
  });

  it('refuses a concurrency that is not a whole number of at least 1', () => {
    expect(() => new InProcessLaunchQueue({ concurrency: 0, launch: async () => undefined })).toThrow(
      /at least 1/,
    );
  });
});
