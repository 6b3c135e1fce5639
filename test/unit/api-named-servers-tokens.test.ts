import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { undocumented } from '../fakes/api-harness.ts';
import { type HubKit, makeHubKit } from '../support/jupyterhub/hub-kit.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('/api/v1 named servers', () => {
  let t: HubKit;
  let token: string;
  beforeEach(async () => {
    t = await makeHubKit();
    token = await t.kit.token();
    await t.addUsers(['ada']);
  });
  afterEach(() => t.compute.dispose());

  it('starts, reads and stops a named server beside the default one, each at its own URL', async () => {
    const start = await t.kit.call('POST', '/api/v1/users/ada/servers/thesis', {
      token,
      body: { profile: 'standard' },
    });
    expect(start.status).toBe(202);
    expect(start.headers.location).toBe('/api/v1/users/ada/servers/thesis');
    expect(start.json).toMatchObject({
      user: 'ada',
      server: 'thesis',
      url: 'https://labs.example.edu/user/ada/thesis/',
    });
    expect(undocumented(start, 'POST', '/users/{user}/servers/{server}')).toEqual([]);
    await t.kit.call('POST', '/api/v1/users/ada/server', { token, body: {} });
    await tick();
    const named = await t.kit.call('GET', '/api/v1/users/ada/servers/thesis', { token });
    expect(named.json).toMatchObject({ server: 'thesis', state: 'ready' });
    expect(undocumented(named, 'GET', '/users/{user}/servers/{server}')).toEqual([]);
    const listed = await t.kit.call('GET', '/api/v1/servers', { token, query: { user: 'ada' } });
    expect(listed.json.items.map((s: { server: string }) => s.server)).toEqual(['', 'thesis']);
    const stop = await t.kit.call('DELETE', '/api/v1/users/ada/servers/thesis', { token });
    expect(stop.status).toBe(204);
    const after = await t.kit.call('GET', '/api/v1/users/ada/servers/thesis', { token });
    expect(after.json.reason).toMatchObject({ code: 'admin', by: 'client:lms' });
    expect((await t.kit.call('GET', '/api/v1/users/ada/server', { token })).json.state).toBe('ready');
  });

  it('keeps to the per-user limit and says so', async () => {
    t.core.settings.namedServerLimit = 1;
    await t.kit.call('POST', '/api/v1/users/ada/servers/one', { token, body: {} });
    const two = await t.kit.call('POST', '/api/v1/users/ada/servers/two', { token, body: {} });
    expect(two.status).toBe(400);
    expect(two.json.error).toMatchObject({ code: 'named_server_limit' });
  });
});

describe('/api/v1/tokens (service tokens, administrators only)', () => {
  let t: HubKit;
  let admin: string;
  beforeEach(async () => {
    t = await makeHubKit();
    await t.core.directory.upsert({ name: 'root', admin: true });
    admin = await t.kit.token('openid', { username: 'root' });
  });
  afterEach(() => t.compute.dispose());

  it('creates a token shown once, lists it without secrets, and revokes it', async () => {
    const created = await t.kit.call('POST', '/api/v1/tokens', {
      token: admin,
      body: { name: 'idle-culler', scopes: ['list:users', 'read:servers', 'delete:servers'], culls: true },
    });
    expect(created.status).toBe(201);
    expect(undocumented(created, 'POST', '/tokens')).toEqual([]);
    expect(created.json).toMatchObject({ name: 'idle-culler', culls: true, created_by: 'root' });
    expect(created.json.token).toMatch(/^hbs_/);
    const stored = (await t.tokens.list())[0]!;
    expect(stored.hash).not.toContain(created.json.token);
    expect(JSON.stringify(stored)).not.toContain(created.json.token.split('_').slice(2).join('_'));

    const hub = t.client(created.json.token);
    expect((await hub.call('GET', '/users')).status).toBe(200);
    const listed = await t.kit.call('GET', '/api/v1/tokens', { token: admin });
    expect(undocumented(listed, 'GET', '/tokens')).toEqual([]);
    expect(JSON.stringify(listed.json)).not.toContain(created.json.token);

    expect((await t.kit.call('DELETE', '/api/v1/tokens/idle-culler', { token: admin })).status).toBe(204);
    expect((await hub.call('GET', '/users')).status).toBe(401);
    expect((await t.kit.call('DELETE', '/api/v1/tokens/idle-culler', { token: admin })).status).toBe(404);
  });

  it('refuses a course platform’s client, and scopes JupyterHub does not have or hubless does not serve', async () => {
    const lms = await t.kit.token();
    const refused = await t.kit.call('POST', '/api/v1/tokens', {
      token: lms,
      body: { name: 'x', scopes: ['list:users'] },
    });
    expect(refused.status).toBe(403);
    const bad = await t.kit.call('POST', '/api/v1/tokens', {
      token: admin,
      body: { name: 'x', scopes: ['read:users!user=ada', 'shutdown'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/filter.*"shutdown" is not a JupyterHub scope hubless serves/);
    const none = await t.kit.call('POST', '/api/v1/tokens', {
      token: admin,
      body: { name: 'x', scopes: [] },
    });
    expect(none.status).toBe(400);
  });

  it('service tokens do not open /api/v1', async () => {
    const created = await t.kit.call('POST', '/api/v1/tokens', {
      token: admin,
      body: { name: 'dash', scopes: ['admin:users', 'admin:servers'] },
    });
    const answer = await t.kit.call('GET', '/api/v1/users', { token: created.json.token });
    expect(answer.status).toBe(401);
  });
});
