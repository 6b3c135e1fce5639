import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { onFreePort } from './net.ts';

/**
 * A bare jupyter-server with the lab's own config and owner check (containers/lab), on a
 * free loopback port, rooted in `workDir`: what the lab tests talk to when they need a
 * real lab but not local mode. Debian's 1.23 by default; HUBLESS_TEST_JUPYTER_SERVER
 * names another jupyter-server executable (e.g. a 2.x in a venv).
 */
export const LAB_DIR = path.resolve(import.meta.dirname, '../../containers/lab');
export const JUPYTER = process.env.HUBLESS_TEST_JUPYTER_SERVER ?? '/usr/bin/jupyter-server';

export interface BareLab {
  /** http://127.0.0.1:<port>, without the base URL. */
  url: string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface BareLabOptions {
  workDir: string;
  baseUrl: string;
  env: Record<string, string>;
  readyStatus?: number;
}

/**
 * Starts the lab with `env` (its HUBLESS_* settings) and resolves once `<baseUrl>api`
 * answers `readyStatus` (any status when absent); throws with the server's output when it
 * exits or does not answer within a minute.
 */
export async function startBareLab(options: BareLabOptions): Promise<BareLab> {
  // jupyter-server is told to take exactly this port (no port_retries: it would move
  // to another one the test does not know), and started again on a new one when it was taken.
  return onFreePort((port) => startOn(port, options));
}

async function startOn(port: number, options: BareLabOptions): Promise<BareLab> {
  const { workDir, baseUrl } = options;
  const url = `http://127.0.0.1:${port}`;
  const jupyter: ChildProcess = spawn(
    JUPYTER,
    [
      `--config=${path.join(LAB_DIR, 'jupyter_server_config.py')}`,
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      `--ServerApp.root_dir=${workDir}`,
      '--ServerApp.allow_root=True',
    ],
    {
      env: {
        PATH: process.env.PATH,
        HOME: workDir,
        PYTHONPATH: LAB_DIR,
        JUPYTER_RUNTIME_DIR: path.join(workDir, '.runtime'),
        JUPYTER_CONFIG_DIR: path.join(workDir, '.jupyter'),
        HUBLESS_BASE_URL: baseUrl,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  jupyter.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  jupyter.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (!jupyter.pid || jupyter.exitCode !== null) return;
    const exited = new Promise((resolve) => jupyter.once('exit', resolve));
    process.kill(jupyter.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (jupyter.exitCode === null) process.kill(jupyter.pid, 'SIGKILL');
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (jupyter.exitCode !== null) throw new Error(`jupyter-server exited (${jupyter.exitCode}):\n${output}`);
    try {
      const { status } = await fetch(`${url}${baseUrl}api`);
      if (options.readyStatus === undefined || status === options.readyStatus) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error(`jupyter-server did not answer in time:\n${output}`);
}
