import '../support/aws-calls/checked.ts';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LaunchQueueEvent } from '../../functions/handlers/launcher.ts';
import { SimAccount } from '../aws-sim/account.ts';
import type { Browser } from '../aws-sim/browser.ts';
import {
  type ClassOptions,
  enrolClass,
  quiesce,
  type StudentOutcome,
  signIn,
  sleep,
  startAndWait,
  studentNames,
  waitForProgress,
} from '../aws-sim/class-run.ts';
import { resetClock, travel } from '../aws-sim/clock.ts';
import { deployForSimulation } from '../aws-sim/deploy.ts';
import { LambdaCrash } from '../aws-sim/lambdas.ts';
import { findOrphans } from '../aws-sim/orphans.ts';
import { TEST_DYNAMODB_ENDPOINT_VARIABLE } from '../support/dynamodb.ts';

/**
 * A Lambda can die between any two AWS calls (a timeout, out of memory, a redeploy).
 * Each case crashes one handler after its 0th, 1st, ... Nth AWS call (DynamoDB
 * included) in the simulated account, then lets the system do what it does on its own
 * (task events, EventBridge's two retries, the culler's reconcile once its timeouts have
 * passed) and checks that nothing is left that no one owns: no task without a session,
 * no session without a task, no rule without a task, no target group without a rule,
 * no ALB slot without a session, no second home. The crashed students can start again.
 */

let sim: SimAccount;
const poll = { pollMs: 300, readyTimeoutMs: 60_000 };

beforeAll(async () => {
  const endpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  if (!endpoint) throw new Error('Run this in the aws project: it needs the shared DynamoDB Local.');
  const deployment = await deployForSimulation({ dynamoEndpoint: endpoint, overrides: { albPoolSize: 3 } });
  sim = await SimAccount.start({ deployment });
}, 300_000);

afterEach(() => sim?.lambdas.clearCrashes());

afterAll(() => {
  sim?.close();
  resetClock();
});

async function signedIn(users: string[], passwords: Map<string, string>): Promise<Map<string, Browser>> {
  const browsers = new Map<string, Browser>();
  for (const user of users) {
    const browser = sim.browser();
    expect(await signIn(sim, browser, user, passwords.get(user) ?? '')).toBe(200);
    browsers.set(user, browser);
  }
  return browsers;
}

/** Past every timeout the reconcile waits for (start 180 s, stopping 3 x 300 s); one culler run. */
async function reconcileOnce(): Promise<unknown> {
  await quiesce(sim, 20_000);
  travel(30 * 60_000);
  const run = await sim.lambdas.culler();
  await quiesce(sim, 20_000);
  return run;
}

async function everyoneStartsAgain(users: string[], browsers: Map<string, Browser>): Promise<void> {
  const outcomes: StudentOutcome[] = [];
  for (const user of users) {
    const outcome: StudentOutcome = { user, state: 'error' };
    await startAndWait(sim, browsers.get(user) as Browser, outcome, poll);
    if (outcome.url) outcome.ownLab = (await (browsers.get(user) as Browser).get(outcome.url)).status;
    outcomes.push(outcome);
  }
  expect(
    outcomes
      .filter((o) => o.state !== 'ready' || o.ownLab !== 200)
      .map((o) => `${o.user}: ${o.state} ${o.reason}`),
  ).toEqual([]);
}

