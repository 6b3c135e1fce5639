import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getServer } from '../../functions/core/use-cases/get-server.ts';
import { events, type HubClient } from '../support/jupyterhub/hub-client.ts';
import { type HubKit, makeHubKit } from '../support/jupyterhub/hub-kit.ts';

/**
 * Scripted flows of JupyterHub's own clients against /hub/api, in memory (fast, no
 * network), each answer validated against rest-api.yml:
 * - jupyterhub-idle-culler's cull_idle (jupyterhub_idle_culler/__init__.py, 2.0.0), with
 *   --api-page-size=1 over 250 users, two cullers racing, and a token kept for months;
 * - JupyterHub's examples/server-api/start-stop-server.py;
 * - HubAuth.user_for_token (jupyterhub/services/auth.py).
 */

interface CullerOptions {
  timeoutSeconds: number;
  pageSize: number;
  now: () => Date;
}

/**
 * What jupyterhub-idle-culler does in one cycle: read the version, page through
 * ?state=ready following next.url as given, skip pending and not-ready servers, stop each
 * server idle longer than the timeout (named ones at /servers/{name}); 202 means still
 * stopping. Returns what it stopped and the pages it read.
 */
async function cullIdle(hub: HubClient, options: CullerOptions) {
  const version = await hub.call('GET', '/');
  expect(version.json.version >= '1.3.0').toBe(true);
  const { items, pages } = await hub.paginate(`/users?limit=${options.pageSize}&state=ready`);
  const stopped: Array<{ server: string; status: number }> = [];
  const now = options.now().getTime();
  await Promise.all(
    items.map(async (user) => {
      for (const [name, server] of Object.entries(user.servers) as [string, any][]) {
        if (server.pending || !server.ready) continue;
        const inactive = (now - Date.parse(server.last_activity ?? server.started)) / 1000;
        if (inactive <= options.timeoutSeconds) continue;
        const path = name ? `/users/${user.name}/servers/${name}` : `/users/${user.name}/server`;
        const answer = await hub.call('DELETE', path);
        // The culler treats anything but 2xx as an error it logs with a traceback.
        expect([202, 204], `${path}: ${answer.body}`).toContain(answer.status);
        stopped.push({ server: `${user.name}/${name}`, status: answer.status });
      }
    }),
  );
  return { stopped: stopped.map((s) => s.server).sort(), statuses: stopped.map((s) => s.status), pages };
}

