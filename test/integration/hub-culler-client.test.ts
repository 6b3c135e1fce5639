import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchema } from '../fakes/api-openapi-check.ts';
import { JUPYTERHUB_ERROR, JUPYTERHUB_USER, JUPYTERHUB_USER_PAGE } from '../support/jupyterhub-shapes.ts';
import { type TestLocalMode, waitFor } from '../support/local-mode.ts';
import { clientToken, startLocalModeWithClients } from '../support/machine-client.ts';

/**
 * A JupyterHub client against local mode's /hub/api: a script that does what
 * jupyterhub-idle-culler does (jupyterhub/jupyterhub-idle-culler, __init__.py): check
 * the API version, page through users with ready servers, read each server's
 * last_activity, DELETE the server of the idle ones ("Authorization: token …"), and
 * treat 202 as "still stopping". Every answer is checked against JupyterHub's shapes.
 */
let local: TestLocalMode;
let token: string;

beforeAll(async () => {
  const started = await startLocalModeWithClients({
    culler: ['users:read', 'servers:read', 'servers:write'],
  });
  local = started.local;
  token = await clientToken(local.url, started.clients.culler!);
  for (const name of ['ada', 'bo', 'cleo']) await local.addUser(name, `${name}-password`);
});

afterAll(async () => {
  await local?.stop();
});

interface HubAnswer {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

async function hub(
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<HubAnswer> {
  const response = await fetch(`${local.url}/hub/api${path}`, {
    method,
    headers: {
      authorization: `token ${token}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
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

/** jupyterhub-idle-culler's fetch of users: ?state=ready, paged with the pagination media type. */
async function readyUsers(): Promise<HubUser[]> {
  const users: HubUser[] = [];
  let url: string | null = '/users?state=ready&limit=1';
  while (url) {
    const page = await hub('GET', url, { headers: { accept: 'application/jupyterhub-pagination+json' } });
    expect(page.status).toBe(200);
    expect(checkSchema(JUPYTERHUB_USER_PAGE, page.json)).toEqual([]);
    users.push(...page.json.items);
    url = page.json._pagination.next
      ? String(page.json._pagination.next.url).replace(/^\/hub\/api/, '')
      : null;
  }
  return users;
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
  expect(checkSchema(JUPYTERHUB_USER, answer.json)).toEqual([]);
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
      expect(stream.headers.get('content-type')).toBe('text/event-stream');
      const events = stream.text
        .split('\n\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line.replace(/^data: /, '')));
      const last = events.at(-1);
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

    // Time passes; then bo's lab reports activity (as the lab's activity hook does).
    await new Promise((resolve) => setTimeout(resolve, 2000));
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

    // Stopping a server that is not running is a 400 in JupyterHub's error shape.
    const again = await hub('DELETE', '/users/ada/server');
    expect(again.status).toBe(400);
    expect(checkSchema(JUPYTERHUB_ERROR, again.json)).toEqual([]);
    expect(again.json.message).toContain('not running');

    const stopBo = await hub('DELETE', '/users/bo/server');
    expect([202, 204]).toContain(stopBo.status);
  });

  it('answers an unknown user with 404 and a bad token with 401, in JupyterHub’s error shape', async () => {
    const missing = await hub('GET', '/users/zed');
    expect(missing.status).toBe(404);
    expect(checkSchema(JUPYTERHUB_ERROR, missing.json)).toEqual([]);
    const refused = await fetch(`${local.url}/hub/api/users`, {
      headers: { authorization: 'token nonsense' },
    });
    expect(refused.status).toBe(401);
    expect(checkSchema(JUPYTERHUB_ERROR, await refused.json())).toEqual([]);
  });
});
