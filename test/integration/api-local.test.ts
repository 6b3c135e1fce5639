import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MachineClient } from '../../functions/adapters/local/machine-clients.ts';
import { API_SCOPES } from '../../functions/core/api/scopes.ts';
import { checkSchema, responseSchema } from '../fakes/api-openapi-check.ts';
import { type TestLocalMode, waitFor } from '../support/local-mode.ts';
import {
  clientToken,
  jwtClaims,
  requestToken,
  startLocalModeWithClients,
} from '../support/machine-client.ts';

/**
 * The LMS API (/api/v1) of a real local mode, driven the way the README's LMS guide tells a
 * course platform to: a client-credentials token from the embedded provider, then plain
 * HTTP through the gateway to the handler, DynamoDB Local and real Jupyter processes.
 * Every JSON answer is checked against the OpenAPI document the deployment serves.
 */
let local: TestLocalMode;
let clients: Record<string, MachineClient>;
let openapi: any;
let lmsToken: string;

beforeAll(async () => {
  ({ local, clients } = await startLocalModeWithClients({
    lms: API_SCOPES,
    dashboard: ['users:read', 'servers:read'],
  }));
  const response = await fetch(`${local.url}/api/v1/openapi.json`);
  openapi = await response.json();
  lmsToken = await clientToken(local.url, clients.lms!);
});

