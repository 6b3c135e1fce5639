import { describe, expect, it } from 'vitest';
import { ALB_AUTH } from '../../functions/adapters/aws/names.ts';
import type { IdentityVerifier } from '../../functions/adapters/identity/alb-identity.ts';
import { UnauthorizedError } from '../../functions/core/errors.ts';
import type { AlbEvent } from '../../functions/handlers/http-types.ts';
import { makePortalHandler } from '../../functions/handlers/portal.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';

/** Identity header value = the username, for these tests; a real verifier checks an ES256 JWT. */
const identity: IdentityVerifier = {
  async verify(header) {
    if (!header) throw new UnauthorizedError();
    return { username: header, sub: header };
  },
};

function setup() {
  const compute = new FakeCompute({ behaviour: { kind: 'never-starts' } });
  const deps = makeTestDeps({ compute });
  const portal = makePortalHandler({
    core: deps,
    identity,
    labUi: 'lab',
    logoutUrl: 'https://login.example/logout',
    sessionCookie: ALB_AUTH.sessionCookie,
  });
  const request = (method: string, path: string, user: string | undefined, extra: Partial<AlbEvent> = {}) =>
    portal({
      requestContext: { elb: { targetGroupArn: 'tg' } },
      httpMethod: method,
      path,
      headers: { host: 'labs.example.edu', ...(user ? { 'x-amzn-oidc-data': user } : {}), ...extra.headers },
      body: extra.body ?? null,
      isBase64Encoded: false,
      queryStringParameters: extra.queryStringParameters ?? {},
    });
  return { deps, request };
}

