import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LocalDirectory } from '../../functions/adapters/local/local-directory.ts';
import { Browser, signIn } from './http-browser.ts';
import { type OnFreePortOptions, onFreePort, waitFor } from './net.ts';

const CLI = fileURLToPath(new URL('../../functions/local/cli.ts', import.meta.url));

/**
 * `hubless start` as a person runs it: its own Node process with its own DynamoDB Local
 * under the data dir. It leads its own process group, like a shell job, so a test can
 * send the group a Ctrl+C (`interruptGroup`) or kill -9 the control plane alone.
 */
export class HublessProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly dataDir: string;
  readonly port: number;
  #out = '';

  constructor(dataDir: string, port: number, env: Record<string, string> = {}) {
    this.dataDir = dataDir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.child = spawn(process.execPath, [CLI, 'start'], {
      env: {
        ...process.env,
        HUBLESS_DATA_DIR: dataDir,
        HUBLESS_PORT: String(port),
        HUBLESS_PUBLIC_URL: this.url,
        HUBLESS_LOG_LEVEL: 'warn',
        ...env,
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.#out += chunk.toString('utf8');
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#out += chunk.toString('utf8');
    });
    this.exited = new Promise((done) => this.child.once('exit', (code, signal) => done({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Everything it printed so far (stdout and stderr). */
  get output(): string {
    return this.#out;
  }

  async ready(timeoutMs = 240_000): Promise<this> {
    let exit: { code: number | null } | undefined;
    void this.exited.then((e) => {
      exit = e;
    });
    await waitFor(
      `hubless to start on port ${this.port}`,
      async () => {
        if (exit) throw new Error(`hubless exited with ${exit.code}:\n${this.#out}`);
        return this.#out.includes('hubless is running at') ? true : undefined;
      },
      timeoutMs,
      100,
    );
    return this;
  }

  /** Ctrl+C in its terminal: SIGINT to the whole process group. */
  interruptGroup(): void {
    process.kill(-this.pid, 'SIGINT');
  }

  /** Stops it if it still runs (a test's cleanup). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}

/**
 * `hubless start` on a free port, resolved once it runs; started again on another port
 * when it exited because its port was taken meanwhile. `track` sees every process started
 * (for the test's cleanup); `beforeRetry` undoes what the failed start left in the data dir.
 */
export async function startHubless(
  dataDir: string,
  options: {
    env?: Record<string, string>;
    track?: (process: HublessProcess) => void;
  } & Pick<OnFreePortOptions, 'beforeRetry'> = {},
): Promise<HublessProcess> {
  const { env, track, ...retry } = options;
  return onFreePort(async (port) => {
    const hubless = new HublessProcess(dataDir, port, env);
    track?.(hubless);
    return hubless.ready();
  }, retry);
}

export async function addUsers(dataDir: string, names: string[]): Promise<void> {
  const directory = new LocalDirectory({ dataDir });
  for (const name of names) await directory.upsert({ name, password: `${name}-password` });
}

/** Signs `name` in and starts their server; resolves with the browser once it is ready. */
export async function startLab(url: string, name: string): Promise<Browser> {
  const browser = new Browser(url);
  await signIn(browser, name, `${name}-password`);
  const started = await browser.request('/start', {
    method: 'POST',
    headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
  });
  if (started.status !== 303) throw new Error(`start answered ${started.status}: ${await started.text()}`);
  await waitFor(
    `${name}'s server to be ready`,
    async () => {
      const response = await browser.request('/progress', { headers: { accept: 'application/json' } });
      const progress = (await response.json()) as { ready: boolean; failed: boolean; message: string };
      if (progress.failed) throw new Error(`start failed: ${progress.message}`);
      return progress.ready ? true : undefined;
    },
    90_000,
  );
  return browser;
}

/** Pids of running processes whose command line contains `text` (zombies excluded). */
export function processesWith(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids.filter((pid) => pid !== process.pid);
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
