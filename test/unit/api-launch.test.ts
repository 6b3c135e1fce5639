import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LaunchLinkError } from '../../functions/core/api/errors.ts';
import { createLaunchLink, hashToken } from '../../functions/core/use-cases/launch-links.ts';
import type { AlbEvent } from '../../functions/handlers/http-types.ts';
import type { PortalDeps } from '../../functions/handlers/portal/context.ts';
import { launchRoute } from '../../functions/handlers/portal/launch.ts';
import { type ApiKit, makeApiKit, undocumented } from '../fakes/api-harness.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';
import { FakeClock } from '../fakes/fake-parts.ts';

describe('launch links', () => {
  let kit: ApiKit;
  let token: string;
  let compute: FakeCompute;
  let clock: FakeClock;
  let portal: PortalDeps;
  beforeEach(async () => {
    compute = new FakeCompute();
    clock = new FakeClock();
    kit = await makeApiKit({}, makeTestDeps({ compute, clock }));
    token = await kit.token();
    await kit.call('PUT', '/api/v1/users/ada', { token, body: { groups: ['cs101'] } });
    await kit.call('PUT', '/api/v1/users/bo', { token, body: {} });
    portal = {
      core: kit.core,
      identity: { verify: async () => ({ username: 'ada', sub: 'ada' }) },
      labUi: 'lab',
      sessionCookie: 'AWSELBAuthSessionCookie',
    };
  });
  afterEach(() => compute.dispose());

  const visit = (url: string, user: string) => {
    const parsed = new URL(url);
    const event: AlbEvent = {
      requestContext: { elb: { targetGroupArn: 'arn:test' } },
      httpMethod: 'GET',
      path: parsed.pathname,
      queryStringParameters: Object.fromEntries(parsed.searchParams),
      headers: {},
      body: null,
      isBase64Encoded: false,
    };
    return launchRoute(kit.links)(portal, {
      event,
      user: { name: user, admin: false, groups: user === 'ada' ? ['cs101'] : [] },
    });
  };
  const create = (body: unknown = { path: 'week3/lab.ipynb' }, headers: Record<string, string> = {}) =>
    kit.call('POST', '/api/v1/users/ada/launch', { token, body, headers });

  describe('POST /users/{user}/launch', () => {
    it('returns a single-use URL under the public URL with its expiry (default 10 minutes)', async () => {
      const answer = await create();
      expect(answer.status).toBe(201);
      expect(answer.json.url).toMatch(/^https:\/\/labs\.example\.edu\/launch\?token=[0-9a-f]{64}$/);
      expect(answer.json.expires_at).toBe(new Date(clock.now().getTime() + 600_000).toISOString());
      expect(undocumented(answer, 'POST', '/users/{user}/launch')).toEqual([]);
    });

    it('stores only a hash of the token', async () => {
      const { json } = await create();
      const raw = new URL(json.url).searchParams.get('token')!;
      expect([...kit.links.links.keys()]).toEqual([hashToken(raw)]);
      expect(JSON.stringify([...kit.links.links.values(), ...kit.links.keys.values()])).not.toContain(raw);
    });

    it('returns the same link for a repeated Idempotency-Key, and refuses the key for another request', async () => {
      const first = await create({ path: 'a.ipynb' }, { 'idempotency-key': 'lms-42' });
      expect(first.status).toBe(201);
      const again = await create({ path: 'a.ipynb' }, { 'idempotency-key': 'lms-42' });
      expect(again.status).toBe(200);
      expect(again.json).toEqual(first.json);
      expect(undocumented(again, 'POST', '/users/{user}/launch')).toEqual([]);
      expect((await create({ path: 'a.ipynb' }, { 'idempotency-key': 'lms-43' })).json.url).not.toBe(
        first.json.url,
      );
      const reused = await create({ path: 'b.ipynb' }, { 'idempotency-key': 'lms-42' });
      expect(reused.status).toBe(409);
      expect(reused.json.error.code).toBe('idempotency_key_reused');
    });

    it('makes a new link for every request without an Idempotency-Key', async () => {
      const first = await create({ path: 'a.ipynb' });
      const second = await create({ path: 'a.ipynb' });
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(second.json.url).not.toBe(first.json.url);
    });

    it('refuses a key reused for other course material', async () => {
      const course = { path: 'c/a.ipynb', repository: 'https://example.edu/c.git' };
      expect((await create(course, { 'idempotency-key': 'lms-7' })).status).toBe(201);
      const other = await create(
        { ...course, repository: 'https://example.edu/d.git' },
        { 'idempotency-key': 'lms-7' },
      );
      expect(other.status).toBe(409);
      expect(other.json.error.code).toBe('idempotency_key_reused');
    });

    it('refuses an Idempotency-Key that is not 1-255 visible ASCII characters, saying what it must be', async () => {
      for (const key of [' lms-42', 'lms-42 ', 'lms 42', 'clé', 'k'.repeat(256)]) {
        const answer = await create({}, { 'idempotency-key': key });
        expect(answer.status, JSON.stringify(key)).toBe(400);
        expect(answer.json.error).toEqual({
          code: 'invalid_idempotency_key',
          message:
            'The Idempotency-Key header must be 1-255 visible ASCII characters (a UUID is a good choice).',
        });
      }
      expect((await create({}, { 'idempotency-key': 'k'.repeat(255) })).status).toBe(201);
      expect(kit.links.links.size).toBe(1);
    });

    it('stores the link as asked: the hash, whose, which client, when; no path when none was asked', async () => {
      const { json } = await create({ ttl_seconds: 120 });
      const raw = new URL(json.url).searchParams.get('token')!;
      const now = clock.now();
      expect(kit.links.links.get(hashToken(raw))).toStrictEqual({
        tokenHash: hashToken(raw),
        user: 'ada',
        client: expect.any(String),
        createdAt: now.toISOString(),
        expiresAt: Math.floor(now.getTime() / 1000) + 120,
      });
    });

    it('puts the link under the public URL whatever its trailing slashes', async () => {
      for (const publicUrl of [
        'https://labs.example.edu',
        'https://labs.example.edu/',
        'https://labs.example.edu//',
      ]) {
        const { url } = await createLaunchLink(kit.core, kit.links, {
          user: 'ada',
          ttlSeconds: 60,
          client: 'lms',
          publicUrl,
        });
        expect(url).toMatch(/^https:\/\/labs\.example\.edu\/launch\?token=[0-9a-f]{64}$/);
      }
    });

    it('makes a separate link for each Idempotency-Key, even for the same request', async () => {
      const first = await create({}, { 'idempotency-key': 'lms-1' });
      const second = await create({}, { 'idempotency-key': 'lms-2' });
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(second.json.url).not.toBe(first.json.url);
      expect((await create({}, { 'idempotency-key': 'lms-2' })).json.url).toBe(second.json.url);
    });

    it('makes a new link for the same key once the first has expired', async () => {
      const first = await create({}, { 'idempotency-key': 'k' });
      clock.advance(601);
      expect((await create({}, { 'idempotency-key': 'k' })).json.url).not.toBe(first.json.url);
    });

    it('refuses a ttl over an hour, unknown fields, an unknown user and a missing scope', async () => {
      const long = await create({ ttl_seconds: 7200 });
      expect(long.status).toBe(400);
      expect(long.json.error.message).toMatch(/ttl_seconds/);
      expect((await create({ path: 'a', notebook: 'b' })).status).toBe(400);
      expect((await kit.call('POST', '/api/v1/users/zed/launch', { token, body: {} })).status).toBe(404);
      const scope = await kit.call('POST', '/api/v1/users/ada/launch', {
        token: await kit.token('hubless/servers:write'),
        body: {},
      });
      expect(scope.json.error).toEqual({
        code: 'insufficient_scope',
        message: expect.stringMatching(/^This route needs the scope launch/),
      });
    });
  });

  describe('GET /launch (portal)', () => {
    it('works once: starts the server at the path and sends the student to /spawn-pending', async () => {
      const { json } = await create();
      const answer = await visit(json.url, 'ada');
      expect(answer).toMatchObject({ statusCode: 303, headers: { location: '/spawn-pending' } });
      expect(compute.calls.start).toHaveLength(1);
      expect((await kit.core.store.get('ada', ''))?.openPath).toBe('week3/lab.ipynb');
      await expect(visit(json.url, 'ada')).rejects.toMatchObject({ code: 'link_used', status: 410 });
    });

    it('carries course material to the lab: the repository, its branch and the folder it lands in', async () => {
      const { json, status } = await create({
        path: 'intro-course/week1.ipynb',
        repository: 'https://github.com/org/intro-course.git',
        branch: 'spring',
      });
      expect(status).toBe(201);
      await visit(json.url, 'ada');
      expect(compute.calls.start[0]?.env).toMatchObject({
        HUBLESS_CONTENT_REPO: 'https://github.com/org/intro-course.git',
        HUBLESS_CONTENT_BRANCH: 'spring',
        HUBLESS_CONTENT_DIR: 'intro-course',
      });
      expect((await kit.core.store.get('ada', ''))?.openPath).toBe('intro-course/week1.ipynb');
    });

    it('refuses a repository that is not a git URL, an option-like branch, and a branch without repository', async () => {
      const bad = await create({ repository: '--upload-pack=touch /tmp/x' });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('invalid_repository');
      const option = await create({ repository: 'https://example.edu/c.git', branch: '-b' });
      expect(option.json.error.code).toBe('invalid_branch');
      expect((await create({ branch: 'main' })).status).toBe(400);
    });

    it('expires', async () => {
      const { json } = await create({ ttl_seconds: 60 });
      clock.advance(61);
      await expect(visit(json.url, 'ada')).rejects.toMatchObject({ code: 'link_expired', status: 410 });
      expect(compute.calls.start).toHaveLength(0);
    });

    it('works until the second it expires', async () => {
      const short = await create({ ttl_seconds: 60 });
      const longer = await create({ ttl_seconds: 61 });
      clock.advance(60);
      await expect(visit(short.json.url, 'ada')).rejects.toMatchObject({ code: 'link_expired' });
      expect((await visit(longer.json.url, 'ada')).statusCode).toBe(303);
    });

    it('cannot be used by another signed-in user, and stays usable for its own', async () => {
      const { json } = await create();
      const error = await visit(json.url, 'bo').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LaunchLinkError);
      expect(error).toMatchObject({
        status: 403,
        message: expect.stringMatching(/^This link is for another user/),
      });
      expect(compute.calls.start).toHaveLength(0);
      expect((await visit(json.url, 'ada')).statusCode).toBe(303);
    });

    it('refuses an unknown or missing token', async () => {
      await expect(
        visit('https://labs.example.edu/launch?token=abcdefabcdefabcdefabcdef', 'ada'),
      ).rejects.toMatchObject({ code: 'link_unknown' });
      await expect(visit('https://labs.example.edu/launch', 'ada')).rejects.toMatchObject({
        code: 'link_unknown',
      });
    });

    it('is single-use under concurrency: the others are told it was used', async () => {
      const { json } = await create();
      const results = await Promise.allSettled([
        visit(json.url, 'ada'),
        visit(json.url, 'ada'),
        visit(json.url, 'ada'),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(refused).toEqual([
        expect.objectContaining({ code: 'link_used', status: 410 }),
        expect.objectContaining({ code: 'link_used', status: 410 }),
      ]);
      expect(compute.calls.start).toHaveLength(1);
    });

    it('refuses a token that is not one of ours, even when a link has its hash', async () => {
      const { json } = await create();
      const stored = kit.links.links.get(hashToken(new URL(json.url).searchParams.get('token')!))!;
      const odd = 'short!';
      kit.links.links.set(hashToken(odd), { ...stored, tokenHash: hashToken(odd) });
      await expect(visit(`https://labs.example.edu/launch?token=${odd}`, 'ada')).rejects.toMatchObject({
        code: 'link_unknown',
      });
      expect(compute.calls.start).toHaveLength(0);
    });

    it('while the previous server is still stopping: asks to open it again, and leaves the link unused', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token, body: {} });
      const running = (await kit.core.store.get('ada', ''))!;
      await kit.core.store.update({ ...running, state: 'stopping' }, running.version);
      const { json } = await create();
      const used = await create();
      await visit(used.json.url, 'ada').catch(() => undefined);
      const expired = await create({ ttl_seconds: 60 });

      await expect(visit(json.url, 'ada')).rejects.toThrow(
        'Your previous server is still stopping. Open the link again in a few seconds.',
      );
      const raw = new URL(json.url).searchParams.get('token')!;
      expect(kit.links.links.get(hashToken(raw))?.usedAt).toBeUndefined();
      // A used or an expired link says so, stopping server or not.
      kit.links.links.get(hashToken(new URL(used.json.url).searchParams.get('token')!))!.usedAt = clock
        .now()
        .toISOString();
      await expect(visit(used.json.url, 'ada')).rejects.toMatchObject({ code: 'link_used' });
      clock.advance(60);
      await expect(visit(expired.json.url, 'ada')).rejects.toMatchObject({ code: 'link_expired' });

      await compute.stop(running.computeHandle!, 'stopped');
      const again = await create();
      expect((await visit(again.json.url, 'ada')).statusCode).toBe(303);
      expect(compute.calls.start).toHaveLength(2);
    });

    it('points a server that is already running at the new path', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token, body: { path: 'old.ipynb' } });
      const { json } = await create({ path: 'new.ipynb' });
      await visit(json.url, 'ada');
      expect(compute.calls.start).toHaveLength(1);
      expect((await kit.core.store.get('ada', ''))?.openPath).toBe('new.ipynb');
    });

    it('leaves a running server that already opens the link’s path exactly as it is', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token, body: { path: 'week3/lab.ipynb' } });
      const before = (await kit.core.store.get('ada', ''))!;
      clock.advance(5);
      await visit((await create()).json.url, 'ada');
      expect(await kit.core.store.get('ada', '')).toEqual(before);
    });

    it('does not point a server that ended meanwhile at the link’s path', async () => {
      await kit.call('POST', '/api/v1/users/ada/server', { token, body: { path: 'old.ipynb' } });
      const { json } = await create({ path: 'new.ipynb' });
      // The server stops between the link's start request and its write of the path.
      const store = kit.core.store;
      const update = store.update.bind(store);
      let raced = false;
      store.update = async (next, expectedVersion) => {
        if (!raced) {
          raced = true;
          const current = (await store.get('ada', ''))!;
          await update({ ...current, state: 'stopped', version: current.version + 1 }, current.version);
        }
        return update(next, expectedVersion);
      };
      await visit(json.url, 'ada');
      expect(raced).toBe(true);
      expect(await store.get('ada', '')).toMatchObject({ state: 'stopped', openPath: 'old.ipynb' });
    });
  });
});
