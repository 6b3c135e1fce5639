import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../test/support/net.ts';

export { freePort } from '../../test/support/net.ts';

/**
 * Shared pieces of the benchmarks: statistics, free loopback ports, child processes that
 * are stopped by their own pid, and the result shape every benchmark prints.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NODE_MODULES_BIN = `${REPO_ROOT}node_modules/.bin`;

/** One table of a benchmark's report: run.ts renders it as Markdown. */
export interface ResultTable {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Sentences printed under the table: what was measured and how. */
  notes: string[];
}

/** What every benchmark prints to stdout as one JSON document. */
export interface BenchResult {
  bench: string;
  tables: ResultTable[];
  /** Raw numbers for the JSON file. */
  data: Record<string, unknown>;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank: p90 of 5 samples is the largest, never an interpolated value nobody saw.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export const median = (values: number[]): number => percentile(values, 50);

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** "1.23x" for a ratio; "n/a" when either side is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0)
    return 'n/a';
  return `${(a / b).toFixed(2)}x`;
}

export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

export const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** Calls `check` every `intervalMs` until it returns a value; throws naming `what` after `timeoutMs`. */
export function poll<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs: number,
): Promise<T> {
  return waitFor(what, check, timeoutMs, intervalMs);
}

/** True once GET `url` answers with `status`. */
export async function answers(
  url: string,
  status = 200,
  headers: Record<string, string> = {},
): Promise<boolean> {
  try {
    const response = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status === status;
  } catch {
    return false;
  }
}

/**
 * A child process the benchmark owns: stopped by its pid (SIGTERM, then SIGKILL after
 * `graceMs`), and killed if the benchmark itself exits first.
 */
export class OwnedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly output: string[] = [];
  readonly #killOnExit: () => void;

  constructor(command: string, args: string[], options: SpawnOptions = {}) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.#killOnExit = () => {
      if (this.child.pid !== undefined && this.child.exitCode === null) {
        try {
          process.kill(this.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    process.once('exit', this.#killOnExit);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines it printed, for error messages. */
  tail(lines = 15): string {
    return this.output.join('').split('\n').slice(-lines).join('\n');
  }

  async stop(graceMs = 10_000): Promise<void> {
    process.off('exit', this.#killOnExit);
    if (!this.alive || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.alive && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stops a process we know only by pid (one our child started), if it is still alive. */
export async function stopPid(pid: number, graceMs = 5_000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(50);
  if (alive()) process.kill(pid, 'SIGKILL');
}

/** Writes a benchmark's result as the one JSON document on stdout; progress goes to stderr. */
export function printResult(result: BenchResult): void {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

export function progress(bench: string, message: string): void {
  process.stderr.write(`[${bench}] ${message}\n`);
}

/** Runs a benchmark's main, printing failures to stderr with a non-zero exit code. */
export function runMain(bench: string, main: () => Promise<BenchResult>): void {
  main()
    .then((result) => {
      printResult(result);
      // Keep-alive sockets and SDK clients must not hold the process open.
      process.exit(0);
    })
    .catch((error: unknown) => {
      process.stderr.write(
        `${bench} bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    });
}

/** An integer from `--name value` or the environment variable, else the default. */
export function intOption(value: string | undefined, env: string, fallback: number): number {
  const raw = value ?? process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const parsed = Number.parseInt(raw, 10);
  if (!Number.isFinite(parsed) || parsed < 1)
    throw new Error(`${env} (or its flag) must be a positive integer, got ${raw}`);
  return parsed;
}
