import { readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** What the lock file says about the instance holding it. */
export interface LockHolder {
  pid: number;
  port: number;
  url: string;
  startedAt: string;
  /** The kernel's start time of `pid` (Linux), so a reused pid is not taken for the holder. */
  processStart?: string;
}

export interface InstanceLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

export const LOCK_FILE = 'hubless.lock';

/** A second local mode on the same data dir: names the one that runs. */
export class InstanceRunningError extends Error {
  readonly holder: LockHolder;
  constructor(dataDir: string, holder: LockHolder) {
    super(
      `hubless is already running on the data dir ${dataDir}: PID ${holder.pid}, port ${holder.port} ` +
        `(${holder.url}), since ${holder.startedAt}. Two instances on one data dir would stop each ` +
        `other's servers. Stop that one first (Ctrl+C in its terminal, \`kill ${holder.pid}\`, or ` +
        '`systemctl stop hubless` if it runs as a service), or give this one its own data dir with HUBLESS_DATA_DIR.',
    );
    this.name = 'InstanceRunningError';
    this.holder = holder;
  }
}

/**
 * Takes the data dir for this process before anything else touches it: the lock file is
 * created with O_EXCL, so of two starts only one can create it. A lock left by a process
 * that no longer runs (kill -9, power loss) is stale and taken over; one whose process
 * still runs is refused with its PID and port. Node has no flock, and this way the file
 * also tells a person who holds the data dir.
 */
export async function lockDataDir(
  dataDir: string,
  about: { port: number; url: string },
): Promise<InstanceLock> {
  const file = join(dataDir, LOCK_FILE);
  const mine: LockHolder = {
    pid: process.pid,
    port: about.port,
    url: about.url,
    startedAt: new Date().toISOString(),
    processStart: processStartOf(process.pid),
  };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      try {
        await handle.writeFile(text);
      } finally {
        await handle.close();
      }
      return held(file, text);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(file);
    if (holder && isRunning(holder)) throw new InstanceRunningError(dataDir, holder);
    // Stale (or half-written by a start that died at once): the next attempt re-creates it.
    await rm(file, { force: true });
  }
  throw new Error(`Could not take the lock file ${file}: other starts keep racing for it. Try again.`);
}

function held(file: string, text: string): InstanceLock {
  let released = false;
  const releaseSync = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', releaseSync);
    try {
      // Never remove a lock another instance took over after ours was judged stale.
      if (readFileSync(file, 'utf8') === text) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  // An exit without stop() (an uncaught error) still frees the data dir.
  process.once('exit', releaseSync);
  return { file, release: async () => releaseSync() };
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number') return undefined;
    return {
      pid: parsed.pid,
      port: Number(parsed.port),
      url: String(parsed.url),
      startedAt: String(parsed.startedAt),
      processStart: parsed.processStart,
    };
  } catch {
    return undefined;
  }
}

function isRunning(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartOf(holder.pid);
  // A different start time: the pid was reused by an unrelated process after a crash.
  return !(holder.processStart && now && now !== holder.processStart);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
function processStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
