import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  addUsers,
  HublessProcess,
  isAlive,
  processesWith,
  startHubless,
  startLab,
} from '../support/hubless-process.ts';
import { freePort, waitFor } from '../support/net.ts';

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

/** `hubless start` on a free port (another one if it was taken meanwhile), once it runs. */
function start(dataDir: string): Promise<HublessProcess> {
  return startHubless(dataDir, { track: (hubless) => started.push(hubless) });
}

/** `hubless start` on a free port, not awaited: for a start that must fail. */
async function launch(dataDir: string): Promise<HublessProcess> {
  const hubless = new HublessProcess(dataDir, await freePort());
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
    const first = await start(dataDir);
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
  }, 600_000);
});

interface RecordedEvent {
  type: string;
  user: string;
  reason?: string;
}

async function endEvents(dataDir: string): Promise<RecordedEvent[]> {
  const text = await readFile(join(dataDir, 'events.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecordedEvent)
    .filter((e) => e.type === 'stop' || e.type === 'cull' || e.type === 'fail');
}

async function dynamoPid(dataDir: string): Promise<number> {
  return (JSON.parse(await readFile(join(dataDir, 'dynamodb-local.json'), 'utf8')) as { pid: number }).pid;
}

/** The Java processes serving this data dir's database (behind the relay, when in a namespace). */
const javaPids = (dataDir: string) =>
  processesWith(join(dataDir, 'dynamodb'))
    .filter(isAlive)
    .filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.endsWith('java'));

/** Every live process whose command line names the data dir: labs, DynamoDB Local, hubless. */
const leftovers = (dataDir: string) => processesWith(dataDir).filter(isAlive);

describe('stops and crashes of the control plane', () => {
  // One data dir through a Ctrl+C, a restart, a kill -9 and another restart, as an operator lives it.
  let dataDir: string;
  let running: HublessProcess | undefined;
  /** Left running past this test's cleanup, for the next test of the chain. */
  const keep = (hubless: HublessProcess) => {
    started.splice(started.indexOf(hubless), 1);
    return hubless;
  };
  afterAll(async () => {
    await running?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }, 600_000);

  it('Ctrl+C (SIGINT to the whole process group) stops every lab, records why, then stops DynamoDB Local', async () => {
    dataDir = await dataDirWith(['alice', 'bob']);
    dirs.splice(dirs.indexOf(dataDir), 1); // kept for the next tests; removed at the end
    const hubless = await start(dataDir);
    await Promise.all([startLab(hubless.url, 'alice'), startLab(hubless.url, 'bob')]);
    expect(await labPids(dataDir)).toHaveLength(2);

    hubless.interruptGroup();
    expect(await hubless.exited).toEqual({ code: 0, signal: null });

    expect(leftovers(dataDir)).toEqual([]);
    const ends = await endEvents(dataDir);
    expect(ends.map((e) => [e.user, e.type, e.reason]).sort()).toEqual([
      ['alice', 'stop', 'admin'],
      ['bob', 'stop', 'admin'],
    ]);
  }, 600_000);

  it('after a clean stop, a restart finds nothing to call lost', async () => {
    const hubless = await start(dataDir);
    expect(await endEvents(dataDir)).toHaveLength(2);
    await startLab(hubless.url, 'alice');
    running = keep(hubless); // for the next test, which kills this control plane
  }, 600_000);

  it('kill -9 of the control plane: the next start stops the orphaned DynamoDB Local and lab, and records the lab truly', async () => {
    const hubless = running!;
    const [lab] = await labPids(dataDir);
    const dynamo = await dynamoPid(dataDir);
    process.kill(hubless.pid, 'SIGKILL');
    await hubless.exited;
    // What kill -9 leaves behind: the lab still runs (DynamoDB Local's relay may notice and stop).
    expect(isAlive(lab!)).toBe(true);

    const next = keep(await start(dataDir));
    running = next;
    expect(isAlive(dynamo)).toBe(false);
    expect(isAlive(lab!)).toBe(false);
    // Exactly one DynamoDB Local serves this database: the new one.
    expect(javaPids(dataDir)).toHaveLength(1);
    const ends = await endEvents(dataDir);
    expect(ends.slice(2).map((e) => [e.user, e.reason])).toEqual([['alice', 'lost']]);
    // The pages work on the restarted instance.
    await startLab(next.url, 'bob');
  }, 600_000);

  it('kill -9 of DynamoDB Local: it is restarted on the same port and the pages work again', async () => {
    const hubless = running!;
    const dynamo = await dynamoPid(dataDir);
    const [java] = javaPids(dataDir);
    process.kill(java!, 'SIGKILL');
    const restarted = await waitFor(
      'a new DynamoDB Local',
      async () => {
        const pid = await dynamoPid(dataDir).catch(() => dynamo);
        return pid !== dynamo ? pid : undefined;
      },
      90_000,
    );
    expect(isAlive(restarted)).toBe(true);
    expect(javaPids(dataDir)).toHaveLength(1);
    await startLab(hubless.url, 'alice');
    await hubless.stop();
    expect(leftovers(dataDir)).toEqual([]);
  }, 600_000);
});