describe('a handler that crashes between two AWS calls leaves nothing behind', () => {
  it('the portal crashing at each step of a start', async () => {
    const options: ClassOptions = { prefix: 'cp', students: 40, arrivalMs: 0, ...poll };
    const passwords = await enrolClass(sim, options);
    const users = studentNames(options);
    const browsers = await signedIn(users, passwords);
    const crashed: string[] = [];
    let n = 0;
    for (const user of users) {
      const crashesBefore = sim.lambdas.crashes;
      sim.lambdas.crashNext('portal', n);
      const page = await (browsers.get(user) as Browser).post(
        `${sim.portalUrl}/start`,
        {},
        { follow: false },
      );
      // The start made fewer than n calls: every step has been crashed after once.
      if (sim.lambdas.crashes === crashesBefore) {
        expect(page.status, sim.logs.errors.slice(-3).join('\n')).toBe(303);
        break;
      }
      expect(page.status, `crash after ${n} calls`).toBe(502);
      crashed.push(user);
      n += 1;
    }
    expect(crashed.length).toBeGreaterThan(5);
    expect(crashed.length, 'more steps than students').toBeLessThan(users.length);

    const run = await reconcileOnce();
    expect(await findOrphans(sim, users), JSON.stringify(run)).toEqual([]);
    expect(sim.denied).toEqual([]);
    await everyoneStartsAgain(crashed, browsers);
    expect(await findOrphans(sim, users, false)).toEqual([]);
  });

  it('the launcher crashing at each step of a launch', async () => {
    const options: ClassOptions = { prefix: 'cl', students: 40, arrivalMs: 0, ...poll };
    const passwords = await enrolClass(sim, options);
    const users = studentNames(options);
    const browsers = await signedIn(users, passwords);
    // Each crash hits a launch on its first delivery; SQS hands the batch back after the
    // visibility timeout, and that redelivery must finish what the crashed one began.
    const firstDelivery = (event: unknown) =>
      (event as LaunchQueueEvent).Records.every((r) => r.attributes?.ApproximateReceiveCount === '1');
    const crashed: string[] = [];
    let n = 0;
    for (const user of users) {
      const crashesBefore = sim.lambdas.crashes;
      const plannedBefore = crashesBefore + sim.lambdas.missedCrashes;
      sim.lambdas.crashNext('launcher', n, firstDelivery);
      const page = await (browsers.get(user) as Browser).post(
        `${sim.portalUrl}/start`,
        {},
        { follow: false },
      );
      expect(page.status).toBe(303);
      const until = Date.now() + 30_000;
      while (sim.lambdas.crashes + sim.lambdas.missedCrashes === plannedBefore && Date.now() < until)
        await sleep(20);
      // The launch made fewer than n calls: every step has been crashed after once.
      if (sim.lambdas.crashes === crashesBefore) break;
      crashed.push(user);
      n += 1;
    }
    expect(crashed.length).toBeGreaterThan(5);
    expect(crashed.length, 'more steps than students').toBeLessThan(users.length);
    const outcomes = await Promise.all(
      crashed.map((user) =>
        waitForProgress(
          sim,
          browsers.get(user) as Browser,
          { user, state: 'error' },
          { ...poll, readyTimeoutMs: 120_000 },
        ),
      ),
    );
    expect(
      outcomes.filter((o) => o.state !== 'ready').map((o) => `${o.user}: ${o.state} ${o.reason}`),
      sim.logs.errors.slice(-3).join('\n'),
    ).toEqual([]);
    for (const outcome of outcomes)
      expect((await (browsers.get(outcome.user) as Browser).get(outcome.url ?? '')).status).toBe(200);
    expect(sim.sqs.deadLetters).toEqual([]);
    const run = await reconcileOnce();
    expect(await findOrphans(sim, users), JSON.stringify(run)).toEqual([]);
    expect(sim.denied).toEqual([]);
  });

  it('the API crashing at each step of a stop, and the task-event handler at each step of its events', async () => {
    const options: ClassOptions = { prefix: 'cs', students: 30, arrivalMs: 0, ...poll };
    const passwords = await enrolClass(sim, options);
    const users = studentNames(options);
    const browsers = await signedIn(users, passwords);
    // Task events crash too: the first ones at each step, EventBridge retries each twice.
    // A crash after the route was claimed holds that student back for the claim's minute.
    for (let step = 0; step < 12; step++) sim.lambdas.crashNext('task-events', step);
    const outcomes = await Promise.all(
      users.map((user) =>
        startAndWait(
          sim,
          browsers.get(user) as Browser,
          { user, state: 'error' },
          { ...poll, readyTimeoutMs: 150_000 },
        ),
      ),
    );
    expect(
      outcomes.filter((o) => o.state !== 'ready').map((o) => `${o.user}: ${o.state} ${o.reason}`),
      sim.logs.errors.slice(-3).join('\n'),
    ).toEqual([]);
    const stopped: string[] = [];
    let n = 0;
    for (const user of users) {
      const crashesBefore = sim.lambdas.crashes;
      sim.lambdas.crashNext('api', n);
      const answer = await sim.api('DELETE', `/api/v1/users/${user}/server`).catch((error: unknown) => {
        expect(error).toBeInstanceOf(LambdaCrash);
        return undefined;
      });
      stopped.push(user);
      if (sim.lambdas.crashes === crashesBefore) {
        expect([202, 204]).toContain(answer?.status);
        break;
      }
      n += 1;
    }
    expect(n).toBeGreaterThan(2);
    const run = await reconcileOnce();
    expect(await findOrphans(sim, users), JSON.stringify(run)).toEqual([]);
    expect(sim.denied).toEqual([]);
    await everyoneStartsAgain(stopped, browsers);
  });

  it('the culler crashing at each step of a sweep that culls', async () => {
    const options: ClassOptions = { prefix: 'cc', students: 12, arrivalMs: 0, ...poll };
    const passwords = await enrolClass(sim, options);
    const users = studentNames(options);
    const browsers = await signedIn(users, passwords);
    const outcomes = await Promise.all(
      users.map((user) => startAndWait(sim, browsers.get(user) as Browser, { user, state: 'error' }, poll)),
    );
    expect(outcomes.filter((o) => o.state !== 'ready').map((o) => `${o.user}: ${o.reason}`)).toEqual([]);
    for (const user of users) {
      const lab = sim.labOf(user);
      if (lab) lab.active = false;
    }
    travel(2 * 3600_000);
    for (let n = 0; n < 200; n += 7) {
      const crashesBefore = sim.lambdas.crashes;
      sim.lambdas.crashNext('culler', n);
      await sim.lambdas.culler().catch((error: unknown) => expect(error).toBeInstanceOf(LambdaCrash));
      if (sim.lambdas.crashes === crashesBefore) break;
    }
    const run = await reconcileOnce();
    expect(await findOrphans(sim, users), JSON.stringify(run)).toEqual([]);
    expect(
      sim.ecs.liveTasks().filter((task) => users.some((u) => task.startedBy?.startsWith(`${u}_`))),
    ).toEqual([]);
  });
});
