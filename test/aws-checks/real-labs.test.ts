import '../support/aws-calls/checked.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SimAccount } from '../aws-sim/account.ts';
import {
  type ClassOptions,
  claimedSlots,
  enrolClass,
  lmsStopAll,
  morning,
  quiesce,
} from '../aws-sim/class-run.ts';
import { resetClock } from '../aws-sim/clock.ts';
import { deployForSimulation } from '../aws-sim/deploy.ts';
import { RealJupyterLabs } from '../aws-sim/real-labs.ts';
import { TEST_DYNAMODB_ENDPOINT_VARIABLE } from '../support/dynamodb.ts';

/**
 * The simulated account with real Jupyter servers as its tasks: the environment hubless
 * gives the task definition and RunTask reaches the real owner check (containers/lab),
 * which must accept the simulated ALB's signed x-amzn-oidc-data for the lab's owner and
 * refuse it for anyone else. The fake labs of the class run answer the same way; this
 * test is what shows that they answer as the real ones do.
 */
let sim: SimAccount;
let labs: RealJupyterLabs;

beforeAll(async () => {
  const endpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  if (!endpoint) throw new Error('Run this in the aws project: it needs the shared DynamoDB Local.');
  const deployment = await deployForSimulation({ dynamoEndpoint: endpoint, overrides: { albPoolSize: 3 } });
  labs = new RealJupyterLabs();
  sim = await SimAccount.start({ deployment, labs });
}, 300_000);

afterAll(async () => {
  sim?.close();
  await labs?.close();
  resetClock();
});

describe('real Jupyter servers behind the simulated ALB', () => {
  it("each student reaches their own Jupyter through the ALB's identity header; a classmate's answers 403", async () => {
    const options: ClassOptions = {
      prefix: 'rj',
      students: 2,
      arrivalMs: 0,
      pollMs: 500,
      readyTimeoutMs: 120_000,
    };
    const passwords = await enrolClass(sim, options);
    const { outcomes, browsers } = await morning(sim, options, passwords);
    expect(outcomes.map((o) => [o.user, o.state, o.reason])).toEqual([
      ['rj0001', 'ready', undefined],
      ['rj0002', 'ready', undefined],
    ]);
    // The URL the portal gives is on the student's balancer and under their base URL. The
    // page it names is JupyterLab's (the AWS image); this machine's Jupyter may serve
    // only the classic UI, so the owner check is asked through Jupyter's own API instead,
    // which every Jupyter serves and guards.
    const base = (url = '') => url.replace(/(\/user\/[^/]+\/).*$/, '$1');
    for (const outcome of outcomes) {
      expect(base(outcome.url)).toMatch(new RegExp(`^https://[^/]+/user/${outcome.user}/$`));
      const contents = await browsers.get(outcome.user)?.get(`${base(outcome.url)}api/contents`);
      expect(contents?.status, `${outcome.user}: ${contents?.body.slice(0, 300)}`).toBe(200);
      expect(JSON.parse(contents?.body ?? '{}')).toMatchObject({ type: 'directory' });
    }
    // The same header on a classmate's lab: the rule matches, the owner check refuses.
    const [first, second] = outcomes;
    for (const [visitor, owner] of [
      [first, second],
      [second, first],
    ]) {
      const refused = await browsers.get(visitor?.user ?? '')?.get(`${base(owner?.url)}api/contents`);
      expect(refused?.status, `${visitor?.user} on ${owner?.user}'s lab`).toBe(403);
    }

    const stops = await lmsStopAll(
      sim,
      outcomes.map((o) => o.user),
    );
    expect(stops.filter((s) => s !== 202 && s !== 204)).toEqual([]);
    await quiesce(sim, 30_000);
    expect(sim.leftovers()).toMatchObject({ tasks: 0, rules: 0, targetGroups: 0, labs: 0 });
    expect(await claimedSlots(sim)).toBe(0);
    expect(sim.denied).toEqual([]);
  });
});
