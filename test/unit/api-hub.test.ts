import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCompute } from '../fakes/fake-compute.ts';
import { FakeRouter } from '../fakes/fake-router.ts';
import { events, type HubClient } from '../support/jupyterhub/hub-client.ts';
import { type HubKit, makeHubKit } from '../support/jupyterhub/hub-kit.ts';
import { schemaProblems } from '../support/jupyterhub/rest-api.ts';

/**
 * /hub/api against JupyterHub 5.5.1's REST API description and its handlers' behaviour
 * (jupyterhub/apihandlers/users.py, base.py). Every answer is validated against
 * rest-api.yml by the client (test/support/jupyterhub/hub-client.ts).
 */
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
const PAGED = { accept: 'application/jupyterhub-pagination+json' };

describe('JupyterHub-compatible API /hub/api', () => {
  let t: HubKit;
  let hub: HubClient;
  beforeEach(async () => {
    t = await makeHubKit();
    await t.addUsers(['ada', 'bo']);
    hub = t.client(
      await t.kit.token('list:users read:users servers read:servers delete:servers users:activity'),
    );
  });
  afterEach(() => t.compute.dispose());

  /** Starts ada's (or a named) server and follows progress until ready. */
  async function ready(user: string, server = ''): Promise<void> {
    const path = server ? `/users/${user}/servers/${server}` : `/users/${user}/server`;
    expect([201, 202]).toContain((await hub.call('POST', path)).status);
    await tick();
    const stream = events((await hub.call('GET', `${path}/progress`)).body);
    expect(stream.at(-1)).toMatchObject({ ready: true });
  }

  it('GET / tells the version without authentication, and every answer carries X-JupyterHub-Version', async () => {
    const answer = await t.kit.call('GET', '/hub/api/');
    expect(answer.status).toBe(200);
    expect(answer.json.version).toBe('5.5.1');
    expect(answer.headers['x-jupyterhub-version']).toBe('5.5.1');
    const refused = await t.kit.call('GET', '/hub/api/users');
    expect(refused.status).toBe(401);
    expect(refused.headers['x-jupyterhub-version']).toBe('5.5.1');
  });

  describe('users', () => {
    it('lists users in JupyterHub’s User model, with their servers and full_name', async () => {
      await hub.call('POST', '/users/ada/server');
      const ada = (await hub.call('GET', '/users')).json.find((u: { name: string }) => u.name === 'ada');
      expect(ada).toMatchObject({ kind: 'user', pending: 'spawn', server: null });
      expect(ada.servers['']).toMatchObject({
        name: '',
        full_name: 'ada/',
        ready: false,
        pending: 'spawn',
        url: '/user/ada/',
        progress_url: '/hub/api/users/ada/server/progress',
        full_url: 'https://labs.example.edu/user/ada/',
      });
    });

    it('pages with an absolute next.url that keeps every query parameter (the culler follows it as given)', async () => {
      await t.addUsers(['cy', 'dee']);
      for (const name of ['ada', 'bo', 'cy']) await ready(name);
      const first = await hub.call('GET', '/users?state=ready&limit=1&include_stopped_servers=0&sort=name', {
        headers: PAGED,
      });
      expect(first.json._pagination).toEqual({
        offset: 0,
        limit: 1,
        total: 3,
        next: {
          offset: 1,
          limit: 1,
          url: 'https://labs.example.edu/hub/api/users?state=ready&limit=1&include_stopped_servers=0&sort=name&offset=1',
        },
      });
      const { items, pages } = await hub.paginate('/users?state=ready&limit=1');
      expect(items.map((u) => u.name)).toEqual(['ada', 'bo', 'cy']);
      expect(pages).toHaveLength(3);
    });

    it('pages state=ready over users with an active server, as JupyterHub does: one being stopped keeps its place', async () => {
      await t.addUsers(['cy']);
      for (const name of ['ada', 'bo', 'cy']) await ready(name);
      t.compute.stop = async () => undefined; // stops take a while, as on Fargate
      const first = await hub.call('GET', '/users?state=ready&limit=1', { headers: PAGED });
      expect(first.json.items.map((u: { name: string }) => u.name)).toEqual(['ada']);
      expect((await hub.call('DELETE', '/users/ada/server')).status).toBe(202);
      const second = await hub.call('GET', first.json._pagination.next.url, { headers: PAGED });
      expect(second.json.items.map((u: { name: string }) => u.name)).toEqual(['bo']);
      expect(second.json._pagination.total).toBe(3);
      const again = await hub.call('GET', '/users?state=ready&limit=1', { headers: PAGED });
      expect(again.json.items).toEqual([]); // ada is stopping: not ready, but still in the window
    });

    it('takes the origin of next.url from the request’s Host, as JupyterHub’s full_url() does', async () => {
      const answer = await t.kit.call('GET', '/hub/api/users', {
        authorization: `token ${await t.kit.token('list:users')}`,
        query: { limit: '1' },
        headers: { ...PAGED, host: '127.0.0.1:8000', 'x-forwarded-proto': 'http' },
      });
      expect(answer.json._pagination.next.url).toBe('http://127.0.0.1:8000/hub/api/users?limit=1&offset=1');
    });

    it('clamps limit to 1..200 and reads offset as JupyterHub does; a non-number is a 400', async () => {
      expect((await hub.call('GET', '/users?limit=0', { headers: PAGED })).json._pagination.limit).toBe(1);
      expect((await hub.call('GET', '/users?limit=5000', { headers: PAGED })).json._pagination.limit).toBe(
        200,
      );
      expect((await hub.call('GET', '/users', { headers: PAGED })).json._pagination.limit).toBe(50);
      expect(
        (await hub.call('GET', '/users?offset=-1&limit=1', { headers: PAGED })).json._pagination.offset,
      ).toBe(1);
      expect((await hub.call('GET', '/users?limit=ten')).status).toBe(400);
      expect((await hub.call('GET', '/users?state=sleepy')).status).toBe(400);
      expect((await hub.call('GET', '/users?sort=age')).status).toBe(400);
    });

    it('sorts by name or last_activity, descending with a minus', async () => {
      await ready('bo');
      t.clock.advance(60);
      await ready('ada');
      const byActivity = (await hub.call('GET', '/users?sort=-last_activity')).json.map(
        (u: { name: string }) => u.name,
      );
      expect(byActivity).toEqual(['ada', 'bo', 'admin'].filter((n) => byActivity.includes(n)));
      expect(byActivity.slice(0, 2)).toEqual(['ada', 'bo']);
      expect((await hub.call('GET', '/users?sort=-name')).json.map((u: { name: string }) => u.name)).toEqual([
        'bo',
        'ada',
      ]);
    });

    it('keeps last_activity after the server stops; include_stopped_servers=0 or false leaves stopped servers out', async () => {
      await ready('ada');
      expect((await hub.call('DELETE', '/users/ada/server')).status).toBe(204);
      const plain = (await hub.call('GET', '/users/ada')).json;
      expect(plain.last_activity).not.toBeNull();
      expect(plain.servers).toEqual({});
      for (const value of ['0', 'false', 'False'])
        expect((await hub.call('GET', `/users/ada?include_stopped_servers=${value}`)).json.servers).toEqual(
          {},
        );
      for (const query of [
        'include_stopped_servers',
        'include_stopped_servers=1',
        'include_stopped_servers=true',
      ])
        expect((await hub.call('GET', `/users/ada?${query}`)).json.servers['']).toMatchObject({
          stopped: true,
          ready: false,
        });
      const listed = (await hub.call('GET', '/users?include_stopped_servers=false')).json;
      expect(listed.find((u: { name: string }) => u.name === 'ada')).toMatchObject({
        servers: {},
        last_activity: plain.last_activity,
      });
    });

    it('gets one user; 404 for an unknown one; servers only with read:servers', async () => {
      expect((await hub.call('GET', '/users/bo')).json).toMatchObject({ name: 'bo', servers: {} });
      expect((await hub.call('GET', '/users/zed')).status).toBe(404);
      const reader = t.client(await t.kit.token('read:users'));
      expect((await reader.call('GET', '/users/ada')).json.servers).toBeUndefined();
      const serversOnly = t.client(await t.kit.token('read:servers'));
      expect((await serversOnly.call('GET', '/users/ada')).json).toEqual({
        kind: 'user',
        name: 'ada',
        admin: false,
        servers: {},
      });
    });

    it('shows each caller only the fields its scopes may read, as JupyterHub filters its models', async () => {
      await ready('ada');
      const names = t.client(await t.serviceToken(['list:users'], { name: 'lister' }));
      expect((await names.call('GET', '/users')).json[0]).toEqual({
        kind: 'user',
        name: 'ada',
        admin: false,
      });
      const culler = t.client(
        await t.serviceToken(['list:users', 'read:users:activity', 'read:servers'], { name: 'c' }),
      );
      const seen = (await culler.call('GET', '/users?state=ready')).json[0];
      expect(Object.keys(seen).sort()).toEqual(['admin', 'kind', 'last_activity', 'name', 'servers']);
      expect(Object.keys((await culler.call('GET', '/users/ada')).json).sort()).toEqual(
        Object.keys(seen).sort(),
      );
      const nothing = t.client(await t.serviceToken(['delete:servers'], { name: 'd' }));
      expect((await nothing.call('GET', '/users/ada')).status).toBe(403);
    });

    it('refuses DELETE /users/{name} with one clear reason, logged once per caller', async () => {
      const logged: string[] = [];
      t.core.log = (_level, message) => void logged.push(message);
      for (let i = 0; i < 3; i++) {
        const answer = await hub.call('DELETE', '/users/bo');
        expect(answer.status).toBe(403);
        expect(answer.json.message).toContain('without --cull-users');
      }
      expect(logged.filter((m) => m.includes('delete a user'))).toHaveLength(1);
      expect(await t.core.directory.get('bo')).toMatchObject({ disabled: false });
    });
  });

  describe('starting and stopping', () => {
    it('POST answers 202 while starting and again while pending; 400 once running', async () => {
      expect((await hub.call('POST', '/users/ada/server', { body: { profile: 'standard' } })).status).toBe(
        202,
      );
      expect((await hub.call('POST', '/users/ada/server')).status).toBe(202);
      expect(t.compute.calls.start).toHaveLength(1);
      await tick();
      await hub.call('GET', '/users/ada/server/progress');
      const again = await hub.call('POST', '/users/ada/server');
      expect(again.status).toBe(400);
      expect(again.json.message).toContain('already running');
    });

    it('POST answers 201 when the server is ready at once', async () => {
      t.compute.poll = async () => ({ state: 'running', target: { host: '127.0.0.1', port: 9999 } });
      expect((await hub.call('POST', '/users/bo/server')).status).toBe(201);
    });

    it('tells a start that found the deployment full why it failed, in the progress stream', async () => {
      t.core.router = new FakeRouter(0);
      expect((await hub.call('POST', '/users/ada/server')).status).toBe(202);
      await tick();
      const stream = events((await hub.call('GET', '/users/ada/server/progress')).body);
      expect(stream.at(-1)).toMatchObject({
        failed: true,
        message: expect.stringContaining('routes are in use'),
      });
    });

    it('refuses unknown user_options instead of ignoring them', async () => {
      const answer = await hub.call('POST', '/users/ada/server', { body: { profile: 'standard', gpus: 2 } });
      expect(answer.status).toBe(400);
      expect(answer.json.message).toMatch(/Unknown user_options "gpus".*profile.*standard/);
      expect((await hub.call('POST', '/users/ada/server', { body: { profile: 'huge' } })).status).toBe(400);
      expect(t.compute.calls.start).toHaveLength(0);
    });

    it('DELETE answers 204 when stopped, 204 again when not running (racing cullers), 202 while stopping', async () => {
      await ready('ada');
      expect((await hub.call('DELETE', '/users/ada/server')).status).toBe(204);
      expect((await hub.call('DELETE', '/users/ada/server')).status).toBe(204);
      expect((await hub.call('DELETE', '/users/bo/server')).status).toBe(204);
      await ready('bo');
      t.compute.stop = async () => undefined;
      expect((await hub.call('DELETE', '/users/bo/server')).status).toBe(202);
      expect((await hub.call('DELETE', '/users/bo/server')).status).toBe(202);
    });

    it('records who stopped a server: a client, a service, and a culling service’s stops as idle culls', async () => {
      await ready('ada');
      await hub.call('DELETE', '/users/ada/server');
      expect((await t.core.store.get('ada', ''))?.reason).toMatchObject({ code: 'admin', by: 'service:lms' });
      await ready('ada');
      const dashboard = t.client(await t.serviceToken(['servers'], { name: 'dashboard' }));
      await dashboard.call('DELETE', '/users/ada/server');
      expect((await t.core.store.get('ada', ''))?.reason).toMatchObject({
        code: 'admin',
        by: 'service:dashboard',
      });
      await ready('ada');
      const culler = t.client(
        await t.serviceToken(['list:users', 'read:servers', 'delete:servers'], {
          name: 'idle-culler',
          culls: true,
        }),
      );
      await culler.call('DELETE', '/users/ada/server');
      expect((await t.core.store.get('ada', ''))?.reason).toMatchObject({
        code: 'idle',
        by: 'service:idle-culler',
      });
      expect(t.core.events.events.filter((e) => e.type === 'cull')).toHaveLength(1);
      expect(t.core.events.events.filter((e) => e.type === 'stop')).toHaveLength(2);
    });

    it('users:activity grants no start or stop', async () => {
      await ready('ada');
      const reporter = t.client(await t.serviceToken(['users:activity'], { name: 'activity' }));
      expect((await reporter.call('DELETE', '/users/ada/server')).status).toBe(403);
      expect((await reporter.call('POST', '/users/bo/server')).status).toBe(403);
      const now = t.clock.now().toISOString();
      expect(
        (
          await reporter.call('POST', '/users/ada/activity', {
            body: { servers: { '': { last_activity: now } } },
          })
        ).status,
      ).toBe(200);
      const jwtReporter = t.client(await t.kit.token('users:activity'));
      expect((await jwtReporter.call('DELETE', '/users/ada/server')).status).toBe(403);
      expect(
        (
          await t.kit.call('DELETE', '/api/v1/users/ada/server', {
            token: await t.kit.token('users:activity'),
          })
        ).status,
      ).toBe(403);
    });
  });

  describe('named servers', () => {
    it('start, list, follow and stop a named server at JupyterHub’s paths', async () => {
      await ready('ada', 'thesis');
      const user = (await hub.call('GET', '/users/ada')).json;
      expect(user.server).toBeNull();
      expect(user.servers.thesis).toMatchObject({
        name: 'thesis',
        full_name: 'ada/thesis',
        ready: true,
        url: '/user/ada/thesis/',
        progress_url: '/hub/api/users/ada/servers/thesis/progress',
      });
      expect(t.compute.calls.start[0]).toMatchObject({ server: 'thesis', baseUrl: '/user/ada/thesis/' });
      expect((await hub.call('DELETE', '/users/ada/servers/thesis')).status).toBe(204);
      expect((await hub.call('DELETE', '/users/ada/servers/never')).status).toBe(404);
    });

    it('an empty server name is the default server (JupyterHub’s start-stop example posts to /servers/)', async () => {
      expect([201, 202]).toContain((await hub.call('POST', '/users/bo/servers/')).status);
      expect(t.compute.calls.start[0]).toMatchObject({ server: '', baseUrl: '/user/bo/' });
      await tick();
      expect(events((await hub.call('GET', '/users/bo/servers//progress')).body).at(-1)).toMatchObject({
        ready: true,
      });
      expect((await hub.call('DELETE', '/users/bo/servers/', { body: { remove: true } })).status).toBe(400);
      expect((await hub.call('DELETE', '/users/bo/servers/')).status).toBe(204);
    });

    it('keeps to the per-user limit; stopped servers do not count', async () => {
      t.core.settings.namedServerLimit = 2;
      await ready('ada', 'one');
      await ready('ada', 'two');
      const third = await hub.call('POST', '/users/ada/servers/three');
      expect(third.status).toBe(400);
      expect(third.json.message).toContain('maximum of 2 named servers');
      await hub.call('DELETE', '/users/ada/servers/one', { body: { remove: true } });
      expect([201, 202]).toContain((await hub.call('POST', '/users/ada/servers/three')).status);
      t.core.settings.namedServerLimit = 0;
      expect((await hub.call('POST', '/users/bo/servers/x')).json.message).toContain('not enabled');
    });

    it('refuses a server name that cannot be a URL segment', async () => {
      const answer = await hub.call('POST', '/users/ada/servers/My_Server');
      expect(answer.status).toBe(400);
      expect(answer.json.message).toContain('Server names');
    });
  });

  describe('progress', () => {
    it('streams the start’s events, then ready with the url', async () => {
      await hub.call('POST', '/users/ada/server');
      const answer = await hub.call('GET', '/users/ada/server/progress');
      expect(answer.headers['content-type']).toBe('text/event-stream');
      const stream = events(answer.body);
      expect(stream[0]).toEqual({ progress: 10, message: 'Server requested' });
      expect(stream.at(-1)).toMatchObject({ progress: 100, ready: true, url: '/user/ada/' });
    });

    it('sends a ready server only the ready event, and a stopped one a 400 (no replay of old events)', async () => {
      await ready('ada');
      const stream = events((await hub.call('GET', '/users/ada/server/progress')).body);
      expect(stream).toHaveLength(1);
      expect(stream[0]).toMatchObject({ ready: true });
      await hub.call('DELETE', '/users/ada/server');
      const stopped = await hub.call('GET', '/users/ada/server/progress');
      expect(stopped.status).toBe(400);
      expect(stopped.json.message).toContain('not starting');
      expect((await hub.call('GET', '/users/bo/server/progress')).status).toBe(404);
    });

    it('ends with failed when the server crashed, and a later read gets the failed event alone', async () => {
      t.compute = new FakeCompute({ behaviour: { kind: 'crashes-mid-start' } });
      t.core.compute = t.compute;
      await hub.call('POST', '/users/ada/server');
      const first = events((await hub.call('GET', '/users/ada/server/progress')).body);
      expect(first.at(-1)).toMatchObject({ failed: true, message: expect.stringMatching(/^Spawn failed: /) });
      const later = events((await hub.call('GET', '/users/ada/server/progress')).body);
      expect(later).toEqual([first.at(-1)]);
    });

    it('answers within its time budget while the server is still starting', async () => {
      t.compute = new FakeCompute({ behaviour: { kind: 'never-starts' } });
      t.core.compute = t.compute;
      t.kit.deps.progressBudgetMs = 50;
      await hub.call('POST', '/users/ada/server');
      const answer = await hub.call('GET', '/users/ada/server/progress');
      expect(answer.status).toBe(200);
      expect(answer.body).not.toContain('"ready"');
    });
  });

  describe('activity', () => {
    it('moves last_activity forward only', async () => {
      await hub.call('POST', '/users/ada/server');
      const when = t.clock.now().toISOString();
      const post = (body: unknown) => hub.call('POST', '/users/ada/activity', { body });
      expect((await post({ servers: { '': { last_activity: when } } })).status).toBe(200);
      await post({ servers: { '': { last_activity: '2020-01-01T00:00:00Z' } } });
      expect((await hub.call('GET', '/users/ada')).json.servers[''].last_activity).toBe(when);
    });

    it('accepts activity for a server that just stopped, as JupyterHub does', async () => {
      await ready('ada');
      await hub.call('DELETE', '/users/ada/server');
      t.clock.advance(5);
      const when = t.clock.now().toISOString();
      const answer = await hub.call('POST', '/users/ada/activity', {
        body: { servers: { '': { last_activity: when } } },
      });
      expect(answer.status).toBe(200);
      expect((await hub.call('GET', '/users/ada')).json.last_activity).toBe(when);
    });

    it('records a user-level last_activity for the user without keeping a server alive', async () => {
      await ready('ada');
      const serverActivity = (await t.core.store.get('ada', ''))!.lastActivity;
      t.clock.advance(120);
      const when = t.clock.now().toISOString();
      expect((await hub.call('POST', '/users/ada/activity', { body: { last_activity: when } })).status).toBe(
        200,
      );
      const user = (await hub.call('GET', '/users/ada')).json;
      expect(user.last_activity).toBe(when);
      expect(user.servers[''].last_activity).toBe(serverActivity);
    });

    it('refuses an empty body, an unknown server, a bad or far-future timestamp, and a missing scope', async () => {
      const post = (body: unknown) => hub.call('POST', '/users/ada/activity', { body });
      const now = t.clock.now();
      expect((await post({})).status).toBe(400);
      expect((await post([])).status).toBe(400);
      expect((await post({ servers: { '': { last_activity: now.toISOString() } } })).json.message).toContain(
        "No such server ''",
      );
      await hub.call('POST', '/users/ada/server');
      expect((await post({ servers: { '': { last_activity: 'yesterday' } } })).status).toBe(400);
      const later = new Date(now.getTime() + 2 * 3600_000).toISOString();
      expect((await post({ servers: { '': { last_activity: later } } })).json.message).toContain(
        'in the future',
      );
      const soon = new Date(now.getTime() + 10 * 60_000).toISOString();
      expect((await post({ servers: { '': { last_activity: soon } } })).status).toBe(200);
      expect((await t.core.store.get('ada', ''))?.lastActivity).toBe(now.toISOString());
      const reader = t.client(await t.kit.token('read:users'));
      expect((await reader.call('POST', '/users/ada/activity', { body: {} })).status).toBe(403);
    });
  });

  describe('GET /user (who am I)', () => {
    it('answers a service token with a Service identity and its expanded scopes', async () => {
      const token = await t.serviceToken(['list:users', 'read:servers'], { name: 'idle-culler' });
      const me = await t.client(token).call('GET', '/user');
      expect(schemaProblems('RequestIdentity', me.json)).toEqual([]);
      expect(me.json).toMatchObject({ kind: 'service', name: 'idle-culler', session_id: null });
      expect(me.json.token_id).toBe(token.split('_')[1]);
      expect(me.json.scopes).toEqual(
        expect.arrayContaining(['list:users', 'read:servers', 'read:users:name']),
      );
    });

    it('answers a user’s token with that user’s model', async () => {
      await ready('ada');
      const token = await t.serviceToken(['read:servers'], { name: 'ada-notebook', user: 'ada' });
      const me = (await t.client(token).call('GET', '/user')).json;
      expect(schemaProblems('RequestIdentity', me)).toEqual([]);
      expect(me).toMatchObject({ kind: 'user', name: 'ada', admin: false, server: '/user/ada/' });
      expect(me.servers['']).toMatchObject({ ready: true });
    });

    it('answers a platform’s client token as a service, and an administrator’s own token as an admin user', async () => {
      expect((await hub.call('GET', '/user')).json).toMatchObject({ kind: 'service', name: 'lms' });
      await t.core.directory.upsert({ name: 'teacher', admin: true });
      const admin = t.client(await t.kit.token('openid', { username: 'teacher' }));
      expect((await admin.call('GET', '/user')).json).toMatchObject({
        kind: 'user',
        name: 'teacher',
        admin: true,
      });
    });

    it('refuses a revoked or unknown token with 401', async () => {
      const token = await t.serviceToken(['list:users'], { name: 'gone' });
      await t.tokens.delete(token.split('_')[1]!);
      expect((await t.client(token).call('GET', '/user')).status).toBe(401);
      expect((await t.client(`hbs_000000000000_${'x'.repeat(43)}`).call('GET', '/user')).status).toBe(401);
    });
  });
});