describe('portal', () => {
  it('starts a server from the home page form and sends the user to the progress page', async () => {
    const { request, deps } = setup();
    const page = await request('GET', '/', 'alice');
    expect(page.body).toContain('Start my server');
    const started = await request('POST', '/start', 'alice', {
      headers: { origin: 'https://labs.example.edu' },
      body: '',
    });
    expect(started).toMatchObject({ statusCode: 303, headers: { location: '/spawn-pending' } });
    expect((await deps.store.get('alice', ''))?.state).toBe('launching');
  });

  describe('named servers', () => {
    const form = (fields: Record<string, string>) => ({
      headers: { origin: 'https://labs.example.edu', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

    it('creates one with a name and a profile, follows its own progress, lists it, and stops it', async () => {
      const { request, deps } = setup();
      expect((await request('GET', '/', 'alice')).body).toContain('Start a named server');
      const started = await request(
        'POST',
        '/start',
        'alice',
        form({ server: 'thesis', profile: 'standard' }),
      );
      expect(started).toMatchObject({
        statusCode: 303,
        headers: { location: '/spawn-pending?server=thesis' },
      });
      expect(await deps.store.get('alice', 'thesis')).toMatchObject({
        state: 'launching',
        profile: 'standard',
      });
      expect(await deps.store.get('alice', '')).toBeUndefined();
      const pending = await request('GET', '/spawn-pending', 'alice', {
        queryStringParameters: { server: 'thesis' },
      });
      expect(pending.body).toContain('"/progress?server=thesis"');
      const progress = await request('GET', '/progress', 'alice', {
        queryStringParameters: { server: 'thesis' },
      });
      expect(JSON.parse(progress.body ?? '')).toMatchObject({ state: 'launching' });
      const home = (await request('GET', '/', 'alice')).body ?? '';
      expect(home).toMatch(/<td>thesis<\/td><td>standard<\/td><td class="state">starting<\/td>/);
      // A lab URL of a named server that is still starting leads to its progress page.
      const early = await request('GET', '/user/alice/thesis/lab', 'alice');
      expect(early).toMatchObject({ statusCode: 302, headers: { location: '/spawn-pending?server=thesis' } });
      await request('POST', '/stop', 'alice', form({ server: 'thesis' }));
      expect((await deps.store.get('alice', 'thesis'))?.reason).toMatchObject({
        code: 'user',
        by: 'user:alice',
      });
      expect((await request('GET', '/', 'alice')).body).toContain('aria-label="Start thesis"');
    });

    it('says why a name or one server too many is refused', async () => {
      const { request, deps } = setup();
      deps.settings.namedServerLimit = 1;
      const bad = await request('POST', '/start', 'alice', form({ server: 'My Thesis' }));
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('Server names may contain only');
      await request('POST', '/start', 'alice', form({ server: 'one' }));
      const second = await request('POST', '/start', 'alice', form({ server: 'two' }));
      expect(second.statusCode).toBe(400);
      expect(second.body).toContain('maximum of 1 named servers');
      deps.settings.namedServerLimit = 0;
      expect((await request('GET', '/', 'alice')).body).not.toContain('Start a named server');
    });
  });

  it('refuses a form posted from another site (CSRF)', async () => {
    const { request, deps } = setup();
    const forged = await request('POST', '/start', 'alice', {
      headers: { origin: 'https://evil.example' },
      body: '',
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.body).toContain('sent from another site');
    expect(await deps.store.get('alice', '')).toBeUndefined();
  });

  it('does not let a client-sent X-Forwarded-Host pass a cross-site form as same-origin', async () => {
    const { request, deps } = setup();
    const forged = await request('POST', '/start', 'alice', {
      headers: { origin: 'https://evil.example', 'x-forwarded-host': 'evil.example' },
      body: '',
    });
    expect(forged.statusCode).toBe(403);
    expect(await deps.store.get('alice', '')).toBeUndefined();
  });

  it('keeps the admin page to administrators', async () => {
    const { request, deps } = setup();
    expect((await request('GET', '/admin', 'bob')).statusCode).toBe(403);
    await deps.directory.upsert({ name: 'root', admin: true });
    expect((await request('GET', '/admin', 'root')).statusCode).toBe(200);
  });

  it('answers progress polls with JSON, errors included', async () => {
    const { request } = setup();
    const none = await request('GET', '/progress', 'alice');
    expect(none.statusCode).toBe(404);
    expect(JSON.parse(none.body ?? '')).toMatchObject({
      error: { message: expect.stringContaining('no server') },
    });
  });

  describe('progress long poll', () => {
    async function startedSession() {
      const { request, deps } = setup();
      await request('POST', '/start', 'alice', { headers: { origin: 'https://labs.example.edu' }, body: '' });
      const first = JSON.parse((await request('GET', '/progress', 'alice')).body ?? '') as {
        version: string;
      };
      return { request, deps, first };
    }

    it('holds a progress request that has seen the latest progress and answers as soon as the session changes', async () => {
      const { request, deps, first } = await startedSession();
      const waiting = request('GET', '/progress', 'alice', {
        queryStringParameters: { seen: first.version },
      });
      setTimeout(() => {
        void (async () => {
          const session = await deps.store.get('alice', '');
          if (!session) return;
          await deps.store.update(
            {
              ...session,
              state: 'ready',
              events: [
                ...session.events,
                { progress: 100, message: 'Ready', time: new Date().toISOString() },
              ],
            },
            session.version,
          );
        })();
      }, 100);
      const answer = JSON.parse((await waiting).body ?? '') as { ready: boolean; version: string };
      expect(answer.ready).toBe(true);
      expect(answer.version).not.toBe(first.version);
    });

    it('answers at once when the page has not seen the latest progress', async () => {
      const { request, first } = await startedSession();
      const answer = JSON.parse(
        (await request('GET', '/progress', 'alice', { queryStringParameters: { seen: 'an older version' } }))
          .body ?? '',
      ) as { version: string };
      expect(answer.version).toEqual(expect.any(String));
      expect(answer.version).toBe(first.version);
    });
  });

  it('says another user’s server is not theirs', async () => {
    const { request } = setup();
    const other = await request('GET', '/user/alice/lab', 'bob');
    expect(other.statusCode).toBe(403);
    expect(other.body).toContain('belongs to another user');
  });

  it('signs out by POST only: GET /logout asks, and a post from another site is refused (CSRF)', async () => {
    const { request } = setup();
    const page = await request('GET', '/', 'alice');
    expect(page.body).toContain('<form class="inline" method="post" action="/logout">');
    expect(page.body).not.toContain('href="/logout"');
    const asked = await request('GET', '/logout', 'alice');
    expect(asked.statusCode).toBe(200);
    expect(asked.headers?.['set-cookie']).toBeUndefined();
    expect(asked.body).toContain('<form method="post" action="/logout">');
    const forged = await request('POST', '/logout', 'alice', {
      headers: { origin: 'https://attacker.example' },
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.headers?.['set-cookie']).toBeUndefined();
  });

  it('signs out by expiring every part of the ALB session cookie, then ends the Cognito session', async () => {
    const { request } = setup();
    const locations: string[] = [];
    const cookies: string[] = [];
    let query: Record<string, string> = {};
    for (let step = 0; step < 4; step++) {
      const answer =
        step === 0
          ? await request('POST', '/logout', 'alice', { headers: { origin: 'https://labs.example.edu' } })
          : await request('GET', '/logout', 'alice', { queryStringParameters: query });
      expect(answer.statusCode).toBe(303);
      cookies.push(answer.headers?.['set-cookie'] ?? '');
      const location = answer.headers?.location ?? '';
      locations.push(location);
      query = Object.fromEntries(new URL(location, 'https://labs.example.edu').searchParams);
    }
    expect(cookies.map((c) => c.split('=')[0])).toEqual(
      [0, 1, 2, 3].map((n) => `AWSELBAuthSessionCookie-${n}`),
    );
    expect(cookies.every((c) => c.includes('Max-Age=0'))).toBe(true);
    expect(locations.at(-1)).toBe('https://login.example/logout');
  });

  it('shows a sign-in error without a valid identity', async () => {
    const { request } = setup();
    const answer = await request('GET', '/', undefined);
    expect(answer.statusCode).toBe(401);
  });
});
