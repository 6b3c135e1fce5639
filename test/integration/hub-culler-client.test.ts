import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, signIn } from '../support/http-browser.ts';
import { events, type HubClient, hubClient } from '../support/jupyterhub/hub-client.ts';
import { type TestLocalMode, waitFor } from '../support/local-mode.ts';
import { clientToken, startLocalModeWithClients } from '../support/machine-client.ts';

/**
 * A JupyterHub client against local mode's /hub/api: a script that does what
 * jupyterhub-idle-culler does (jupyterhub/jupyterhub-idle-culler, __init__.py): check
 * the API version, page through users with ready servers, read each server's
 * last_activity, DELETE the server of the idle ones ("Authorization: token …"), and
 * treat 202 as "still stopping". Every answer is checked against JupyterHub's
 * rest-api.yml (test/support/jupyterhub/).
 */
let local: TestLocalMode;
let token: string;
let client: HubClient;

beforeAll(async () => {
  const started = await startLocalModeWithClients({
    culler: ['users:read', 'servers:read', 'servers:write'],
  });
  local = started.local;
  token = await clientToken(local.url, started.clients.culler!);
  for (const name of ['ada', 'bo', 'cleo']) await local.addUser(name, `${name}-password`);
  client = hubClient(
    async (method, path, init) => {
      const response = await fetch(`${local.url}${path}`, { method, headers: init.headers, body: init.body });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      return { status: response.status, headers, body: await response.text() };
    },
    () => token,
  );
});

afterAll(async () => {
  await local?.stop();
});

async function hub(
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
) {
  return client.call(method, path, init);
}

interface HubServer {
  name: string;
  ready: boolean;
  pending: string | null;
  last_activity: string | null;
  started: string;
}
interface HubUser {
  name: string;
  servers?: Record<string, HubServer>;
}

/** jupyterhub-idle-culler's fetch of users: ?state=ready, paged, following next.url as given. */
async function readyUsers(): Promise<HubUser[]> {
  return (await client.paginate('/users?state=ready&limit=1')).items;
}

/**
 * One culling pass: stop every ready server whose last activity is older than
 * `timeoutSeconds`. Returns who was culled and with what status (204 stopped, 202 stopping).
 */
async function cullIdle(timeoutSeconds: number, now = Date.now()): Promise<Record<string, number>> {
  const culled: Record<string, number> = {};
  for (const user of await readyUsers()) {
    for (const [name, server] of Object.entries(user.servers ?? {})) {
      if (server.pending) continue; // the culler skips servers in transition
      const inactive = (now - Date.parse(server.last_activity ?? server.started)) / 1000;
      if (inactive <= timeoutSeconds) continue;
      const path = name ? `/users/${user.name}/servers/${name}` : `/users/${user.name}/server`;
      const answer = await hub('DELETE', path);
      expect([202, 204]).toContain(answer.status);
      culled[user.name] = answer.status;
    }
  }
  return culled;
}

async function serverOf(name: string): Promise<HubServer | undefined> {
  const answer = await hub('GET', `/users/${name}`);
  expect(answer.status).toBe(200);
  return answer.json.servers[''];
}

/** Starts a server and follows the progress stream until it says ready. */
async function startAndWait(name: string): Promise<HubServer> {
  const start = await hub('POST', `/users/${name}/server`);
  expect([201, 202]).toContain(start.status);
  const ready = await waitFor(
    `${name}'s progress stream to say ready`,
    async () => {
      const stream = await hub('GET', `/users/${name}/server/progress`);
      expect(stream.headers['content-type']).toBe('text/event-stream');
      const last = events(stream.body).at(-1);
      if (last?.failed) throw new Error(`${name} failed: ${last.message}`);
      return last?.ready ? last : undefined;
    },
    120_000,
    100,
  );
  expect(ready).toMatchObject({ progress: 100, url: `/user/${name}/` });
  const server = await serverOf(name);
  expect(server).toMatchObject({ ready: true, pending: null });
  return server!;
}

