import '../support/aws-calls/checked.ts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeApiHandler } from '../../functions/handlers/api.ts';
import type { HttpApiEvent } from '../../functions/handlers/http-types.ts';
import { awsApiDeps } from '../../functions/wiring/aws.ts';
import { makeTokenIssuer, type TokenIssuer } from '../fakes/api-harness.ts';
import { TEST_ACCOUNT, TEST_REGION } from '../infra/synth.ts';
import { deployAs } from './deployed.ts';
import { fakeAwsAccount } from './responder.ts';

/**
 * Whose tokens the deployed APIs accept. The ALB hands every lab the access token of
 * whoever visits it (x-amzn-oidc-accesstoken), so a student's lab that lures an admin
 * could replay the admin's ALB-client token against the API: the APIs must accept only
 * the LMS clients' tokens and the dedicated admin client's. The API function runs on its
 * real wiring with the environment the synthesized template gives it; Cognito's JWKS is
 * served from a test key.
 */

let env: Record<string, string>;
let cognito: TokenIssuer;
let account: ReturnType<typeof fakeAwsAccount>;

beforeAll(async () => {
  const { iam } = await deployAs('api');
  env = iam.function('api').environment;
  cognito = await makeTokenIssuer(
    `https://cognito-idp.${TEST_REGION}.amazonaws.com/${env.HUBLESS_USER_POOL_ID}`,
  );
  vi.stubGlobal('fetch', async (url: string | URL) => {
    if (String(url) !== cognito.jwksUri) return new Response('not found', { status: 404 });
    return new Response(JSON.stringify(cognito.jwks), { headers: { 'content-type': 'application/json' } });
  });
  account = fakeAwsAccount({ account: TEST_ACCOUNT, region: TEST_REGION });
  account.addUser('ada', ['admin']);
}, 300_000);

afterAll(() => {
  vi.unstubAllGlobals();
  account?.restore();
});

const ids = () => ({
  alb: env.HUBLESS_USER_POOL_CLIENT_ID as string,
  accepted: (env.HUBLESS_API_CLIENT_IDS ?? '').split(',').filter(Boolean),
});

function hubEvent(token: string): HttpApiEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/hub/api/users',
    rawQueryString: '',
    headers: { authorization: `token ${token}` },
    requestContext: { http: { method: 'GET', path: '/hub/api/users' } },
    isBase64Encoded: false,
  };
}

describe('the APIs in AWS', () => {
  it('accept the LMS clients and the admin client, and not the ALB’s sign-in client', () => {
    const { alb, accepted } = ids();
    expect(accepted.length).toBe(2); // the test stage's one LMS client, and the admin client
    expect(accepted).not.toContain(alb);
  });

  it('refuse an administrator’s ALB-client token on /hub/api (the one a lab can capture)', async () => {
    const api = makeApiHandler(await awsApiDeps());
    const captured = await cognito.token({ client_id: ids().alb, username: 'ada', scope: 'openid' });
    const answer = await api(hubEvent(captured));
    expect(answer.statusCode).toBe(401);
    expect(answer.body).toMatch(/not for this API|client this API does not accept/);
  });

  it('refuse ALB-client claims on /api/v1 even past the gateway', async () => {
    const { auth } = await awsApiDeps();
    await expect(
      auth.fromClaims({ client_id: ids().alb, username: 'ada', token_use: 'access' }),
    ).rejects.toThrow(/client this API does not accept/);
  });

  it('give an administrator every scope with a token of the admin client', async () => {
    const api = makeApiHandler(await awsApiDeps());
    const adminClient = ids().accepted.at(-1) as string; // the stack lists it after the LMS clients
    const token = await cognito.token({ client_id: adminClient, username: 'ada', scope: 'openid' });
    expect((await api(hubEvent(token))).statusCode).toBe(200);
  });
});
