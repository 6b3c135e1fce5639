import { describe, expect, it } from 'vitest';
import type { IdentityVerifier } from '../../functions/adapters/identity/alb-identity.ts';
import { makePortalHandler } from '../../functions/handlers/portal.ts';
import { makeApiKit } from '../fakes/api-harness.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';
import { FakeRouter } from '../fakes/fake-router.ts';

/**
 * On an ALB pool, a session routed on balancer i is reachable only at pool host i (its
 * listener rule matches that host). Every URL a user or client is given must carry it.
 */
const POOL_HOST = 'pool1.labs.example.edu';

function poolDeps() {
  const router = new FakeRouter();
  router.host = POOL_HOST;
  return makeTestDeps({ router, compute: new FakeCompute() });
}

const identity: IdentityVerifier = {
  verify: async (user) => ({ username: String(user), sub: String(user) }),
};

describe('lab URLs on an ALB pool', () => {
  it('the portal sends a user to the lab at its route’s host', async () => {
    const core = poolDeps();
    const portal = makePortalHandler({
      core,
      identity,
      labUi: 'lab',
      sessionCookie: 'AWSELBAuthSessionCookie',
    });
    const request = (method: string, path: string) =>
      portal({
        requestContext: { elb: { targetGroupArn: 'portal' } },
        httpMethod: method,
        path,
        headers: { host: 'labs.example.edu', origin: 'https://labs.example.edu', 'x-amzn-oidc-data': 'ada' },
        body: '',
        isBase64Encoded: false,
        queryStringParameters: {},
      });
    await request('POST', '/start');
    let progress = JSON.parse((await request('GET', '/progress')).body ?? '{}');
    for (let i = 0; i < 50 && !progress.ready; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      progress = JSON.parse((await request('GET', '/progress')).body ?? '{}');
    }
    expect(progress.url).toBe(`https://${POOL_HOST}/user/ada/lab`);
    (core.compute as FakeCompute).dispose();
  });

  it('/api/v1 and /hub/api give the route’s host in server URLs', async () => {
    const core = poolDeps();
    const kit = await makeApiKit({}, core);
    const token = await kit.token();
    await kit.call('PUT', '/api/v1/users/ada', { token, body: {} });
    await kit.call('POST', '/api/v1/users/ada/server', { token, body: {} });
    let server = (await kit.call('GET', '/api/v1/users/ada/server', { token })).json;
    for (let i = 0; i < 50 && server.state !== 'ready'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      server = (await kit.call('GET', '/api/v1/users/ada/server', { token })).json;
    }
    expect(server.url).toBe(`https://${POOL_HOST}/user/ada/`);
    const hubUser = (await kit.call('GET', '/hub/api/users/ada', { authorization: `token ${token}` })).json;
    expect(hubUser.servers[''].full_url).toBe(`https://${POOL_HOST}/user/ada/`);
    (core.compute as FakeCompute).dispose();
  });
});