describe('JupyterHub clients’ flows against /hub/api', () => {
  let t: HubKit;
  let starter: HubClient;
  beforeEach(async () => {
    t = await makeHubKit();
    starter = t.client(await t.serviceToken(['servers', 'read:servers', 'list:users'], { name: 'starter' }));
  });
  afterEach(() => t.compute.dispose());

  async function startReady(user: string, server = ''): Promise<void> {
    const path = server ? `/users/${user}/servers/${server}` : `/users/${user}/server`;
    expect([201, 202]).toContain((await starter.call('POST', path)).status);
    expect(events((await starter.call('GET', `${path}/progress`)).body).at(-1)).toMatchObject({
      ready: true,
    });
  }

  /** Many users' servers at once, as a class would start them; resolves when all are ready. */
  async function startClass(names: string[]): Promise<void> {
    await Promise.all(names.map((name) => starter.call('POST', `/users/${name}/server`)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const name of names) expect((await getServer(t.core, name, '')).state).toBe('ready');
  }

  const cullerScopes = ['list:users', 'read:users:activity', 'read:servers', 'delete:servers'];

  it('the idle culler pages with --api-page-size=1 over 250 users and stops exactly the idle servers', async () => {
    const names = Array.from({ length: 250 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    await t.addUsers(names);
    await startClass(names);
    await startReady('s001', 'thesis');
    await startReady('s002', 'thesis');
    t.clock.advance(3600);
    const reporter = t.client(await t.serviceToken(['users:activity'], { name: 'activity' }));
    const active = names.filter((_, i) => i % 3 === 0);
    const seen = t.clock.now().toISOString();
    for (const name of active)
      await reporter.call('POST', `/users/${name}/activity`, {
        body: { servers: { '': { last_activity: seen } } },
      });
    await reporter.call('POST', '/users/s001/activity', {
      body: { servers: { thesis: { last_activity: seen } } },
    });
    t.clock.advance(60);

    const culler = t.client(await t.serviceToken(cullerScopes, { name: 'idle-culler', culls: true }));
    const first = await cullIdle(culler, { timeoutSeconds: 1800, pageSize: 1, now: () => t.clock.now() });
    expect(first.pages).toHaveLength(250); // one page per user with a ready server
    const idle = [...names.filter((n) => !active.includes(n)).map((n) => `${n}/`), 's002/thesis'].sort();
    expect(first.stopped).toEqual(idle);
    const culls = t.core.events.events.filter((e) => e.type === 'cull');
    expect(culls).toHaveLength(idle.length);
    for (const name of active) expect((await t.core.store.get(name, ''))?.state).toBe('ready');
    expect((await t.core.store.get('s001', 'thesis'))?.state).toBe('ready');

    // The next cycle finds nothing more to stop.
    expect(
      (await cullIdle(culler, { timeoutSeconds: 1800, pageSize: 1, now: () => t.clock.now() })).stopped,
    ).toEqual([]);
  }, 60_000);

  it('a service token outlives any session: months later it still works; revoking ends it at once', async () => {
    await t.addUsers(['ada']);
    const token = await t.serviceToken(cullerScopes, { name: 'idle-culler', culls: true });
    const culler = t.client(token);
    expect((await culler.call('GET', '/users')).status).toBe(200);
    t.clock.advance(120 * 24 * 3600);
    expect((await culler.call('GET', '/users')).status).toBe(200);
    // An expiring client-credentials token does not (an hour is what Cognito gives).
    const expired = await t.kit.issuer.token(
      { scope: 'list:users' },
      { expiresIn: Math.floor(Date.now() / 1000) - 10 },
    );
    const old = await t.client(expired).call('GET', '/users');
    expect(old.status).toBe(401);
    expect(old.json.message).toContain('expired');
    await t.tokens.delete(token.split('_')[1]!);
    const revoked = await culler.call('GET', '/users');
    expect(revoked.status).toBe(401);
    expect(revoked.json.message).toContain('revoked');
  });

  it('two cullers racing over the same users both succeed, and each idle server stops once', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await t.addUsers(names);
    await startClass(names);
    t.clock.advance(7200);
    // A compute that takes its time to stop, so some answers are 202 "still stopping".
    const stop = t.compute.stop.bind(t.compute);
    t.compute.stop = async (handle, reason) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return stop(handle, reason);
    };
    const a = t.client(await t.serviceToken(cullerScopes, { name: 'culler-a', culls: true }));
    const b = t.client(await t.serviceToken(cullerScopes, { name: 'culler-b', culls: true }));
    const options = { timeoutSeconds: 3600, pageSize: 4, now: () => t.clock.now() };
    const [first, second] = await Promise.all([cullIdle(a, options), cullIdle(b, options)]);
    expect(new Set([...first.stopped, ...second.stopped])).toEqual(new Set(names.map((n) => `${n}/`)));
    const ends = t.core.events.events.filter((e) => e.type === 'cull' || e.type === 'stop');
    expect(ends).toHaveLength(names.length);
    expect(new Set(ends.map((e) => e.user)).size).toBe(names.length);
  });

  it('JupyterHub’s start-stop example: status, start, follow progress, stop and wait', async () => {
    await t.addUsers(['test-user']);
    const hub = t.client(
      await t.serviceToken(['servers', 'read:servers', 'read:users'], { name: 'launcher' }),
    );
    for (const serverName of ['', 'gpu']) {
      const userUrl = '/users/test-user';
      // start_server: step 1, user status; if not active, POST .../servers/{name}
      let user = (await hub.call('GET', userUrl)).json;
      expect(user.servers[serverName]).toBeUndefined();
      const start = await hub.call('POST', `${userUrl}/servers/${serverName}`);
      expect([201, 202]).toContain(start.status);
      user = (await hub.call('GET', userUrl)).json;
      const server = user.servers[serverName];
      expect(server.pending === 'spawn' || server.ready).toBe(true);
      // wait using the progress API, at the progress_url the model gives
      const stream = events((await hub.call('GET', server.progress_url)).body);
      const ready = stream.find((event) => event.ready);
      expect(ready.url).toBe(serverName ? '/user/test-user/gpu/' : '/user/test-user/');
      for (const event of stream)
        expect(event).toMatchObject({ progress: expect.any(Number), message: expect.any(String) });
      // (step 4 of the example, a request to the lab with the service token, needs
      // access:servers, which hubless does not grant: labs admit only their owner.)
      // stop_server: DELETE .../servers/{name}; 204 stopped, 202 stopping -> poll until gone
      const stop = await hub.call('DELETE', `${userUrl}/servers/${serverName}`);
      expect([202, 204]).toContain(stop.status);
      for (let i = 0; stop.status === 202 && i < 50; i++) {
        const now = (await hub.call('GET', userUrl)).json;
        if (!(serverName in now.servers)) break;
        expect(now.servers[serverName].pending).toBe('stop');
      }
      expect((await hub.call('GET', userUrl)).json.servers[serverName]).toBeUndefined();
    }
  });

  it('HubAuth.user_for_token: a service asks who a token belongs to', async () => {
    await t.addUsers(['ada', 'bo']);
    await startReady('ada');
    // What HubAuth does: GET {api_url}/user with "Authorization: token <the token to check>".
    async function userForToken(token: string): Promise<Record<string, any> | null> {
      const answer = await t.client(token).call('GET', '/user');
      // HubAuth: 200 -> the model; 403 (allowed) or another 4xx -> None; 5xx -> error.
      if (answer.status >= 500) throw new Error(`Failed to check authorization: ${answer.status}`);
      return answer.status === 200 ? answer.json : null;
    }
    const adaToken = await t.serviceToken(['read:servers'], { name: 'ada-token', user: 'ada' });
    const ada = await userForToken(adaToken);
    expect(ada).toMatchObject({
      kind: 'user',
      name: 'ada',
      admin: false,
      groups: ['cs101'],
      server: '/user/ada/',
    });
    expect(ada?.scopes).toContain('read:servers');
    const service = await userForToken(await t.serviceToken(['list:users'], { name: 'grader' }));
    expect(service).toMatchObject({ kind: 'service', name: 'grader' });
    expect(await userForToken('not-a-token')).toBeNull();
    await t.core.directory.disable('ada');
    expect(await userForToken(adaToken)).toBeNull();
    await t.tokens.delete(adaToken.split('_')[1]!);
    expect(await userForToken(adaToken)).toBeNull();
  });
});
