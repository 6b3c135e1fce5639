import '../support/aws-calls/checked.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SimAccount } from '../aws-sim/account.ts';
import type { Browser, Page } from '../aws-sim/browser.ts';
import { lmsStopAll, quiesce, signIn, sleep } from '../aws-sim/class-run.ts';
import { resetClock } from '../aws-sim/clock.ts';
import { deployForSimulation } from '../aws-sim/deploy.ts';
import { TEST_DYNAMODB_ENDPOINT_VARIABLE } from '../support/dynamodb.ts';

/**
 * Sign-in with the school's account on AWS: a person comes back from the university's
 * identity provider to Cognito, whose pre sign-up trigger (the deployed Lambda, its every
 * Cognito call checked against its role) maps them to a hubless name and links them to
 * that native user. Cognito's first sign-in after such a link fails (its known
 * "Already found an entry" error, which the ALB shows as a 401); the next one signs in
 * under the hubless name, which is what the portal, the directory and the lab's owner
 * check read. A second identity mapping to a taken name is left unlinked, and the portal
 * says why.
 */
let sim: SimAccount;
const PROVIDER = 'University';

beforeAll(async () => {
  const endpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  if (!endpoint) throw new Error('Run this in the aws project: it needs the shared DynamoDB Local.');
  const deployment = await deployForSimulation({
    dynamoEndpoint: endpoint,
    overrides: {
      albPoolSize: 1,
      federation: {
        usernameClaim: 'preferred_username',
        groupMap: { 'cs101-staff': 'staff' },
        adminGroups: ['it-admins'],
        providers: [
          {
            type: 'oidc',
            name: PROVIDER,
            issuer: 'https://login.uni.example/realms/students',
            clientId: 'hubless',
            clientSecretName: 'hubless/university',
            attributes: { groups: 'groups' },
          },
        ],
      },
    },
  });
  sim = await SimAccount.start({ deployment });
}, 300_000);

afterAll(() => {
  sim?.close();
  resetClock();
});

/** Opens the portal and, at Cognito's login page, comes back from the university as `subject`. */
async function universitySignIn(
  browser: Browser,
  subject: string,
  attributes: Record<string, string>,
): Promise<Page> {
  const login = await browser.get(`${sim.portalUrl}/`);
  expect(login.url).toContain('/oauth2/authorize');
  const at = new URL(login.url);
  const query = new URLSearchParams(at.search);
  query.set('provider', PROVIDER);
  query.set('subject', subject);
  query.set('attributes', JSON.stringify(attributes));
  return browser.get(`${at.origin}/federated?${query}`);
}

async function startAndWait(browser: Browser): Promise<string> {
  const started = await browser.post(`${sim.portalUrl}/start`, {}, { follow: false });
  expect(started.status, started.body).toBe(303);
  const until = Date.now() + 60_000;
  for (;;) {
    const poll = await browser.get(`${sim.portalUrl}/progress`, { accept: 'application/json' });
    const progress = JSON.parse(poll.body) as { ready?: boolean; url?: string; failed?: boolean };
    if (progress.ready && progress.url) return progress.url;
    if (progress.failed || Date.now() > until) throw new Error(`not ready: ${poll.body}`);
    await sleep(300);
  }
}

describe('a student signing in with the university account', () => {
  // What the provider's attribute mapping put on the Cognito user (stacks/federation.ts).
  const jane = {
    preferred_username: 'Jane.Doe',
    email: 'jane@uni.example',
    'custom:groups': '[cs101-staff, it-admins]',
  };

  it('is linked to a hubless user named by the mapping, lands in her own lab, and only she gets in', async () => {
    const browser = sim.browser();
    // Cognito's first sign-in after the trigger linked her fails; the load balancer shows its 401.
    const first = await universitySignIn(browser, 'u-1001', jane);
    expect(first.status).toBe(401);
    const user = sim.cognito.users.get('jane-doe');
    expect(user?.status).toBe('CONFIRMED');
    expect([...(user?.groups ?? [])].sort()).toEqual(['admin', 'staff']);
    expect(sim.cognito.links.get(`${PROVIDER}_u-1001`)).toBe('jane-doe');
    expect(sim.cognito.users.has(`${PROVIDER}_u-1001`)).toBe(false);
    expect(sim.lambdas.invocations['federated-sign-up']).toBe(1);

    // Signing in again, she is jane-doe everywhere; the trigger does not run again.
    const home = await universitySignIn(browser, 'u-1001', jane);
    expect(home.status, home.body).toBe(200);
    expect(home.body).toContain('jane-doe');
    expect(sim.lambdas.invocations['federated-sign-up']).toBe(1);

    const labUrl = await startAndWait(browser);
    expect((await browser.get(labUrl)).status).toBe(200);

    // A password user of the pool opening her lab URL: the lab's owner check refuses.
    sim.cognito.handle('AdminCreateUser', {
      UserPoolId: sim.deployment.env.HUBLESS_USER_POOL_ID,
      Username: 'alice',
      MessageAction: 'SUPPRESS',
    });
    sim.cognito.handle('AdminSetUserPassword', {
      UserPoolId: sim.deployment.env.HUBLESS_USER_POOL_ID,
      Username: 'alice',
      Password: 'Alice-password-1!',
      Permanent: true,
    });
    const alice = sim.browser();
    expect(await signIn(sim, alice, 'alice', 'Alice-password-1!')).toBe(200);
    expect((await alice.get(labUrl)).status).toBe(403);

    await lmsStopAll(sim, ['jane-doe']);
    await quiesce(sim, 30_000);
  }, 120_000);

  it('refuses a second identity whose name maps to a taken one with a page that says why, and merges nothing', async () => {
    const browser = sim.browser();
    // Another person at the university, jane_doe: the same hubless name.
    const page = await universitySignIn(browser, 'u-2002', { preferred_username: 'jane_doe' });
    expect(page.status).toBe(409);
    expect(page.body).toContain(
      'already belongs to another person who signed in through the identity provider',
    );
    expect(sim.cognito.links.get(`${PROVIDER}_u-2002`)).toBeUndefined();
    expect(sim.cognito.links.get(`${PROVIDER}_u-1001`)).toBe('jane-doe');
    // Kept under Cognito's own name, which no hubless page or lab accepts; again next time.
    expect(sim.cognito.users.get(`${PROVIDER}_u-2002`)?.status).toBe('EXTERNAL_PROVIDER');
    expect((await browser.get(`${sim.portalUrl}/`)).status).toBe(409);
    const started = await browser.post(`${sim.portalUrl}/start`, {}, { follow: false });
    expect(started.status).toBe(409);
  }, 60_000);

  it('refuses a name taken by an account made in hubless, and an identity without the username claim', async () => {
    const taken = await universitySignIn(sim.browser(), 'u-3003', { preferred_username: 'Alice' });
    expect(taken.status).toBe(409);
    expect(taken.body).toContain('an account that was created in hubless itself');
    const nameless = await universitySignIn(sim.browser(), 'u-4004', { email: 'x@uni.example' });
    expect(nameless.status).toBe(403);
    expect(nameless.body).toContain('did not send the &quot;preferred_username&quot; claim');
    expect(sim.cognito.users.get('alice')?.attributes.some((a) => a.Name === 'identities')).toBe(false);
  }, 60_000);
});
