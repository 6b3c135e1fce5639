import { beforeEach, describe, expect, it } from 'vitest';
import { type ApiKit, makeApiKit, undocumented } from '../fakes/api-harness.ts';

describe('API /api/v1/users', () => {
  let kit: ApiKit;
  let token: string;
  beforeEach(async () => {
    kit = await makeApiKit();
    token = await kit.token();
  });

  describe('PUT /users/{user}', () => {
    it('creates a user with 201, then answers 200 with the same user when repeated', async () => {
      const body = { email: 'ada@example.edu', groups: ['cs101', 'cs101'] };
      const first = await kit.call('PUT', '/api/v1/users/Ada', { token, body });
      expect(first.status).toBe(201);
      expect(first.json).toMatchObject({
        name: 'ada',
        email: 'ada@example.edu',
        groups: ['cs101'],
        disabled: false,
        admin: false,
      });
      expect(undocumented(first, 'PUT', '/users/{user}')).toEqual([]);
      // How the new user signs in is told once: here, an e-mailed invitation.
      expect(first.json.sign_in).toEqual({ invited: true });
      const again = await kit.call('PUT', '/api/v1/users/ada', { token, body });
      expect(again.status).toBe(200);
      const { sign_in: _once, ...user } = first.json;
      expect(again.json).toEqual(user);
      expect(kit.core.directory.users.size).toBe(1);
    });

    it('returns the initial password of a user created without e-mail, once', async () => {
      const first = await kit.call('PUT', '/api/v1/users/bo', { token, body: {} });
      expect(first.status).toBe(201);
      expect(first.json.sign_in.initial_password).toEqual(expect.any(String));
      expect(undocumented(first, 'PUT', '/users/{user}')).toEqual([]);
      const again = await kit.call('PUT', '/api/v1/users/bo', { token, body: {} });
      expect(again.json.sign_in).toBeUndefined();
      expect((await kit.call('GET', '/api/v1/users/bo', { token })).json.sign_in).toBeUndefined();
    });

    it('updates only the fields sent', async () => {
      await kit.call('PUT', '/api/v1/users/ada', {
        token,
        body: { email: 'ada@example.edu', groups: ['cs101'] },
      });
      const answer = await kit.call('PUT', '/api/v1/users/ada', { token, body: { groups: ['cs102'] } });
      expect(answer.json).toMatchObject({ email: 'ada@example.edu', groups: ['cs102'] });
    });

    it('refuses unknown fields, wrong types, an unknown profile and a bad username', async () => {
      const unknown = await kit.call('PUT', '/api/v1/users/ada', {
        token,
        body: { email: 'a@b.edu', admin: true },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.json.error.message).toMatch(/unknown field "admin"/);
      const wrong = await kit.call('PUT', '/api/v1/users/ada', { token, body: { groups: 'cs101' } });
      expect(wrong.status).toBe(400);
      expect(wrong.json.error.message).toMatch(/body\.groups/);
      const profile = await kit.call('PUT', '/api/v1/users/ada', { token, body: { profile: 'gpu-huge' } });
      expect(profile.json.error).toMatchObject({ code: 'unknown_profile' });
      const name = await kit.call('PUT', '/api/v1/users/ada_lovelace', { token, body: {} });
      expect(name.status).toBe(400);
      expect(name.json.error).toMatchObject({ code: 'invalid_username' });
      expect(name.json.error.message).toMatch(/letters a-z, digits 0-9 and single hyphens/);
      expect(undocumented(name, 'PUT', '/users/{user}')).toEqual([]);
    });

    it('needs users:write', async () => {
      const answer = await kit.call('PUT', '/api/v1/users/ada', {
        token: await kit.token('hubless/users:read'),
        body: {},
      });
      expect(answer.status).toBe(403);
      expect(answer.json).toEqual({
        error: {
          code: 'insufficient_scope',
          message: expect.stringMatching(/^This route needs the scope users:write/),
        },
      });
      expect(answer.headers['www-authenticate']).toMatch(/insufficient_scope/);
    });
  });

  describe('GET /users and /users/{user}', () => {
    beforeEach(async () => {
      for (const name of ['cleo', 'ada', 'bo'])
        await kit.call('PUT', `/api/v1/users/${name}`, { token, body: {} });
    });

    it('lists users by name, a page at a time', async () => {
      const first = await kit.call('GET', '/api/v1/users', { token, query: { limit: '2' } });
      expect(first.json.items.map((u: { name: string }) => u.name)).toEqual(['ada', 'bo']);
      expect(undocumented(first, 'GET', '/users')).toEqual([]);
      const second = await kit.call('GET', '/api/v1/users', {
        token,
        query: { limit: '2', cursor: first.json.next_cursor },
      });
      expect(second.json).toMatchObject({ items: [{ name: 'cleo' }], next_cursor: null });
    });

    it('refuses a cursor it did not hand out and unknown query parameters', async () => {
      expect(
        (await kit.call('GET', '/api/v1/users', { token, query: { cursor: 'nope' } })).json.error.code,
      ).toBe('invalid_cursor');
      const extra = await kit.call('GET', '/api/v1/users', { token, query: { page: '2' } });
      expect(extra.status).toBe(400);
      expect(extra.json.error.message).toMatch(/unknown field "page"/);
    });

    it('gets one user, and 404 for an unknown one', async () => {
      expect((await kit.call('GET', '/api/v1/users/bo', { token })).json).toMatchObject({ name: 'bo' });
      const missing = await kit.call('GET', '/api/v1/users/zed', { token });
      expect(missing.status).toBe(404);
      expect(missing.json.error.code).toBe('unknown_user');
      expect(undocumented(missing, 'GET', '/users/{user}')).toEqual([]);
    });

    it('needs users:read', async () => {
      expect(
        (await kit.call('GET', '/api/v1/users', { token: await kit.token('hubless/servers:read') })).status,
      ).toBe(403);
    });
  });

  describe('DELETE /users/{user}', () => {
    it('disables the user, idempotently, and keeps the home', async () => {
      await kit.call('PUT', '/api/v1/users/ada', { token, body: {} });
      const first = await kit.call('DELETE', '/api/v1/users/ada', { token });
      expect(first.json).toMatchObject({ name: 'ada', disabled: true });
      expect((await kit.call('DELETE', '/api/v1/users/ada', { token })).status).toBe(200);
      expect(kit.core.directory.users.get('ada')?.disabled).toBe(true);
    });

    it('answers 404 for an unknown user', async () => {
      expect((await kit.call('DELETE', '/api/v1/users/zed', { token })).status).toBe(404);
    });
  });

  describe('admin accounts', () => {
    it('are outside users:write: an LMS may neither disable nor change an admin', async () => {
      await kit.core.directory.upsert({ name: 'root', admin: true, email: 'ops@example.edu' });
      const disable = await kit.call('DELETE', '/api/v1/users/root', { token });
      expect(disable.status).toBe(403);
      expect(disable.json.error.code).toBe('admin_account');
      expect(disable.json.error.message).toMatch(/admin account.*hubless users/);
      expect(undocumented(disable, 'DELETE', '/users/{user}')).toEqual([]);
      const change = await kit.call('PUT', '/api/v1/users/root', {
        token,
        body: { email: 'attacker@example.com', groups: [] },
      });
      expect(change.status).toBe(403);
      expect(change.json.error.code).toBe('admin_account');
      expect(undocumented(change, 'PUT', '/users/{user}')).toEqual([]);
      expect(kit.core.directory.users.get('root')).toMatchObject({
        disabled: false,
        email: 'ops@example.edu',
      });
    });
  });
});
