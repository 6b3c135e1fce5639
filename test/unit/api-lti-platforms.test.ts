import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LocalLtiPlatforms } from '../../functions/adapters/local/lti-platforms.ts';
import type { LtiPlatforms } from '../../functions/core/lti/ports.ts';
import { type ApiKit, makeApiKit, undocumented } from '../fakes/api-harness.ts';
import { MemoryLtiPlatforms } from '../fakes/memory-lti-platforms.ts';
import { runHublessCli } from '../support/cli-run.ts';

/**
 * /api/v1/lti/platforms: LMS registrations through the admin API (the same use case as
 * `hubless lti`, core/lti/registration.ts; the stores' contract is test/contract/lti-platforms).
 */
const MOODLE = {
  issuer: 'https://moodle.example.edu',
  client_id: 'Xy12',
  deployment_ids: ['3'],
  jwks_url: 'https://moodle.example.edu/mod/lti/certs.php',
  auth_url: 'https://moodle.example.edu/mod/lti/auth.php',
  username_claim: 'https://purl.imsglobal.org/spec/lti/claim/ext.user_username',
};
const PATH = '/api/v1/lti/platforms';

async function adminKit<T extends LtiPlatforms>(platforms: T) {
  const kit = await makeApiKit({ ltiPlatforms: platforms });
  await kit.core.directory.upsert({ name: 'root', admin: true });
  return { kit, platforms, admin: await kit.token('openid', { username: 'root' }) };
}

describe('/api/v1/lti/platforms (administrators only)', () => {
  let kit: ApiKit;
  let platforms: MemoryLtiPlatforms;
  let admin: string;
  beforeEach(async () => {
    ({ kit, platforms, admin } = await adminKit(new MemoryLtiPlatforms()));
  });

  it('registers an LMS (201), replaces it (200, creation time kept), lists and removes it', async () => {
    const made = await kit.call('POST', PATH, { token: admin, body: MOODLE });
    expect(made.status).toBe(201);
    expect(undocumented(made, 'POST', '/lti/platforms')).toEqual([]);
    expect(made.json).toEqual({ ...MOODLE, created_at: kit.core.clock.now().toISOString() });
    // What launches read: the store holds it as core keeps it.
    expect(await platforms.get(MOODLE.issuer, MOODLE.client_id)).toMatchObject({
      clientId: 'Xy12',
      deploymentIds: ['3'],
      usernameClaim: MOODLE.username_claim,
    });

    const { username_claim: _dropped, ...withoutClaim } = MOODLE;
    const replaced = await kit.call('POST', PATH, {
      token: admin,
      body: { ...withoutClaim, deployment_ids: ['3', '4'] },
    });
    expect(replaced.status).toBe(200);
    expect(undocumented(replaced, 'POST', '/lti/platforms')).toEqual([]);
    expect(replaced.json).toMatchObject({ deployment_ids: ['3', '4'], username_claim: null });
    expect(replaced.json.created_at).toBe(made.json.created_at);

    const listed = await kit.call('GET', PATH, { token: admin });
    expect(listed.status).toBe(200);
    expect(undocumented(listed, 'GET', '/lti/platforms')).toEqual([]);
    expect(listed.json.items).toEqual([replaced.json]);

    const query = { issuer: MOODLE.issuer, client_id: MOODLE.client_id };
    const removed = await kit.call('DELETE', PATH, { token: admin, query });
    expect(removed.status).toBe(204);
    expect(await platforms.list()).toEqual([]);
    const again = await kit.call('DELETE', PATH, { token: admin, query });
    expect(again.status).toBe(404);
    expect(again.json.error).toEqual({
      code: 'unknown_lti_platform',
      message:
        'There is no registration of https://moodle.example.edu with client id Xy12. The registrations are listed by `hubless lti list` or GET /api/v1/lti/platforms.',
    });
  });

  it('refuses a course platform’s client, even with every scope, and a token without users:write', async () => {
    const lms = await kit.token();
    for (const [method, options] of [
      ['GET', {}],
      ['POST', { body: MOODLE }],
      ['DELETE', { query: { issuer: MOODLE.issuer, client_id: MOODLE.client_id } }],
    ] as const) {
      const refused = await kit.call(method, PATH, { token: lms, ...options });
      expect(refused.status).toBe(403);
      expect(refused.json.error.code).toBe('admin_only');
    }
    const reader = await kit.token('hubless/users:read');
    expect((await kit.call('GET', PATH, { token: reader })).status).toBe(403);
    expect((await kit.call('GET', PATH)).status).toBe(401);
    expect(await platforms.list()).toEqual([]);
  });

  it('says what is wrong with a registration and how to fix it, and stores nothing', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...MOODLE, jwks_url: 'certs.php' }, 'invalid_lti_platform', /^jwks URL must be an absolute URL/],
      [
        { ...MOODLE, auth_url: 'http://moodle.example.edu/auth' },
        'invalid_lti_platform',
        /^auth URL must be an https:\/\/ URL/,
      ],
      [
        { ...MOODLE, deployment_ids: [] },
        'invalid_lti_platform',
        /deployment id is required.*when the tool is deployed/,
      ],
      [{ ...MOODLE, client_id: undefined }, 'invalid_request', /^Invalid request: body\.client_id: /],
      [{ ...MOODLE, secret: 'x' }, 'invalid_request', /body has unknown field "secret"/],
    ];
    for (const [body, code, message] of cases) {
      const answer = await kit.call('POST', PATH, { token: admin, body });
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe(code);
      expect(answer.json.error.message).toMatch(message);
    }
    const noQuery = await kit.call('DELETE', PATH, { token: admin });
    expect(noQuery.status).toBe(400);
    expect(noQuery.json.error.message).toMatch(/query\.issuer/);
    expect(await platforms.list()).toEqual([]);
  });

  it('is listed in the OpenAPI document with its scope', async () => {
    const doc = (await kit.call('GET', '/api/v1/openapi.json')).json;
    expect(Object.keys(doc.paths['/lti/platforms']).sort()).toEqual(['delete', 'get', 'post']);
  });
});

