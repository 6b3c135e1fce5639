import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiKit, makeApiKit } from '../fakes/api-harness.ts';
import { checkSchema } from '../fakes/api-openapi-check.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';
import { FakeClock } from '../fakes/fake-parts.ts';
// JupyterHub's User model and error body (from its rest-api.yml).
import { JUPYTERHUB_ERROR as ERROR, JUPYTERHUB_USER as USER } from '../support/jupyterhub-shapes.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('JupyterHub-compatible API /hub/api', () => {
  let kit: ApiKit;
  let token: string;
  let compute: FakeCompute;
  let clock: FakeClock;
  beforeEach(async () => {
    compute = new FakeCompute();
    clock = new FakeClock();
    kit = await makeApiKit({}, makeTestDeps({ compute, clock }));
    token = await kit.token('list:users read:users servers read:servers delete:servers users:activity');
    const admin = await kit.token();
    for (const name of ['ada', 'bo'])
      await kit.call('PUT', `/api/v1/users/${name}`, { token: admin, body: { groups: ['cs101'] } });
  });
  afterEach(() => compute.dispose());
  const hub = (method: string, path: string, options: Parameters<ApiKit['call']>[2] = {}) =>
    kit.call(method, `/hub/api${path}`, { authorization: `token ${token}`, ...options });

  it('GET / tells the API version without authentication', async () => {
    const answer = await kit.call('GET', '/hub/api/');
    expect(answer.status).toBe(200);
    expect(answer.json.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  describe('users', () => {
    it('lists users in JupyterHub’s User model, with their servers', async () => {
      await hub('POST', '/users/ada/server');
      const answer = await hub('GET', '/users');
      expect(answer.status).toBe(200);
      for (const user of answer.json) expect(checkSchema(USER, user)).toEqual([]);
      const ada = answer.json.find((u: { name: string }) => u.name === 'ada');
      expect(ada).toMatchObject({ kind: 'user', pending: 'spawn', server: null });
      expect(ada.servers['']).toMatchObject({
        name: '',
        ready: false,
        pending: 'spawn',
        url: '/user/ada/',
        progress_url: '/hub/api/users/ada/server/progress',
      });
    });

    it('pages for clients that ask for it, and filters by state', async () => {
      await hub('POST', '/users/ada/server');
      await tick();
      await hub('GET', '/users/ada/server/progress'); // follows ada's start until ready
      const ready = await hub('GET', '/users', {
        query: { state: 'ready', limit: '1' },
        headers: { accept: 'application/jupyterhub-pagination+json' },
      });
      expect(ready.json).toMatchObject({
        items: [{ name: 'ada', server: '/user/ada/' }],
        _pagination: { total: 1, next: null },
      });
      const inactive = await hub('GET', '/users', { query: { state: 'inactive' } });
      expect(inactive.json.map((u: { name: string }) => u.name)).toEqual(['bo']);
    });

    it('gets one user; 404 in JupyterHub’s error shape for an unknown one', async () => {
      const one = await hub('GET', '/users/bo');
      expect(checkSchema(USER, one.json)).toEqual([]);
      const missing = await hub('GET', '/users/zed');
      expect(missing.status).toBe(404);
      expect(checkSchema(ERROR, missing.json)).toEqual([]);
    });

    it('leaves servers out without read:servers and refuses without read:users', async () => {
      token = await kit.token('read:users');
      expect((await hub('GET', '/users/ada')).json.servers).toBeUndefined();
      token = await kit.token('read:servers');
      const refused = await hub('GET', '/users/ada');
      expect(refused.status).toBe(403);
      expect(checkSchema(ERROR, refused.json)).toEqual([]);
    });
  });

  describe('server', () => {
    it('POST answers 202 while starting; 400 once running, like JupyterHub', async () => {
      expect((await hub('POST', '/users/ada/server', { body: { profile: 'standard' } })).status).toBe(202);
      expect((await hub('POST', '/users/ada/server')).status).toBe(202);
      expect(compute.calls.start).toHaveLength(1);
      await tick();
      await hub('GET', '/users/ada/server/progress');
      expect((await hub('POST', '/users/ada/server')).status).toBe(400);
    });

    it('POST answers 201 when the server is ready at once', async () => {
      // A compute that is running as soon as it is polled, like a local process.
      compute.poll = async () => ({ state: 'running', target: { host: '127.0.0.1', port: 9999 } });
      expect((await hub('POST', '/users/bo/server')).status).toBe(201);
      expect((await kit.core.store.get('bo', ''))?.state).toBe('ready');
    });

    it('DELETE answers 204 when stopped, 202 while stopping, 400 when not running', async () => {
      await hub('POST', '/users/ada/server');
      await tick();
      expect((await hub('DELETE', '/users/ada/server')).status).toBe(204);
      expect((await hub('DELETE', '/users/ada/server')).status).toBe(400);
      await hub('POST', '/users/bo/server');
      await tick();
      compute.stop = async () => undefined;
      expect((await hub('DELETE', '/users/bo/server')).status).toBe(202);
    });

    it('needs the servers scope to start and delete:servers to stop', async () => {
      token = await kit.token('read:servers');
      expect((await hub('POST', '/users/ada/server')).status).toBe(403);
      expect((await hub('DELETE', '/users/ada/server')).status).toBe(403);
    });
  });

  describe('progress', () => {
    it('streams JupyterHub progress events ending with ready and the url', async () => {
      await hub('POST', '/users/ada/server');
      const answer = await hub('GET', '/users/ada/server/progress');
      expect(answer.headers['content-type']).toBe('text/event-stream');
      const events = answer.body
        .trim()
        .split('\n\n')
        .map((line) => JSON.parse(line.replace(/^data: /, '')));
      expect(events[0]).toEqual({ progress: 10, message: 'Server requested' });
      expect(events.at(-1)).toMatchObject({ progress: 100, ready: true, url: '/user/ada/' });
      for (const event of events)
        expect(
          checkSchema(
            {
              type: 'object',
              required: ['progress', 'message'],
              properties: { progress: { type: 'number' }, message: { type: 'string' } },
            },
            event,
          ),
        ).toEqual([]);
    });

    it('ends with failed when the server crashed', async () => {
      compute = new FakeCompute({ behaviour: { kind: 'crashes-mid-start' } });
      kit.core.compute = compute;
      await hub('POST', '/users/ada/server');
      const events = (await hub('GET', '/users/ada/server/progress')).body.trim().split('\n\n');
      expect(JSON.parse(events.at(-1)!.slice(6))).toMatchObject({
        failed: true,
        message: expect.stringMatching(/^Spawn failed: /),
      });
    });

    it('answers within its time budget while the server is still starting', async () => {
      compute = new FakeCompute({ behaviour: { kind: 'never-starts' } });
      kit.core.compute = compute;
      kit.deps.progressBudgetMs = 50;
      await hub('POST', '/users/ada/server');
      const answer = await hub('GET', '/users/ada/server/progress');
      expect(answer.status).toBe(200);
      expect(answer.body).not.toContain('"ready"');
    });
  });

  describe('activity', () => {
    it('moves last_activity forward only', async () => {
      await hub('POST', '/users/ada/server');
      const when = clock.now().toISOString();
      expect(
        (await hub('POST', '/users/ada/activity', { body: { servers: { '': { last_activity: when } } } }))
          .status,
      ).toBe(200);
      await hub('POST', '/users/ada/activity', {
        body: { servers: { '': { last_activity: '2020-01-01T00:00:00Z' } } },
      });
      expect((await hub('GET', '/users/ada')).json.servers[''].last_activity).toBe(when);
    });

    it('refuses an unknown server, a bad timestamp and a missing scope', async () => {
      expect(
        (
          await hub('POST', '/users/ada/activity', {
            body: { servers: { '': { last_activity: clock.now().toISOString() } } },
          })
        ).status,
      ).toBe(400);
      await hub('POST', '/users/ada/server');
      expect(
        (
          await hub('POST', '/users/ada/activity', {
            body: { servers: { '': { last_activity: 'yesterday' } } },
          })
        ).status,
      ).toBe(400);
      token = await kit.token('read:users');
      expect((await hub('POST', '/users/ada/activity', { body: {} })).status).toBe(403);
    });
  });

  describe('an idle-culling client (jupyterhub-idle-culler’s loop)', () => {
    it('lists users with ready servers, reads last_activity and stops the idle ones', async () => {
      for (const name of ['ada', 'bo']) await hub('POST', `/users/${name}/server`);
      await tick();
      for (const name of ['ada', 'bo']) await hub('GET', `/users/${name}/server/progress`);
      clock.advance(3600);
      await hub('POST', '/users/bo/activity', {
        body: { servers: { '': { last_activity: clock.now().toISOString() } } },
      });
      clock.advance(60);

      const users = (
        await hub('GET', '/users', {
          query: { state: 'ready' },
          headers: { accept: 'application/jupyterhub-pagination+json' },
        })
      ).json.items;
      const idleAfterSeconds = 1800;
      const culled: string[] = [];
      for (const user of users) {
        for (const server of Object.values(user.servers) as {
          ready: boolean;
          pending: string | null;
          last_activity: string | null;
          started: string;
        }[]) {
          if (!server.ready || server.pending) continue;
          const last = Date.parse(server.last_activity ?? server.started);
          if ((clock.now().getTime() - last) / 1000 > idleAfterSeconds) {
            const stop = await hub('DELETE', `/users/${user.name}/server`);
            expect([202, 204]).toContain(stop.status);
            culled.push(user.name);
          }
        }
      }
      expect(culled).toEqual(['ada']);
      expect((await kit.core.store.get('bo', ''))?.state).toBe('ready');
    });
  });
});