describe('a JupyterHub idle-culler client against /hub/api', () => {
  it('reads the API version without a token', async () => {
    const answer = await fetch(`${local.url}/hub/api/`);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { version: string }).version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('stops the idle server and leaves the active one running', async () => {
    const ada = await startAndWait('ada');
    await startAndWait('bo');
    expect(ada.last_activity).not.toBeNull();

    // Time passes (starting bo took some: waited for only if it was under 2 s since ada's
    // latest activity as the hub records it); then bo's lab reports activity (as the lab's
    // activity hook does).
    await waitFor(
      'two seconds since ada’s last activity',
      async () => {
        const adaActivity = Date.parse((await serverOf('ada'))?.last_activity ?? '');
        return Date.now() - adaActivity > 2000 ? true : undefined;
      },
      10_000,
      100,
    );
    const seen = new Date().toISOString();
    const activity = await hub('POST', '/users/bo/activity', {
      body: { servers: { '': { last_activity: seen } } },
    });
    expect(activity.status).toBe(200);
    // last_activity only moves forward: an older report changes nothing.
    await hub('POST', '/users/bo/activity', { body: { servers: { '': { last_activity: ada.started } } } });
    const boNow = await serverOf('bo');
    expect(boNow?.last_activity).toBe(seen);

    const listed = await readyUsers();
    expect(listed.map((u) => u.name).sort()).toEqual(['ada', 'bo']);
    const lastActivity = Object.fromEntries(
      listed.map((u) => [u.name, Date.parse(u.servers?.['']?.last_activity ?? '')]),
    );
    expect(lastActivity.bo! - lastActivity.ada!).toBeGreaterThan(1500);

    // A timeout between the two: ada has been idle longer than it, bo has not.
    const now = Date.now();
    const timeout = (now - (lastActivity.ada! + lastActivity.bo!) / 2) / 1000;
    const culled = await cullIdle(timeout, now);
    expect(Object.keys(culled)).toEqual(['ada']);

    // 202 means "still stopping": the culler checks back until the server is gone.
    await waitFor('ada to stop', async () => ((await serverOf('ada')) === undefined ? true : undefined));
    const adaUser = await hub('GET', '/users/ada');
    expect(adaUser.json).toMatchObject({ server: null, pending: null, servers: {} });
    const history = await hub('GET', '/users/ada?include_stopped_servers');
    expect(history.json.servers['']).toMatchObject({ ready: false, stopped: true });
    expect((await local.runtime.deps.store.get('ada', ''))?.reason?.code).toBe('admin');

    expect(await serverOf('bo')).toMatchObject({ ready: true, pending: null, last_activity: seen });
    expect((await readyUsers()).map((u) => u.name)).toEqual(['bo']);
    const inactive = await hub('GET', '/users?state=inactive');
    expect(inactive.json.map((u: HubUser) => u.name).sort()).toEqual(['ada', 'admin', 'cleo']);

    // A second pass with the same timeout finds nothing more to stop.
    expect(await cullIdle(timeout)).toEqual({});

    // Stopping a server that is not running is a 204, as in JupyterHub: a second culler racing the first sees success.
    const again = await hub('DELETE', '/users/ada/server');
    expect(again.status).toBe(204);

    const stopBo = await hub('DELETE', '/users/bo/server');
    expect([202, 204]).toContain(stopBo.status);
  });

  it('starts a named server through /hub/api; the gateway routes /user/<name>/<server>/ to it, for its owner only', async () => {
    const start = await hub('POST', '/users/cleo/servers/notes');
    expect([201, 202]).toContain(start.status);
    const model = (await hub('GET', '/users/cleo')).json.servers.notes;
    expect(model).toMatchObject({ name: 'notes', full_name: 'cleo/notes', url: '/user/cleo/notes/' });
    await waitFor(
      'cleo/notes to be ready',
      async () => (events((await hub('GET', model.progress_url)).body).at(-1)?.ready ? true : undefined),
      120_000,
      100,
    );
    const cleo = new Browser(local.url);
    await signIn(cleo, 'cleo', 'cleo-password');
    const status = await cleo.request('/user/cleo/notes/api/status');
    expect(status.status).toBe(200);
    // The default server is not running: its prefix is not routed, the named one is.
    expect((await cleo.request('/user/cleo/api/status')).status).not.toBe(200);
    const ada = new Browser(local.url);
    await signIn(ada, 'ada', 'ada-password');
    expect((await ada.request('/user/cleo/notes/api/status')).status).toBe(403);
    // The culler stops a named server at /servers/{name}.
    expect([202, 204]).toContain((await hub('DELETE', '/users/cleo/servers/notes')).status);
    await waitFor('cleo/notes to stop', async () =>
      (await hub('GET', '/users/cleo')).json.servers.notes === undefined ? true : undefined,
    );
  });

  it('answers an unknown user with 404 and a bad token with 401, in JupyterHub’s error shape', async () => {
    const missing = await hub('GET', '/users/zed');
    expect(missing.status).toBe(404);
    const refused = await hub('GET', '/users', { headers: { authorization: 'token nonsense' } });
    expect(refused.status).toBe(401);
  });
});
