import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addUsers, HublessProcess, isAlive, startLab } from '../support/hubless-process.ts';
import { freePort } from '../support/net.ts';

/**
 * Faults of local mode as an operator meets them, on `hubless start` run as its own
 * process with its own DynamoDB Local: a second start on the same data dir, kill -9,
 * Ctrl+C in the terminal. Each asserts what is left running and what was recorded.
 */
const started: HublessProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const hubless of started.splice(0)) await hubless.stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function dataDirWith(users: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hubless-faults-'));
  dirs.push(dir);
  await addUsers(dir, users);
  return dir;
}

async function launch(dataDir: string, port?: number): Promise<HublessProcess> {
  const hubless = new HublessProcess(dataDir, port ?? (await freePort()));
  started.push(hubless);
  return hubless;
}

/** The pids of the labs the run dir records. */
async function labPids(dataDir: string): Promise<number[]> {
  const run = join(dataDir, 'run');
  const files = (await readdir(run).catch(() => [] as string[])).filter((f) =>
    /^[0-9a-f-]{36}\.json$/.test(f),
  );
  return Promise.all(
    files.map(async (f) => (JSON.parse(await readFile(join(run, f), 'utf8')) as { pid: number }).pid),
  );
}

describe('one instance per data dir', () => {
  it('refuses a second start on the same data dir, naming the first one, and leaves its labs running', async () => {
    const dataDir = await dataDirWith(['alice']);
    const first = await (await launch(dataDir)).ready();
    await startLab(first.url, 'alice');
    const [lab] = await labPids(dataDir);
    expect(lab).toBeDefined();

    const second = await launch(dataDir);
    const outcome = await Promise.race([
      second.exited,
      second.ready().then(() => 'it started as well' as const),
    ]);
    expect(outcome).toMatchObject({ code: 1 });
    expect(second.output).toContain('already running');
    expect(second.output).toContain(`PID ${first.pid}`);
    expect(second.output).toContain(`port ${first.port}`);

    // The first instance and its lab are untouched.
    expect(isAlive(lab!)).toBe(true);
    const page = await fetch(`${first.url}/hub/api/`);
    expect(page.status).toBe(200);
  });
});
