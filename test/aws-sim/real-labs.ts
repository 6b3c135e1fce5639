import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DirHomes } from '../../functions/adapters/local/dir-homes.ts';
import { findJupyter } from '../../functions/adapters/local/jupyter-command.ts';
import { ProcessCompute } from '../../functions/adapters/local/process-compute.ts';
import { baseUrlFor, parseSessionId } from '../../functions/core/session.ts';
import type { Lab, LabRuntime } from './account.ts';
import type { SimTask } from './ecs.ts';

const LAB_DIR = path.resolve(import.meta.dirname, '../../containers/lab');

/**
 * Tasks that run real Jupyter servers with the real owner check (containers/lab), started
 * the way local mode starts them (ProcessCompute: the same flags, config file and
 * environment rules, each user's lab under its own account when run as root). The task's
 * environment is the one hubless gave the task definition and RunTask, unchanged but for
 * one variable: HUBLESS_IDENTITY_KEYS_URL points at a loopback stand-in of the ALB's
 * regional key server (public-keys.auth.elb.<region>.amazonaws.com), which serves the
 * simulated ALB's signing key.
 */
export class RealJupyterLabs implements LabRuntime {
  readonly #dir = mkdtempSync(path.join(tmpdir(), 'hubless-sim-labs-'));
  readonly #compute: ProcessCompute;
  readonly #homes: DirHomes;
  #keyServer: http.Server | undefined;
  #keysUrl: Promise<string> | undefined;

  constructor() {
    // Run as root, labs run as their users' own accounts, which must pass through to their homes.
    chmodSync(this.#dir, 0o711);
    this.#homes = new DirHomes({ root: path.join(this.#dir, 'homes') });
    this.#compute = new ProcessCompute({
      jupyter: findJupyter(),
      labPackageDir: LAB_DIR,
      runDir: path.join(this.#dir, 'run'),
      onEvent: () => {},
      startTimeoutMs: 90_000,
      stopGraceMs: 5_000,
    });
  }

  async start(task: SimTask, keys: { kid: string; pem: string }): Promise<Lab> {
    const env: Record<string, string> = {
      ...task.environment,
      HUBLESS_IDENTITY_KEYS_URL: await this.#serveKeys(keys),
    };
    const sessionId = env.HUBLESS_SESSION_ID ?? task.startedBy ?? '';
    const { user, server } = parseSessionId(sessionId);
    const handle = await this.#compute.start({
      sessionId,
      user,
      server,
      profile: { name: 'sim', description: '', cpu: 512, memory: 2048, spot: false, groups: [] },
      home: await this.#homes.ensure(user),
      baseUrl: env.HUBLESS_BASE_URL ?? baseUrlFor(user, server),
      env,
    });
    const deadline = Date.now() + 90_000;
    let status = await this.#compute.poll(handle);
    while (status.state === 'pending' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await this.#compute.poll(handle);
    }
    if (status.state !== 'running') throw new Error(`${user}'s Jupyter server: ${JSON.stringify(status)}`);
    const compute = this.#compute;
    return {
      port: status.target.port,
      owner: user,
      // A real server's activity is its own; the culler reads it from Jupyter's API.
      active: true,
      close: () => void compute.stop(handle, 'The task stopped.'),
    };
  }

  async close(): Promise<void> {
    await this.#compute.close();
    await new Promise((resolve) => (this.#keyServer ? this.#keyServer.close(resolve) : resolve(undefined)));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #serveKeys(keys: { kid: string; pem: string }): Promise<string> {
    this.#keysUrl ??= new Promise((resolve) => {
      const server = http.createServer((request, response) => {
        if (request.url === `/${keys.kid}`) response.writeHead(200).end(keys.pem);
        else response.writeHead(404).end();
      });
      this.#keyServer = server;
      server.listen(0, '127.0.0.1', () =>
        resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
      );
    });
    return this.#keysUrl;
  }
}