describe('local mode: the admin API and `hubless lti` share one registration file', {
  timeout: 60_000,
}, () => {
  it('a registration made through the API is what the command line lists, and back', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hubless-lti-api-'));
    const { kit, admin } = await adminKit(
      new LocalLtiPlatforms({ dataDir }) as unknown as MemoryLtiPlatforms,
    );
    expect((await kit.call('POST', PATH, { token: admin, body: MOODLE })).status).toBe(201);
    const listed = await runHublessCli(['lti', 'list'], { dataDir });
    expect(listed.stdout).toContain('https://moodle.example.edu  client id: Xy12  deployments: 3');
    const added = await runHublessCli(
      [
        'lti',
        'add',
        '--issuer=https://canvas.example.edu',
        '--client-id=1000',
        '--deployment-id=1:abc,2:def',
        '--jwks-url=https://canvas.example.edu/api/lti/security/jwks',
        '--auth-url=https://canvas.example.edu/api/lti/authorize_redirect',
      ],
      { dataDir },
    );
    expect(added).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Registered https:\/\/canvas/) });
    const items = (await kit.call('GET', PATH, { token: admin })).json.items;
    expect(items.map((p: { issuer: string }) => p.issuer)).toEqual([
      'https://canvas.example.edu',
      'https://moodle.example.edu',
    ]);
    // The command line refuses with the same words as the API.
    const bad = await runHublessCli(
      [
        'lti',
        'add',
        '--issuer=https://x.example',
        '--client-id=1',
        '--deployment-id=1',
        '--jwks-url=x',
        '--auth-url=https://x.example/a',
      ],
      { dataDir },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('jwks URL must be an absolute URL; got "x".');
  });
});
