import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Compute, ComputeStatus, LaunchSpec, Profile } from '../../functions/core/ports.ts';
import { baseUrlFor, newSessionId } from '../../functions/core/session.ts';

/**
 * The Compute contract (functions/core/ports.ts), run against every adapter: ProcessCompute
 * with real Jupyter servers, the FakeCompute, EcsCompute over a mocked SDK. Timing is the
 * adapter's: real servers take seconds, fakes milliseconds.
 */
export interface ComputeHarness {
  compute: Compute;
  /** A spec for a server that starts. `user` is unique per call. */
  spec(user: string): Promise<LaunchSpec> | LaunchSpec;
  /** A spec for a server that crashes while starting (the adapter's own way to make one). */
  crashingSpec(user: string): Promise<LaunchSpec> | LaunchSpec;
  /** Whether `target` really answers (e.g. an HTTP GET of <baseUrl>api). Fakes may return true. */
  answers?(target: { host: string; port: number }, spec: LaunchSpec): Promise<boolean>;
  /** Stops everything and cleans up. */
  close?(): Promise<void>;
}

export interface ComputeContractOptions {
  /** How long to wait for running / exited before failing. */
  timeoutMs?: number;
  /** Between polls. */
  pollIntervalMs?: number;
  /**
   * An adapter over an eventually consistent platform (ECS) may answer `pending` for an
   * unknown handle for a while; set this to allow it. Local adapters answer `exited`/'lost' at once.
   */
  unknownMayBePending?: boolean;
  /** A handle of the adapter's format that it never issued. */
  unknownHandle?: string;
}

export const TEST_PROFILE: Profile = {
  name: 'small',
  description: 'Small test server',
  cpu: 256,
  memory: 512,
  spot: false,
  groups: [],
};

/** A LaunchSpec with the usual shape; adapters' harnesses fill in home and env. */
export function launchSpec(user: string, fields: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    sessionId: newSessionId(user, '', randomUUID().slice(0, 8)),
    user,
    server: '',
    profile: TEST_PROFILE,
    home: `/home/${user}`,
    baseUrl: baseUrlFor(user, ''),
    env: {},
    ...fields,
  };
}

export function uniqueUser(prefix = 'u'): string {
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 10)}`.replace(/^[^a-z]/, 'u');
}

export function describeComputeContract(
  name: string,
  makeHarness: () => Promise<ComputeHarness> | ComputeHarness,
  options: ComputeContractOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const interval = options.pollIntervalMs ?? 100;

  async function pollUntil(
    compute: Compute,
    handle: string,
    done: (status: ComputeStatus) => boolean,
  ): Promise<ComputeStatus> {
    const deadline = Date.now() + timeoutMs;
    let status = await compute.poll(handle);
    while (!done(status)) {
      if (Date.now() > deadline)
        throw new Error(`poll(${handle}) still says ${JSON.stringify(status)} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, interval));
      status = await compute.poll(handle);
    }
    return status;
  }

  describe(`Compute contract: ${name}`, () => {
    let harness: ComputeHarness;

    beforeAll(async () => {
      harness = await makeHarness();
    });

    afterAll(async () => {
      await harness?.close?.();
    });

    describe('start', () => {
      it('returns a handle at once, before the server runs', async () => {
        const spec = await harness.spec(uniqueUser('start'));
        const handle = await harness.compute.start(spec);
        expect(typeof handle).toBe('string');
        expect(handle.length).toBeGreaterThan(0);
        expect((await harness.compute.poll(handle)).state).toBe('pending');
        await harness.compute.stop(handle, 'test over');
      });

      it('gives each start its own handle', async () => {
        const [a, b] = await Promise.all([harness.spec(uniqueUser('a')), harness.spec(uniqueUser('b'))]);
        const [first, second] = await Promise.all([harness.compute.start(a), harness.compute.start(b)]);
        expect(first).not.toBe(second);
        await Promise.all([
          harness.compute.stop(first, 'test over'),
          harness.compute.stop(second, 'test over'),
        ]);
      });
    });

    describe('poll', () => {
      it('moves from pending to running with a target that answers', async () => {
        const spec = await harness.spec(uniqueUser('run'));
        const handle = await harness.compute.start(spec);
        const status = await pollUntil(harness.compute, handle, (s) => s.state !== 'pending');
        expect(status.state).toBe('running');
        if (status.state !== 'running') return;
        expect(status.target.host).toBeTruthy();
        expect(status.target.port).toBeGreaterThan(0);
        if (harness.answers) expect(await harness.answers(status.target, spec)).toBe(true);
        await harness.compute.stop(handle, 'test over');
      });

      it('reports an unknown handle as lost', async () => {
        const handle = options.unknownHandle ?? `never-issued-${randomUUID()}`;
        const status = await harness.compute.poll(handle);
        if (options.unknownMayBePending && status.state === 'pending') return;
        expect(status).toMatchObject({ state: 'exited', code: 'lost' });
        if (status.state === 'exited') expect(status.reason.length).toBeGreaterThan(0);
      });

      it('ends a server that crashes while starting as exited, with a reason', async () => {
        const spec = await harness.crashingSpec(uniqueUser('crash'));
        const handle = await harness.compute.start(spec);
        const status = await pollUntil(harness.compute, handle, (s) => s.state === 'exited');
        expect(status.state).toBe('exited');
        if (status.state !== 'exited') return;
        expect(['crashed', 'start-failed']).toContain(status.code);
        expect(status.reason.length).toBeGreaterThan(0);
      });
    });

    describe('stop', () => {
      it('ends a running server as exited with code user', async () => {
        const handle = await harness.compute.start(await harness.spec(uniqueUser('stop')));
        await pollUntil(harness.compute, handle, (s) => s.state === 'running');
        await harness.compute.stop(handle, 'Stopped by its owner.');
        const status = await pollUntil(harness.compute, handle, (s) => s.state === 'exited');
        expect(status).toMatchObject({ state: 'exited', code: 'user' });
      });

      it('ends a server that is still starting as exited with code user', async () => {
        const handle = await harness.compute.start(await harness.spec(uniqueUser('early')));
        await harness.compute.stop(handle, 'Stopped by its owner.');
        const status = await pollUntil(harness.compute, handle, (s) => s.state === 'exited');
        expect(status).toMatchObject({ state: 'exited', code: 'user' });
      });

      it('can be called twice, and for an exited or unknown handle', async () => {
        const handle = await harness.compute.start(await harness.spec(uniqueUser('twice')));
        await Promise.all([harness.compute.stop(handle, 'first'), harness.compute.stop(handle, 'second')]);
        await pollUntil(harness.compute, handle, (s) => s.state === 'exited');
        await harness.compute.stop(handle, 'again');
        await harness.compute.stop(options.unknownHandle ?? `never-issued-${randomUUID()}`, 'unknown');
        expect((await harness.compute.poll(handle)).state).toBe('exited');
      });
    });

    describe('list', () => {
      it('includes a started task with its session id while it is alive', async () => {
        const spec = await harness.spec(uniqueUser('list'));
        const handle = await harness.compute.start(spec);
        expect(await harness.compute.list()).toContainEqual({
          handle,
          sessionId: spec.sessionId,
          alive: true,
        });
        await harness.compute.stop(handle, 'test over');
        await pollUntil(harness.compute, handle, (s) => s.state === 'exited');
        const after = (await harness.compute.list()).find((task) => task.handle === handle);
        if (after) expect(after.alive).toBe(false);
      });
    });
  });
}
