import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Log } from '../core/log.ts';
import type { DynamoIsolation } from './dynamodb-isolation.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';

/**
 * Local mode's DynamoDB Local, looked after like the labs: its pid is recorded in the data
 * dir, so one left running by a control plane that was killed (kill -9, OOM) is found and
 * stopped before a new one opens the same database files; and it is watched, so a crash is
 * restarted on the same port and data instead of every page failing from then on.
 */
export interface SupervisedDynamoDb {
  endpoint: string;
  /** The Unix socket to reach it through when it runs in a namespace of its own. */
  socketPath?: string;
  /** The pid of the process serving now (it changes on a restart). */
  readonly pid: number;
  /** Stops watching and stops the process. Idempotent. */
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  /** The data dir; DynamoDB Local keeps its files in <dataDir>/dynamodb. */
  dataDir: string;
  log: Log;
  /** Its own network namespace behind a socket (dynamodb-isolation.ts), where available. */
  isolation?: DynamoIsolation & { flags: string[] };
  /** More crashes than this within `crashWindowMs` and it is not restarted again. Default 3. */
  maxRestarts?: number;
  crashWindowMs?: number;
  /** Called once when it cannot be kept running: local mode stops with this message. */
  onGiveUp(message: string): void;
}

export const DYNAMODB_RECORD = 'dynamodb-local.json';

/** Java starts slowly on a small or busy machine (a class server is often both); 30 s was not enough. */
const START_TIMEOUT_MS = 120_000;

interface ProcessRecord {
  pid: number;
  port: number;
  dbPath: string;
}

export async function superviseDynamoDbLocal(options: SuperviseOptions): Promise<SupervisedDynamoDb> {
  const dbPath = resolve(options.dataDir, 'dynamodb');
  const recordFile = join(options.dataDir, DYNAMODB_RECORD);
  const reaped = await reapDynamoDbLocal(options.dataDir);
  if (reaped.length)
    options.log('warn', 'stopped a DynamoDB Local left running by a previous hubless on this data dir', {
      pids: reaped,
    });

  const start = (port?: number) =>
    startDynamoDbLocal({
      dataDir: dbPath,
      port,
      startTimeoutMs: START_TIMEOUT_MS,
      isolation: options.isolation,
    });
  let current: DynamoDbLocal = await start();
  const port = Number(new URL(current.endpoint).port);
  const record = (): Promise<void> =>
    writeFile(recordFile, JSON.stringify({ pid: current.pid, port, dbPath } satisfies ProcessRecord), {
      mode: 0o600,
    });
  await record();

  let stopping = false;
  const crashes: number[] = [];
  const maxRestarts = options.maxRestarts ?? 3;
  const windowMs = options.crashWindowMs ?? 5 * 60_000;

  const watch = (serving: DynamoDbLocal): void => {
    void serving.exited.then(async (how) => {
      if (stopping || serving !== current) return;
      const now = Date.now();
      crashes.push(now);
      while (crashes.length && crashes[0]! < now - windowMs) crashes.shift();
      if (crashes.length > maxRestarts) {
        options.onGiveUp(
          `DynamoDB Local (the session store) exited ${crashes.length} times within ${Math.round(windowMs / 60_000)} minutes ` +
            `(last: ${how}); hubless stops rather than serve pages that cannot work. Look for the cause in its ` +
            `output above (often: out of memory, or the disk under ${dbPath} is full), then start hubless again.`,
        );
        return;
      }
      options.log('error', 'DynamoDB Local exited unexpectedly; restarting it on the same port and data', {
        how,
        pid: serving.pid,
        port,
      });
      try {
        // Whatever of it may still run (the Java process behind a relay that was killed)
        // must be gone before a new one opens the same files.
        await reapDynamoDbLocal(options.dataDir);
        current = await start(port);
        await record();
        options.log('warn', 'DynamoDB Local is back', { pid: current.pid, port });
        watch(current);
      } catch (error) {
        options.onGiveUp(
          `DynamoDB Local (the session store) exited (${how}) and could not be started again: ${(error as Error).message}`,
        );
      }
    });
  };
  watch(current);

  return {
    endpoint: current.endpoint,
    socketPath: current.socketPath,
    get pid() {
      return current.pid;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      await current.stop();
      await rm(recordFile, { force: true });
    },
  };
}

/**
 * Stops DynamoDB Local processes still serving this data dir's database: the recorded one,
 * and any other found with the same -dbPath (a crash between its start and its record).
 * A pid is signalled only while its command line still names this database, so a pid the
 * system reused is never touched. Returns the pids stopped.
 */
export async function reapDynamoDbLocal(dataDir: string, graceMs = 5_000): Promise<number[]> {
  const dbPath = resolve(dataDir, 'dynamodb');
  const recordFile = join(dataDir, DYNAMODB_RECORD);
  const pids = new Set(await processesServing(dbPath));
  try {
    const recorded = JSON.parse(await readFile(recordFile, 'utf8')) as Partial<ProcessRecord>;
    if (typeof recorded.pid === 'number' && (await serves(recorded.pid, dbPath))) pids.add(recorded.pid);
  } catch {
    // No record, or a torn one: the scan above is what counts.
  }
  for (const pid of pids) {
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (await serves(pid, dbPath))) await new Promise((r) => setTimeout(r, 100));
    if (await serves(pid, dbPath)) signal(pid, 'SIGKILL');
  }
  await rm(recordFile, { force: true });
  return [...pids];
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Exited meanwhile.
  }
}

async function serves(pid: number, dbPath: string): Promise<boolean> {
  try {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const at = args.indexOf('-dbPath');
    return at >= 0 && args[at + 1] === dbPath;
  } catch {
    return false;
  }
}

async function processesServing(dbPath: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return []; // Not Linux: the record alone.
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && (await serves(pid, dbPath))) found.push(pid);
  }
  return found;
}
