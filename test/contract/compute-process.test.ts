import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirHomes } from '../../functions/adapters/local/dir-homes.ts';
import { findJupyter } from '../../functions/adapters/local/jupyter-command.ts';
import { ProcessCompute } from '../../functions/adapters/local/process-compute.ts';
import type { TaskStateChangeEvent } from '../../functions/core/task-event.ts';
import { taskStatusFromDetail } from '../../functions/core/task-event.ts';
import { describeComputeContract, launchSpec, uniqueUser } from './compute.contract.ts';

const LAB_DIR = path.resolve(import.meta.dirname, '../../containers/lab');

/** The owner-check settings a lab needs; the key URL is never fetched by these tests. */
function labEnv(owner: string): Record<string, string> {
  return {
    HUBLESS_OWNER: owner,
    HUBLESS_IDENTITY_KEYS_URL: 'http://127.0.0.1:9/.hubless/alb-keys',
    HUBLESS_IDENTITY_SIGNER: 'arn:hubless:local:gateway',
    HUBLESS_IDENTITY_ISSUER: 'http://127.0.0.1:9/oidc',
    HUBLESS_LAB_TOKEN_SHA256: randomBytes(32).toString('hex'),
  };
}

function makeProcessCompute(events: TaskStateChangeEvent[] = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hubless-compute-'));
  // Run as root, labs run as their users' own accounts, which must pass through to their homes.
  chmodSync(dir, 0o711);
  const homes = new DirHomes({ root: path.join(dir, 'homes') });
  const compute = new ProcessCompute({
    jupyter: findJupyter(),
    labPackageDir: LAB_DIR,
    runDir: path.join(dir, 'run'),
    onEvent: (event) => {
      events.push(event);
    },
    startTimeoutMs: 45_000,
    stopGraceMs: 5_000,
  });
  return { dir, homes, compute, events };
}

describeComputeContract(
  'ProcessCompute',
  () => {
    const { dir, homes, compute } = makeProcessCompute();
    return {
      compute,
      spec: async (user) => launchSpec(user, { home: await homes.ensure(user), env: labEnv(user) }),
      // A lab without its owner settings refuses to start (hubless_lab's validate_security).
      crashingSpec: async (user) => {
        const { HUBLESS_OWNER: _owner, ...env } = labEnv(user);
        return launchSpec(user, { home: await homes.ensure(user), env });
      },
      answers: async (target, spec) => {
        const response = await fetch(`http://${target.host}:${target.port}${spec.baseUrl}api`);
        return response.status === 200;
      },
      close: async () => {
        await compute.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { timeoutMs: 45_000 },
);

describe('ProcessCompute', () => {
  describe('task state events', () => {
    it('emits PENDING, RUNNING and STOPPED in the ECS shape that taskStatusFromDetail reads', async () => {
      const { dir, homes, compute, events } = makeProcessCompute();
      try {
        const user = uniqueUser('events');
        const spec = launchSpec(user, { home: await homes.ensure(user), env: labEnv(user) });
        const handle = await compute.start(spec);
        const deadline = Date.now() + 45_000;
        let polled = await compute.poll(handle);
        while (polled.state === 'pending' && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          polled = await compute.poll(handle);
        }
        await compute.stop(handle, 'Stopped by its owner.');
        await compute.delivered(handle);

        expect(events.map((event) => event.detail.lastStatus)).toEqual(['PENDING', 'RUNNING', 'STOPPED']);
        expect(events.map((event) => event.detail.version)).toEqual([1, 2, 3]);
        for (const event of events) {
          expect(event).toMatchObject({ 'detail-type': 'ECS Task State Change', source: 'hubless.local' });
          expect(event.detail).toMatchObject({ taskArn: handle, startedBy: spec.sessionId });
        }
        const [pending, running, stopped] = events.map((event) => taskStatusFromDetail(event.detail));
        expect(pending?.state).toBe('pending');
        // What poll said while it ran is what the RUNNING event says.
        expect(polled.state).toBe('running');
        expect(running).toEqual(polled);
        if (running?.state === 'running') expect(running.target.host).toBe('127.0.0.1');
        expect(stopped).toMatchObject({ state: 'exited', code: 'user', reason: 'Stopped by its owner.' });
      } finally {
        await compute.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('reports a server that never answers as failed to start, naming likely causes', async () => {
      const { dir, homes, compute, events } = makeProcessCompute();
      const slow = new ProcessCompute({
        jupyter: findJupyter(),
        labPackageDir: LAB_DIR,
        runDir: path.join(dir, 'run-slow'),
        onEvent: (event) => {
          events.push(event);
        },
        startTimeoutMs: 300, // far less than any Jupyter needs to start
        stopGraceMs: 2_000,
      });
      try {
        const user = uniqueUser('slow');
        const handle = await slow.start(
          launchSpec(user, { home: await homes.ensure(user), env: labEnv(user) }),
        );
        const deadline = Date.now() + 20_000;
        while ((await slow.poll(handle)).state !== 'exited' && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const status = await slow.poll(handle);
        expect(status).toMatchObject({ state: 'exited', code: 'start-failed' });
        if (status.state === 'exited')
          expect(status.reason).toMatch(/did not answer .* within .*likely causes/);
        await slow.delivered(handle);
        expect(events.at(-1)?.detail).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' });
      } finally {
        await slow.close();
        await compute.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
