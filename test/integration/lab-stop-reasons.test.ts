import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirHomes } from '../../functions/adapters/local/dir-homes.ts';
import { findJupyter } from '../../functions/adapters/local/jupyter-command.ts';
import { ProcessCompute } from '../../functions/adapters/local/process-compute.ts';
import type { ComputeStatus, LaunchSpec } from '../../functions/core/ports.ts';
import { baseUrlFor, newSessionId } from '../../functions/core/session.ts';

/**
 * What a lab's end is recorded as, with real Jupyter servers: a signal hubless did not
 * send is a crash (Jupyter exits 0 on SIGTERM, which used to read as an idle cull), a
 * crash shows Jupyter's error lines rather than its INFO lines with internal ports, and
 * only the logs of labs that went wrong stay in run/.
 */
const LAB_DIR = path.resolve(import.meta.dirname, '../../containers/lab');
let dir: string;
let runDir: string;
let homes: DirHomes;
let compute: ProcessCompute;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hubless-stop-reasons-'));
  chmodSync(dir, 0o755); // lab accounts (when run as root) must reach their homes under it
  runDir = path.join(dir, 'run');
  homes = new DirHomes({ root: path.join(dir, 'homes') });
  compute = new ProcessCompute({
    jupyter: findJupyter(),
    labPackageDir: LAB_DIR,
    runDir,
    onEvent: () => undefined,
    startTimeoutMs: 120_000,
    stopGraceMs: 5_000,
  });
});

afterAll(async () => {
  await compute?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function specFor(user: string): Promise<LaunchSpec> {
  return {
    sessionId: newSessionId(user, '', randomUUID().slice(0, 8)),
    user,
    server: '',
    profile: { name: 'small', description: '', cpu: 256, memory: 512, spot: false, groups: [] },
    home: await homes.ensure(user),
    baseUrl: baseUrlFor(user, ''),
    env: {
      HUBLESS_OWNER: user,
      HUBLESS_IDENTITY_KEYS_URL: 'http://127.0.0.1:9/keys',
      HUBLESS_IDENTITY_SIGNER: 'arn:hubless:local:gateway',
      HUBLESS_IDENTITY_ISSUER: 'http://127.0.0.1/issuer',
      HUBLESS_LAB_TOKEN: randomBytes(16).toString('hex'),
    },
  };
}

async function until(handle: string, done: (s: ComputeStatus) => boolean): Promise<ComputeStatus> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await compute.poll(handle);
    if (done(status)) return status;
    if (Date.now() > deadline) throw new Error(`${handle} is still ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const logOf = (handle: string) => path.join(runDir, `${handle.split('/')[1]}.log`);

describe('how a lab ended, as recorded', () => {
  it('a lab stopped by a SIGTERM hubless did not send is a crash that names the signal, not an idle cull', async () => {
    const handle = await compute.start(await specFor('signalled'));
    await until(handle, (s) => s.state === 'running');
    process.kill(compute.pidOf(handle)!, 'SIGTERM');
    const status = await until(handle, (s) => s.state === 'exited');
    expect(status).toMatchObject({ state: 'exited', code: 'crashed', exitCode: 143 });
    if (status.state === 'exited') {
      expect(status.reason).toContain('SIGTERM');
      expect(status.reason).toContain('hubless did not send');
    }
  });

  it('a crash shows the error line, not INFO lines with internal ports, and keeps its log', async () => {
    const spec = await specFor('unowned');
    delete spec.env.HUBLESS_OWNER;
    const handle = await compute.start(spec);
    const status = await until(handle, (s) => s.state === 'exited');
    expect(status).toMatchObject({ state: 'exited', code: 'crashed' });
    if (status.state === 'exited') {
      expect(status.reason).toContain('HUBLESS_OWNER');
      expect(status.reason).not.toMatch(/\[I /);
      expect(status.reason).not.toMatch(/127\.0\.0\.1:\d+/);
    }
    await compute.delivered(handle);
    expect(existsSync(logOf(handle))).toBe(true);
  });

  it('a lab stopped on request leaves no log behind', async () => {
    const handle = await compute.start(await specFor('tidy'));
    await until(handle, (s) => s.state === 'running');
    expect(existsSync(logOf(handle))).toBe(true);
    await compute.stop(handle, 'Stopped by its owner.');
    await compute.delivered(handle);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the removal is not awaited by stop
    expect(existsSync(logOf(handle))).toBe(false);
  });
});
