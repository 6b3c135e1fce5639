import { describe, expect, it } from 'vitest';
import { ALB_AUTH } from '../../functions/adapters/aws/names.ts';
import type { IdentityVerifier } from '../../functions/adapters/identity/alb-identity.ts';
import { UnauthorizedError } from '../../functions/core/errors.ts';
import type { AlbEvent } from '../../functions/handlers/http-types.ts';
import { makePortalHandler } from '../../functions/handlers/portal.ts';
import { MemoryAnnouncementStore } from '../fakes/api-stores.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';

/** The admin page's actions through the portal handler (identity header value = the username). */
const identity: IdentityVerifier = {
  async verify(header) {
    if (!header) throw new UnauthorizedError();
    return { username: header, sub: header };
  },
};

async function setup(compute = new FakeCompute({ behaviour: { kind: 'never-starts' } })) {
  const deps = makeTestDeps({ compute });
  await deps.directory.upsert({ name: 'root', admin: true });
  await deps.directory.upsert({ name: 'amy', groups: ['cs101'] });
  const announcements = new MemoryAnnouncementStore();
  const portal = makePortalHandler({
    core: deps,
    identity,
    labUi: 'lab',
    sessionCookie: ALB_AUTH.sessionCookie,
    announcements,
  });
  const request = (method: string, path: string, user: string, extra: Partial<AlbEvent> = {}) =>
    portal({
      requestContext: { elb: { targetGroupArn: 'tg' } },
      httpMethod: method,
      path,
      headers: { host: 'labs.example.edu', 'x-amzn-oidc-data': user, ...extra.headers },
      body: extra.body ?? null,
      isBase64Encoded: false,
      queryStringParameters: extra.queryStringParameters ?? {},
    });
  const post = (
    path: string,
    fields: Record<string, string>,
    user = 'root',
    origin = 'https://labs.example.edu',
  ) =>
    request('POST', path, user, {
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  /** The admin page a redirect leads to. */
  const follow = async (answer: { headers?: Record<string, string> }) => {
    const url = new URL(answer.headers?.location ?? '', 'https://labs.example.edu');
    return (
      (
        await request('GET', url.pathname, 'root', {
          queryStringParameters: Object.fromEntries(
            [...url.searchParams].map(([k, v]) => [k, encodeURIComponent(v)]),
          ),
        })
      ).body ?? ''
    );
  };
  return { deps, request, post, follow, announcements };
}

const ADMIN_POSTS = [
  '/admin/stop',
  '/admin/users/add',
  '/admin/users/update',
  '/admin/users/disable',
  '/admin/users/enable',
  '/admin/users/password',
  '/admin/servers/start',
  '/admin/servers/stop-group',
  '/admin/announcement',
];

describe('admin page', () => {
  it('refuses every admin action to a user who is not an administrator, and changes nothing', async () => {
    const { post, request, deps } = await setup();
    expect((await request('GET', '/admin', 'amy')).statusCode).toBe(403);
    for (const path of ADMIN_POSTS) {
      const answer = await post(path, { user: 'amy', group: 'cs101', message: 'hi', admin: 'yes' }, 'amy');
      expect(answer.statusCode, path).toBe(403);
    }
    expect(await deps.directory.get('amy')).toMatchObject({ admin: false, disabled: false });
    expect(await deps.store.get('amy', '')).toBeUndefined();
  });

  it('refuses every admin action posted from another site (CSRF), even for an administrator', async () => {
    const { post, deps, announcements } = await setup();
    for (const path of ADMIN_POSTS) {
      const answer = await post(
        path,
        { user: 'amy', group: 'cs101', message: 'hi' },
        'root',
        'https://evil.example',
      );
      expect(answer.statusCode, path).toBe(403);
      expect(answer.body).toContain('sent from another site');
    }
    expect(await deps.directory.get('amy')).toMatchObject({ disabled: false });
    expect(await announcements.get()).toBeUndefined();
  });

  it('adds a user and shows the password once, never in a URL', async () => {
    const { post, deps, request } = await setup();
    const added = await post('/admin/users/add', { user: 'Newbie', groups: 'cs101, lab-a', admin: '' });
    expect(added.statusCode).toBe(200);
    expect(added.headers?.['cache-control']).toBe('no-store');
    expect(added.body).toContain('id="one-time-password"');
    expect(added.body).toContain('Initial-Password-1');
    expect(await deps.directory.get('newbie')).toMatchObject({ groups: ['cs101', 'lab-a'], admin: false });
    expect((await request('GET', '/admin', 'root')).body).not.toContain('Initial-Password-1');
    const again = await post('/admin/users/add', { user: 'newbie' });
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('already a user named');
  });

  it('adds a user with an e-mail by invitation where the directory sends one', async () => {
    const { post, follow } = await setup();
    const added = await post('/admin/users/add', { user: 'ivy', email: 'ivy@example.edu' });
    expect(added.statusCode).toBe(303);
    expect(await follow(added)).toContain('e-mailed them an invitation');
  });

  it('disables and enables a user, stopping their server, and resets a password', async () => {
    const { post, deps, follow } = await setup();
    await post('/admin/servers/start', { user: 'amy' });
    const disabled = await post('/admin/users/disable', { user: 'amy', back: '/admin?q=amy&page=1' });
    expect(disabled.headers?.location).toMatch(/^\/admin\?q=amy&page=1&done=disabled&who=amy$/);
    expect(await follow(disabled)).toContain('amy is disabled');
    expect(await deps.directory.get('amy')).toMatchObject({ disabled: true });
    expect((await deps.store.get('amy', ''))?.state).toBe('stopped');
    await post('/admin/users/enable', { user: 'amy' });
    expect(await deps.directory.get('amy')).toMatchObject({ disabled: false });
    const reset = await post('/admin/users/password', { user: 'amy' });
    expect(reset.body).toContain(deps.directory.passwords.get('amy'));
  });

  it('never redirects to another site after an action', async () => {
    const { post } = await setup();
    const answer = await post('/admin/users/enable', { user: 'amy', back: 'https://evil.example/admin?' });
    expect(answer.headers?.location).toMatch(/^\/admin\?done=enabled/);
  });

  it('sets groups, the admin flag and the default profile', async () => {
    const { post, deps } = await setup();
    const saved = await post('/admin/users/update', {
      user: 'amy',
      groups: 'cs102',
      admin: 'yes',
      profile: 'standard',
    });
    expect(saved.statusCode).toBe(303);
    expect(await deps.directory.get('amy')).toMatchObject({
      groups: ['cs102'],
      admin: true,
      profile: 'standard',
    });
    const refused = await post('/admin/users/update', { user: 'root', groups: '' });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('your own administrator rights');
  });

  it('starts a server for a user, shows its progress, its failure reason, and stops it', async () => {
    const compute = new FakeCompute({ behaviour: { kind: 'refuses' } });
    const { post, request } = await setup(compute);
    const failed = await post('/admin/servers/start', { user: 'amy', profile: 'standard' });
    expect(failed.statusCode).toBe(500);
    const page = (await request('GET', '/admin', 'root')).body ?? '';
    expect(page).toContain('failed: The platform refused to start the server (fake).');

    const ok = await setup();
    const started = await ok.post('/admin/servers/start', { user: 'amy', profile: 'standard' });
    const shown = await ok.follow(started);
    expect(shown).toContain('A server is starting for amy');
    expect(shown).toMatch(/<progress max="100" value="30"/);
    expect(shown).toContain('Server is starting');
    const stopped = await ok.post('/admin/stop', { user: 'amy', server: '' });
    expect(await ok.follow(stopped)).toContain('The server amy is stopping');
    expect((await ok.deps.store.get('amy', ''))?.reason).toMatchObject({ code: 'admin', by: 'user:root' });
  });

  it('stops all servers of a group at once', async () => {
    const { post, deps, follow } = await setup();
    await deps.directory.upsert({ name: 'bob', groups: ['other'] });
    await post('/admin/servers/start', { user: 'amy' });
    await post('/admin/servers/start', { user: 'bob' });
    const answer = await post('/admin/servers/stop-group', { group: 'cs101' });
    expect(await follow(answer)).toContain('1 server of the group cs101 was asked to stop');
    expect((await deps.store.get('amy', ''))?.state).toBe('stopped');
    expect((await deps.store.get('bob', ''))?.state).toBe('launching');
  });

  it('searches and pages a class of 1,000', async () => {
    const { deps, request } = await setup();
    for (let i = 1; i <= 1000; i++) await deps.directory.upsert({ name: `s-${String(i).padStart(4, '0')}` });
    const first = (await request('GET', '/admin', 'root')).body ?? '';
    expect(first).toContain('1,002 users');
    expect(first).toContain('Page 1 of 21');
    expect(first.match(/<tr id="u-/g)).toHaveLength(50);
    const found = (await request('GET', '/admin', 'root', { queryStringParameters: { q: 's-0999' } })).body;
    expect(found).toContain('1 of 1,002 users match');
    expect(found?.match(/<tr id="u-/g)).toHaveLength(1);
    const last = (await request('GET', '/admin', 'root', { queryStringParameters: { page: '21' } })).body;
    expect(last).toContain('id="u-s-1000"');
    expect(last).toContain('Previous page');
  });
});

describe('announcements', () => {
  it('shows an administrator’s announcement, escaped, on every page until cleared', async () => {
    const { post, request } = await setup();
    const set = await post('/admin/announcement', {
      action: 'set',
      message: 'Exam <b>today</b> & "tomorrow"',
      ends: '',
    });
    expect(set.statusCode).toBe(303);
    await request('POST', '/start', 'amy', { headers: { origin: 'https://labs.example.edu' }, body: '' });
    for (const path of ['/', '/spawn-pending', '/admin', '/no-such-page']) {
      const body = (await request('GET', path, path === '/admin' ? 'root' : 'amy')).body ?? '';
      expect(body, path).toContain('Exam &lt;b&gt;today&lt;/b&gt; &amp; &quot;tomorrow&quot;');
      expect(body).not.toContain('<b>today</b>');
    }
    const progress = await request('GET', '/progress', 'amy');
    expect(progress.body).not.toContain('Exam');
    await post('/admin/announcement', { action: 'clear' });
    expect((await request('GET', '/', 'amy')).body).not.toContain('id="announcement"');
  });

  it('stops showing it at its end time (UTC)', async () => {
    const { post, request, deps } = await setup();
    const ends = new Date(deps.clock.now().getTime() + 3600_000).toISOString().slice(0, 16);
    await post('/admin/announcement', { action: 'set', message: 'Back soon', ends });
    expect((await request('GET', '/', 'amy')).body).toContain('Back soon');
    deps.clock.advance(3600);
    expect((await request('GET', '/', 'amy')).body).not.toContain('Back soon');
    const past = await post('/admin/announcement', { action: 'set', message: 'Late', ends });
    expect(past.statusCode).toBe(400);
    expect(past.body).toContain('already passed');
  });
});

describe('the cull notice', () => {
  it('says when a running server stops for inactivity, and why it stopped after', async () => {
    const { request, deps } = await setup(new FakeCompute({ behaviour: { kind: 'normal', startMs: 0 } }));
    await request('POST', '/start', 'amy', { headers: { origin: 'https://labs.example.edu' }, body: '' });
    // The fake runs at once; progress polls move the session to ready.
    await expect
      .poll(async () => JSON.parse((await request('GET', '/progress', 'amy')).body ?? '{}').state)
      .toBe('ready');
    const session = await deps.store.get('amy', '');
    const at = new Date(Date.parse(session?.readyAt ?? '') + 3600_000).toISOString();
    const home = (await request('GET', '/', 'amy')).body ?? '';
    expect(home).toContain(
      `Stops for inactivity at ${at.slice(11, 16)} UTC (after 60 minutes without activity)`,
    );
    const { stopSession } = await import('../../functions/core/use-cases/stop-server.ts');
    await stopSession(deps, session!, {
      code: 'idle',
      message: 'Stopped after 60 minutes without activity.',
    });
    const after = (await request('GET', '/', 'amy')).body ?? '';
    expect(after).toContain('stopped: Stopped after 60 minutes without activity.');
    expect(after).not.toContain('Stops for inactivity');
  });
});
