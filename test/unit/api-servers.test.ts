import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiKit, makeApiKit, undocumented } from '../fakes/api-harness.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('API servers', () => {
  let kit: ApiKit;
  let token: string;
  let compute: FakeCompute;
  beforeEach(async () => {
    compute = new FakeCompute();
    kit = await makeApiKit({}, makeTestDeps({ compute }));
    token = await kit.token();
    await kit.call('PUT', '/api/v1/users/ada', { token, body: { groups: ['cs101'] } });
    await kit.call('PUT', '/api/v1/users/bo', { token, body: { groups: ['cs102'] } });
  });
  afterEach(() => compute.dispose());

  describe('POST /users/{user}/server', () => {
    it('starts the server with 202 and returns the same session when asked again', async () => {
      const first = await kit.call('POST', '/api/v1/users/ada/server', {
        token,
        body: { path: 'week3/lab.ipynb' },
      });
      expect(first.status).toBe(202);
      expect(first.json).toMatchObject({
        user: 'ada',
        state: 'launching',
        pending: 'spawn',
        ready: false,
        url: 'https://labs.example.edu/user/ada/',
      });
      expect(undocumented(first, 'POST', '/users/{user}/server')).toEqual([]);
      const again = await kit.call('POST', '/api/v1/users/ada/server', { token, body: {} });
      expect(again.json.started).toBe(first.json.started);
      expect(compute.calls.start).toHaveLength(1);
      expect((await kit.core.store.get('ada', ''))?.openPath).toBe('week3/lab.ipynb');
    });

    it('answers 200 once the server is ready', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token });
      await tick();
      expect((await kit.call('GET', '/api/v1/users/ada/server', { token })).json.state).toBe('ready');
      const again = await kit.call('POST', '/api/v1/users/ada/server', { token });
      expect(again.status).toBe(200);
      expect(undocumented(again, 'POST', '/users/{user}/server')).toEqual([]);
    });

    it('refuses an unknown user, a disabled user, a bad body and a path that climbs out', async () => {
      expect((await kit.call('POST', '/api/v1/users/zed/server', { token })).status).toBe(404);
      await kit.call('DELETE', '/api/v1/users/bo', { token });
      expect((await kit.call('POST', '/api/v1/users/bo/server', { token })).json.error.code).toBe(
        'user_disabled',
      );
      const climb = await kit.call('POST', '/api/v1/users/ada/server', {
        token,
        body: { path: '../other/secret.ipynb' },
      });
      expect(climb.status).toBe(400);
      expect(climb.json.error.message).toMatch(/body\.path/);
      expect(
        (await kit.call('POST', '/api/v1/users/ada/server', { token, body: { size: 'xl' } })).status,
      ).toBe(400);
      expect(compute.calls.start).toHaveLength(0);
    });

    it('needs servers:write', async () => {
      const answer = await kit.call('POST', '/api/v1/users/ada/server', {
        token: await kit.token('hubless/servers:read'),
      });
      expect(answer.status).toBe(403);
      expect(answer.json.error).toEqual({
        code: 'insufficient_scope',
        message: expect.stringMatching(/^This route needs the scope servers:write/),
      });
    });
  });

  describe('GET /users/{user}/server', () => {
    it('reports progress events while starting', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token });
      await tick();
      const answer = await kit.call('GET', '/api/v1/users/ada/server', { token });
      expect(answer.json.events.map((e: { message: string }) => e.message)).toEqual(
        expect.arrayContaining(['Server requested', 'Server is starting', 'Server ready']),
      );
      expect(answer.json.progress).toBe(100);
      expect(undocumented(answer, 'GET', '/users/{user}/server')).toEqual([]);
    });

    it('answers 404 when the user never started a server', async () => {
      const answer = await kit.call('GET', '/api/v1/users/ada/server', { token });
      expect(answer.status).toBe(404);
      expect(undocumented(answer, 'GET', '/users/{user}/server')).toEqual([]);
    });
  });

  describe('DELETE /users/{user}/server', () => {
    it('stops a running server (204 once stopped) and is idempotent', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token });
      await tick();
      const stop = await kit.call('DELETE', '/api/v1/users/ada/server', { token });
      expect(stop.status).toBe(204);
      expect((await kit.core.store.get('ada', ''))?.reason).toMatchObject({
        code: 'admin',
        message: expect.stringContaining('lms'),
      });
      expect((await kit.call('DELETE', '/api/v1/users/ada/server', { token })).status).toBe(204);
    });

    it('answers 202 while the compute is still stopping', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token });
      await tick();
      compute.stop = async () => undefined; // a Fargate task takes a while to stop
      const stop = await kit.call('DELETE', '/api/v1/users/ada/server', { token });
      expect(stop.status).toBe(202);
      expect(stop.json).toMatchObject({ state: 'stopping', pending: 'stop' });
      expect(undocumented(stop, 'DELETE', '/users/{user}/server')).toEqual([]);
    });

    it('needs servers:write and a known user', async () => {
      expect(
        (await kit.call('DELETE', '/api/v1/users/ada/server', { token: await kit.token('hubless/launch') }))
          .status,
      ).toBe(403);
      expect((await kit.call('DELETE', '/api/v1/users/zed/server', { token })).status).toBe(404);
    });
  });

  describe('GET /servers', () => {
    beforeEach(async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token });
      await kit.call('POST', '/api/v1/users/bo/server', { token });
      await tick();
      await kit.call('GET', '/api/v1/users/ada/server', { token }); // ada becomes ready
    });

    it('lists active servers, filtered by state, user or group', async () => {
      const all = await kit.call('GET', '/api/v1/servers', { token });
      expect(all.json.items.map((s: { user: string }) => s.user)).toEqual(['ada', 'bo']);
      expect(undocumented(all, 'GET', '/servers')).toEqual([]);
      const ready = await kit.call('GET', '/api/v1/servers', { token, query: { state: 'ready' } });
      expect(ready.json.items.map((s: { user: string }) => s.user)).toEqual(['ada']);
      const group = await kit.call('GET', '/api/v1/servers', { token, query: { group: 'cs102' } });
      expect(group.json.items.map((s: { user: string }) => s.user)).toEqual(['bo']);
      const user = await kit.call('GET', '/api/v1/servers', { token, query: { user: 'bo' } });
      expect(user.json.items).toHaveLength(1);
    });

    it('pages with next_cursor', async () => {
      const first = await kit.call('GET', '/api/v1/servers', { token, query: { limit: '1' } });
      expect(first.json.items).toHaveLength(1);
      const second = await kit.call('GET', '/api/v1/servers', {
        token,
        query: { limit: '1', cursor: first.json.next_cursor },
      });
      expect(second.json).toMatchObject({ items: [{ user: 'bo' }], next_cursor: null });
    });

    it('refuses an unknown state and needs servers:read', async () => {
      const bad = await kit.call('GET', '/api/v1/servers', { token, query: { state: 'sleeping' } });
      expect(bad.status).toBe(400);
      expect(bad.json.error.message).toMatch(/query\.state/);
      expect(
        (await kit.call('GET', '/api/v1/servers', { token: await kit.token('hubless/users:read') })).status,
      ).toBe(403);
    });
  });
});
