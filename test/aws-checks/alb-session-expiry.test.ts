import '../support/aws-calls/checked.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ALB_AUTH } from '../../functions/adapters/aws/names.ts';
import { SimAccount } from '../aws-sim/account.ts';
import { type ClassOptions, enrolClass, lmsStopAll, morning, quiesce } from '../aws-sim/class-run.ts';
import { resetClock, travel } from '../aws-sim/clock.ts';
import { deployForSimulation } from '../aws-sim/deploy.ts';
import { TEST_DYNAMODB_ENDPOINT_VARIABLE } from '../support/dynamodb.ts';

/**
 * A running lab outlives its ALB sign-in (12 hours). When the ALB session ends,
 * JupyterLab keeps calling its API from script: a 302 to Cognito reaches XHR and
 * WebSocket code as a connection error, so the session's API rule answers 401 (the lab
 * can say "sign in again"), while a page load is still sent to sign in and comes back.
 */
let sim: SimAccount;

beforeAll(async () => {
  const endpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  if (!endpoint) throw new Error('Run this in the aws project: it needs the shared DynamoDB Local.');
  const deployment = await deployForSimulation({ dynamoEndpoint: endpoint, overrides: { albPoolSize: 1 } });
  sim = await SimAccount.start({ deployment });
}, 300_000);

afterAll(() => {
  sim?.close();
  resetClock();
});

describe('a lab whose ALB sign-in has ended', () => {
  const options: ClassOptions = {
    prefix: 'late',
    students: 1,
    arrivalMs: 0,
    pollMs: 500,
    readyTimeoutMs: 90_000,
  };

  it('answers its API paths with 401 and sends a page load to sign in', async () => {
    const passwords = await enrolClass(sim, options);
    const { outcomes, browsers } = await morning(sim, options, passwords);
    const [student] = outcomes;
    expect(student?.state, JSON.stringify(student)).toBe('ready');
    const lab = new URL(student?.url ?? '');
    const base = lab.pathname.replace(/lab\/?$/, '');
    const browser = browsers.get(student?.user ?? '');
    if (!browser) throw new Error('no browser');
    const api = `${lab.origin}${base}api/contents`;
    const settings = `${lab.origin}${base}lab/api/settings`;
    const terminal = `${lab.origin}${base}terminals/websocket/1`;
    const page = `${lab.origin}${base}lab`;

    // Signed in: the API and the page reach the lab.
    expect((await browser.get(api, {}, { follow: false })).status).toBe(200);
    expect((await browser.get(page, {}, { follow: false })).status).toBe(200);

    travel((ALB_AUTH.sessionTimeoutSeconds + 60) * 1000);

    for (const path of [api, settings, terminal]) {
      const answer = await browser.get(path, {}, { follow: false });
      expect(answer.status, path).toBe(401);
    }
    const reload = await browser.get(page, {}, { follow: false });
    expect(reload.status).toBe(302);
    expect(String(reload.headers.location)).toContain('/oauth2/authorize');
    expect(sim.front.served.denied).toBe(3);

    // Signing in again (the hosted UI remembers the user) opens the lab and its API once more.
    expect((await browser.get(page)).status).toBe(200);
    expect((await browser.get(api, {}, { follow: false })).status).toBe(200);

    await lmsStopAll(sim, [student?.user ?? '']);
    await quiesce(sim, 30_000);
    expect(sim.leftovers()).toMatchObject({ tasks: 0, rules: 0, targetGroups: 0 });
  });
});