afterAll(async () => {
  await local?.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

/** One API call with the LMS's token (or another), the body sent as JSON unless it is a string. */
async function api(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? lmsToken : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const response = await fetch(`${local.url}/api/v1${path}`, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json };
}

/** The answer is what the OpenAPI document says this operation answers with this status. */
function expectDocumented(answer: Answer, method: string, template: string) {
  const schema = responseSchema(openapi, method, template, answer.status);
  if (schema) expect(checkSchema(schema, answer.json), `${method} ${template} ${answer.status}`).toEqual([]);
  else expect(answer.json).toBeUndefined();
}

const today = () => new Date().toISOString().slice(0, 10);

describe('the LMS API in local mode', () => {
  describe('tokens from the embedded provider', () => {
    it('gives a client-credentials client a JWT for the API carrying the scopes it was granted', () => {
      const claims = jwtClaims(lmsToken);
      expect(claims.iss).toBe(`${local.url}/oidc`);
      expect(claims.aud).toBe(`${local.url}/api/v1`);
      expect(claims.client_id).toBe('lms');
      expect(String(claims.scope).split(' ').sort()).toEqual([...API_SCOPES].sort());
    });

    it('accepts the scopes with the resource-server prefix, as the Cognito request spells them', async () => {
      const token = await clientToken(local.url, clients.dashboard!, {
        scope: 'hubless/servers:read hubless/users:read',
      });
      expect(String(jwtClaims(token).scope).split(' ').sort()).toEqual([
        'hubless/servers:read',
        'hubless/users:read',
      ]);
      expect((await api('GET', '/servers', { token })).status).toBe(200);
      const refused = await api('PUT', '/users/ada', { token, body: {} });
      expect(refused.status).toBe(403);
      expect(refused.json.error.message).toContain('users:write');
    });

    it('refuses a scope the client was not granted, in either spelling', async () => {
      for (const scope of ['servers:write', 'hubless/servers:write']) {
        const response = await requestToken(local.url, clients.dashboard!, { scope });
        expect(response.status, scope).toBe(400);
        expect(((await response.json()) as { error: string }).error).toBe('invalid_scope');
      }
    });

    it('gives a token without API scopes when the request names none (ask for them)', async () => {
      const token = await clientToken(local.url, clients.dashboard!, { scope: '' });
      expect(jwtClaims(token).scope).toBeUndefined();
      expect((await api('GET', '/servers', { token })).status).toBe(403);
    });

    it('refuses a wrong client secret', async () => {
      const response = await requestToken(local.url, { ...clients.lms!, clientSecret: 'not-the-secret' });
      expect(response.status).toBe(401);
    });
  });

  describe('GET /openapi.json', () => {
    it('serves the OpenAPI 3.1 document without a token, pointing at this deployment', () => {
      expect(openapi.openapi).toBe('3.1.0');
      expect(openapi.servers).toEqual([{ url: `${local.url}/api/v1` }]);
      expect(openapi.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl).toBe(
        `${local.url}/oidc/token`,
      );
      expect(Object.keys(openapi.paths)).toEqual(
        expect.arrayContaining([
          '/users/{user}',
          '/users/{user}/server',
          '/users/{user}/launch',
          '/servers',
          '/usage',
          '/events',
        ]),
      );
    });
  });

  it('prepares a class: students, servers, a launch link, stop, usage and events', async () => {
    const students = ['ada', 'bo', 'cleo'];

    // 1. Create the students; PUT again is an update.
    for (const name of students) {
      const put = await api('PUT', `/users/${name}`, {
        body: { email: `${name}@example.edu`, groups: ['cs101'] },
      });
      expect(put.status).toBe(201);
      expectDocumented(put, 'PUT', '/users/{user}');
      expect(put.json).toMatchObject({
        name,
        email: `${name}@example.edu`,
        groups: ['cs101'],
        disabled: false,
      });
    }
    const again = await api('PUT', '/users/ada', { body: { groups: ['cs101', 'honours'] } });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ email: 'ada@example.edu', groups: ['cs101', 'honours'] });
    const users = await api('GET', '/users');
    expectDocumented(users, 'GET', '/users');
    expect(users.json.items.map((u: { name: string }) => u.name)).toEqual(expect.arrayContaining(students));

    // 2. Start their servers: 202 at once (or 200 if one is ready already).
    for (const name of students) {
      const start = await api('POST', `/users/${name}/server`, { body: { path: 'week3/lab.ipynb' } });
      expect([200, 202]).toContain(start.status);
      expectDocumented(start, 'POST', '/users/{user}/server');
      expect(start.json).toMatchObject({ user: name, server: '', url: `${local.url}/user/${name}/` });
    }
    const repeat = await api('POST', '/users/ada/server', { body: {} });
    expect([200, 202]).toContain(repeat.status);
    expect(repeat.json.started).toBeDefined();

    // ... and watch them until ready.
    for (const name of students) {
      const ready = await waitFor(
        `${name}'s server to be ready`,
        async () => {
          const answer = await api('GET', `/users/${name}/server`);
          expectDocumented(answer, 'GET', '/users/{user}/server');
          if (answer.json.state === 'failed') throw new Error(`${name} failed: ${answer.json.message}`);
          return answer.json.ready ? answer.json : undefined;
        },
        120_000,
        500,
      );
      expect(ready).toMatchObject({ state: 'ready', pending: null, progress: 100 });
      expect(ready.events.length).toBeGreaterThan(1);
    }
    // Exactly one process per student, however often start was asked.
    const alive = (await local.runtime.deps.compute.list()).filter((task) => task.alive);
    expect(alive.map((task) => task.sessionId.split('_')[0]).sort()).toEqual(students);

    // 3. Who runs what, filtered.
    const ready = await api('GET', '/servers?state=ready&group=cs101');
    expectDocumented(ready, 'GET', '/servers');
    expect(ready.json.items.map((s: { user: string }) => s.user)).toEqual(students);
    expect(ready.json.next_cursor).toBeNull();
    const honours = await api('GET', '/servers?group=honours');
    expect(honours.json.items.map((s: { user: string }) => s.user)).toEqual(['ada']);
    const justBo = await api('GET', '/servers?user=bo');
    expect(justBo.json.items.map((s: { user: string }) => s.user)).toEqual(['bo']);
    const firstPage = await api('GET', '/servers?limit=2');
    expect(firstPage.json.items).toHaveLength(2);
    const secondPage = await api(
      'GET',
      `/servers?limit=2&cursor=${encodeURIComponent(firstPage.json.next_cursor)}`,
    );
    expect(secondPage.json.items.map((s: { user: string }) => s.user)).toEqual(['cleo']);
    const stopping = await api('GET', '/servers?state=stopping');
    expect(stopping.json.items).toEqual([]);

    // 4. A launch link for ada; the same Idempotency-Key gives the same link back.
    const link = await api('POST', '/users/ada/launch', {
      body: { path: 'week3/lab.ipynb', ttl_seconds: 900 },
      headers: { 'idempotency-key': 'cs101-week3-ada' },
    });
    expect(link.status).toBe(201);
    expectDocumented(link, 'POST', '/users/{user}/launch');
    expect(link.json.url).toMatch(new RegExp(`^${local.url}/launch\\?token=[A-Za-z0-9_-]{16,}$`));
    const expiresIn = Date.parse(link.json.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(880_000);
    expect(expiresIn).toBeLessThanOrEqual(900_000);
    const sameLink = await api('POST', '/users/ada/launch', {
      body: { path: 'week3/lab.ipynb', ttl_seconds: 900 },
      headers: { 'idempotency-key': 'cs101-week3-ada' },
    });
    expect(sameLink.status).toBe(200);
    expect(sameLink.json.url).toBe(link.json.url);
    const otherRequest = await api('POST', '/users/ada/launch', {
      body: { path: 'week4/lab.ipynb' },
      headers: { 'idempotency-key': 'cs101-week3-ada' },
    });
    expect(otherRequest.status).toBe(409);

    // 5. Stop everything: 204 when stopped, 202 while stopping; then stopped for good.
    for (const name of students) {
      const stop = await api('DELETE', `/users/${name}/server`);
      expect([202, 204]).toContain(stop.status);
      expectDocumented(stop, 'DELETE', '/users/{user}/server');
    }
    for (const name of students) {
      await waitFor(`${name}'s server to stop`, async () => {
        const answer = await api('GET', `/users/${name}/server`);
        return answer.json.state === 'stopped' ? answer.json : undefined;
      });
    }
    const stoppedAgain = await api('DELETE', '/users/ada/server');
    expect(stoppedAgain.status).toBe(204);
    expect((await api('GET', '/servers')).json.items).toEqual([]);
    expect((await local.runtime.deps.compute.list()).filter((task) => task.alive)).toEqual([]);

    // 6. Usage: each student's server time today, in seconds and hours.
    const usage = await api('GET', `/usage?from=${today()}&to=${today()}`);
    expect(usage.status).toBe(200);
    expectDocumented(usage, 'GET', '/usage');
    expect(usage.json.items.map((row: { user: string }) => row.user).sort()).toEqual(students);
    for (const row of usage.json.items) {
      expect(row).toMatchObject({ date: today(), running: false });
      expect(row.seconds).toBeGreaterThan(0);
      expect(row.seconds).toBeLessThan(600);
      expect(row.hours).toBe(Math.round((row.seconds / 3600) * 100) / 100);
    }
    const adaOnly = await api('GET', `/usage?from=${today()}&to=${today()}&user=ada`);
    expect(adaOnly.json.items.map((row: { user: string }) => row.user)).toEqual(['ada']);

    // 7. Events: start, ready and stop for every student, newest first.
    const events = await api('GET', '/events?limit=100');
    expect(events.status).toBe(200);
    expectDocumented(events, 'GET', '/events');
    for (const name of students) {
      const own = events.json.items.filter((e: { user: string }) => e.user === name);
      // Newest first, each exactly once, although the status poll and the task event
      // race to record ready, and the stop request and the exit event race to record stop.
      expect(own.map((e: { type: string }) => e.type)).toEqual(['stop', 'ready', 'start']);
      expect(new Set(own.map((e: { session_id: string }) => e.session_id)).size).toBe(1);
      const stop = own[0];
      expect(stop.reason).toBe('admin');
      expect(stop.duration_seconds).toBeGreaterThan(0);
    }
    const times = events.json.items.map((e: { time: string }) => e.time);
    expect(times).toEqual([...times].sort().reverse());
  });

  describe('refusals a client can act on', () => {
    it('answers 403 naming the scope a token lacks', async () => {
      const reader = await clientToken(local.url, clients.dashboard!);
      expect((await api('GET', '/servers', { token: reader })).status).toBe(200);
      const start = await api('POST', '/users/ada/server', { token: reader, body: {} });
      expect(start.status).toBe(403);
      expectDocumented(start, 'POST', '/users/{user}/server');
      expect(start.json.error.code).toBe('insufficient_scope');
      expect(start.json.error.message).toContain('servers:write');
      expect(start.headers.get('www-authenticate')).toContain('scope="servers:write"');
      const link = await api('POST', '/users/ada/launch', { token: reader, body: {} });
      expect(link.status).toBe(403);
      expect(link.json.error.message).toContain('launch');
    });

    it('answers 401 with WWW-Authenticate to a missing, malformed or forged token', async () => {
      const missing = await api('GET', '/servers', { token: null });
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expectDocumented(missing, 'GET', '/servers');

      const garbage = await api('GET', '/servers', { token: 'not-a-jwt' });
      expect(garbage.status).toBe(401);
      expect(garbage.json.error.code).toBe('unauthorized');

      // Same header and claims, the signature of another token: forged.
      const [header, payload] = lmsToken.split('.');
      const other = await clientToken(local.url, clients.dashboard!);
      const forged = await api('GET', '/servers', { token: `${header}.${payload}.${other.split('.')[2]}` });
      expect(forged.status).toBe(401);
      expect(forged.json.error.message).toMatch(/signature/);
      expect(forged.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });

    it('answers 400 with the username rule to a name that is not a safe username', async () => {
      const long = await api('PUT', `/users/${'a'.repeat(300)}`, { body: {} });
      expect(long.status).toBe(400);
      expectDocumented(long, 'PUT', '/users/{user}');
      expect(long.json.error.code).toBe('invalid_username');
      expect(long.json.error.message).toMatch(/300 characters long.*1-32 characters/);

      for (const name of ['Ada%2Fx', 'bo%20b', '-ada', '%C3%A5sa']) {
        const answer = await api('PUT', `/users/${name}`, { body: {} });
        expect(answer.status, name).toBe(400);
        expect(answer.json.error.message).toContain('letters a-z, digits 0-9 and single hyphens');
      }

      // "../x" never reaches a handler: the gateway refuses dot segments in any path.
      const traversal = await fetch(`${local.url}/api/v1/users/..%2Fx`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${lmsToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(traversal.status).toBe(400);
      const refusal = (await traversal.json()) as { error: { code: string; message: string } };
      expect(refusal.error.code).toBe('invalid_path');
      expect(refusal.error.message).toContain('".."');
      expect((await api('GET', '/users')).json.items.map((u: { name: string }) => u.name)).not.toContain('x');
    });

    it('answers 400 to malformed JSON, saying where it broke', async () => {
      const answer = await api('PUT', '/users/dora', {
        body: '{"email": "dora@example.edu",\n "groups": [cs101]}',
      });
      expect(answer.status).toBe(400);
      expectDocumented(answer, 'PUT', '/users/{user}');
      expect(answer.json.error.code).toBe('invalid_json');
      expect(answer.json.error.message).toContain('line 2, column 13');
      expect((await api('GET', '/users/dora')).status).toBe(404);
    });

    it('answers 400 to an unknown field, naming it', async () => {
      const answer = await api('PUT', '/users/dora', {
        body: { email: 'dora@example.edu', password: 'secret' },
      });
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('invalid_request');
      expect(answer.json.error.message).toContain('unknown field "password"');
      const launch = await api('POST', '/users/ada/launch', { body: { path: 'a.ipynb', ttl: 60 } });
      expect(launch.status).toBe(400);
      expect(launch.json.error.message).toContain('"ttl"');
    });

    it('answers 413 to a body over 64 KiB without reading it as JSON', async () => {
      const answer = await api('PUT', '/users/dora', {
        body: JSON.stringify({ email: `${'x'.repeat(100 * 1024)}@example.edu` }),
      });
      expect(answer.status).toBe(413);
      expectDocumented(answer, 'PUT', '/users/{user}');
      expect(answer.json.error.code).toBe('payload_too_large');
      expect(answer.json.error.message).toContain('65536');
    });
  });
});
