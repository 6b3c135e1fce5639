import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answers, freePort, NODE_MODULES_BIN, OwnedProcess, poll, stopPid } from './common.ts';

/**
 * The anchor: JupyterHub 3.0 from Debian (/usr/bin/jupyterhub), started as a user would
 * for a small class on one machine: DummyAuthenticator, SimpleLocalProcessSpawner
 * (servers run as the hub's user, which is what LocalProcessSpawner cannot do for
 * users that have no Unix account), jupyterhub-singleuser, configurable-http-proxy from
 * node_modules, sqlite in a temp dir, loopback ports only. A service token with admin
 * scopes drives it through its REST API, like an LMS would.
 */
export const JUPYTERHUB_BIN = '/usr/bin/jupyterhub';
export const SINGLEUSER_BIN = '/usr/bin/jupyterhub-singleuser';

export interface JupyterHubAnchor {
  /** The proxy's public URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Service API token (Authorization: token <token>). */
  token: string;
  /** The proxy's REST API and its token, for benchmarks that add their own routes. */
  proxyApi: { url: string; token: string };
  stop(): Promise<void>;
}

export function jupyterHubAvailable(): boolean {
  return existsSync(JUPYTERHUB_BIN) && existsSync(SINGLEUSER_BIN);
}

export async function startJupyterHub(
  options: { concurrentSpawnLimit?: number } = {},
): Promise<JupyterHubAnchor> {
  const dir = await mkdtemp(join(tmpdir(), 'hubless-bench-jupyterhub-'));
  const [port, hubPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(24).toString('hex');
  const proxyToken = randomBytes(24).toString('hex');
  const py = (value: string) => JSON.stringify(value);
  const config = `
c = get_config()
c.JupyterHub.ip = '127.0.0.1'
c.JupyterHub.port = ${port}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${hubPort}
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:${apiPort}'
c.ConfigurableHTTPProxy.command = [${py(`${NODE_MODULES_BIN}/configurable-http-proxy`)}]
c.ConfigurableHTTPProxy.pid_file = ${py(join(dir, 'proxy.pid'))}
c.ConfigurableHTTPProxy.auth_token = ${py(proxyToken)}
c.JupyterHub.authenticator_class = 'dummy'
c.JupyterHub.spawner_class = 'simple'
c.Spawner.cmd = [${py(SINGLEUSER_BIN)}]
c.Spawner.args = ['--allow-root']
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.SimpleLocalProcessSpawner.home_dir_template = ${py(join(dir, 'homes', '{username}'))}
c.JupyterHub.concurrent_spawn_limit = ${options.concurrentSpawnLimit ?? 100}
c.JupyterHub.db_url = ${py(`sqlite:///${join(dir, 'jupyterhub.sqlite')}`)}
c.JupyterHub.cookie_secret_file = ${py(join(dir, 'cookie_secret'))}
c.JupyterHub.pid_file = ${py(join(dir, 'jupyterhub.pid'))}
c.JupyterHub.services = [{'name': 'bench', 'api_token': ${py(token)}}]
c.JupyterHub.load_roles = [{'name': 'bench', 'scopes': ['admin:users', 'admin:servers', 'list:users', 'read:users', 'servers'], 'services': ['bench']}]
c.JupyterHub.log_level = 'WARN'
`;
  await writeFile(join(dir, 'jupyterhub_config.py'), config);
  const hub = new OwnedProcess(JUPYTERHUB_BIN, ['-f', join(dir, 'jupyterhub_config.py')], { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    // The hub stops its single-user servers and the proxy it started on SIGTERM;
    // the proxy's pid file covers a hub that died first.
    await hub.stop(15_000);
    const proxyPid = Number.parseInt(await readFile(join(dir, 'proxy.pid'), 'utf8').catch(() => ''), 10);
    if (Number.isFinite(proxyPid)) await stopPid(proxyPid);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await poll(
      'JupyterHub to answer /hub/api',
      async () => {
        if (!hub.alive) throw new Error(`JupyterHub exited:\n${hub.tail()}`);
        return (await answers(`${url}/hub/api/`)) ? true : undefined;
      },
      60_000,
      200,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, token, proxyApi: { url: `http://127.0.0.1:${apiPort}`, token: proxyToken }, stop };
}

export async function jupyterHubVersion(): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  try {
    return execFileSync(JUPYTERHUB_BIN, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'not installed';
  }
}
