import '../support/aws-calls/checked.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sessionsPerAlb } from '../../functions/adapters/aws/alb-slots.ts';
import { SimAccount } from '../aws-sim/account.ts';
import {
  type ClassOptions,
  claimedSlots,
  clearFaults,
  enrolClass,
  injectFaults,
  lmsStopAll,
  morning,
  noonCull,
  quiesce,
  serverStates,
  signIn,
  studentNames,
  visitNeighbours,
} from '../aws-sim/class-run.ts';
import { resetClock, travel } from '../aws-sim/clock.ts';
import { deployForSimulation } from '../aws-sim/deploy.ts';
import { findOrphans } from '../aws-sim/orphans.ts';
import { TEST_DYNAMODB_ENDPOINT_VARIABLE } from '../support/dynamodb.ts';

/**
 * A whole class on AWS mode, end to end, in a simulated account (test/aws-sim): the
 * portal, API, task-event and culler Lambdas run from their real entry points with the
 * real wiring on a pool of (at least 3) load balancers; only AWS's side is simulated, and every
 * call is checked against the synthesized policy of the function that makes it.
 */
// The class: 250 students at once (HUBLESS_SIM_CLASS_SIZE runs another size).
const CLASS_SIZE = Number(process.env.HUBLESS_SIM_CLASS_SIZE ?? 250);
/**
 * A pool of 3 balancers, as a school would deploy for 250: at AWS's default quota of 100
 * listener rules per ALB, 3 hold 3 x 49 = 147 sessions, so this deployment is configured
 * with `albRulesQuota: 191` (95 per ALB, 285 in all), which an operator sets once AWS
 * has raised the account's "Rules per Application Load Balancer" quota; the simulated
 * account grants the quota the deployment is configured with (deploy.ts). A larger
 * class gets more balancers.
 */
const RULES_QUOTA = 191;
const PER_ALB = sessionsPerAlb(RULES_QUOTA);
const POOL_SIZE = Math.max(3, Math.ceil(CLASS_SIZE / PER_ALB));

let sim: SimAccount;

beforeAll(async () => {
  const endpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  if (!endpoint) throw new Error('Run this in the aws project: it needs the shared DynamoDB Local.');
  const deployment = await deployForSimulation({
    dynamoEndpoint: endpoint,
    overrides: { albPoolSize: POOL_SIZE, albRulesQuota: RULES_QUOTA },
  });
  sim = await SimAccount.start({ deployment });
}, 300_000);

afterAll(() => {
  sim?.close();
  resetClock();
});

describe('a class of students on a pool of load balancers', () => {
  const options: ClassOptions = {
    prefix: 'cs',
    students: CLASS_SIZE,
    arrivalMs: 5_000,
    pollMs: 1_000,
    readyTimeoutMs: 90_000,
  };

  it('signs in, starts, reaches their own lab and no one else’s; the culler and the LMS stop them; nothing leaks', async () => {
    const passwords = await enrolClass(sim, options);
    expect(passwords.size).toBe(CLASS_SIZE);
    const { outcomes, browsers } = await morning(sim, options, passwords);
    console.info(
      '[class] outcomes',
      JSON.stringify(outcomes.map((o) => [o.user, o.state, Math.round(o.startMs ?? 0), o.readyMs])),
      'iamMs',
      Math.round(sim.iamMs),
      'shapes',
      sim.iamShapes,
    );
    const notReady = outcomes.filter((o) => o.state !== 'ready');
    expect(
      notReady,
      `${JSON.stringify(notReady.slice(0, 5))}\n${sim.logs.errors.slice(-5).join('\n')}`,
    ).toEqual([]);
    // Every pool host carries sessions: the URL the portal gives is on the session's balancer.
    const hosts = new Set(outcomes.map((o) => new URL(o.url ?? '').hostname));
    expect(hosts.size).toBe(Math.min(POOL_SIZE, Math.ceil(CLASS_SIZE / PER_ALB)));
    expect(outcomes.filter((o) => o.ownLab !== 200)).toEqual([]);
    await visitNeighbours(outcomes, browsers);
    expect(outcomes.filter((o) => o.neighbourLab !== 403).map((o) => `${o.user}: ${o.neighbourLab}`)).toEqual(
      [],
    );

    const idle = outcomes.filter((_, i) => i % 2 === 0).map((o) => o.user);
    const active = outcomes.filter((_, i) => i % 2 === 1).map((o) => o.user);
    let cull = (await noonCull(sim, idle)) as { culled?: { idle?: number } };
    let culled = cull.culled?.idle ?? 0;
    // A lab that misses a probe (a loaded machine) is culled on the next run, five minutes later.
    for (let run = 0; run < 3 && culled < idle.length; run++) {
      travel(5 * 60_000);
      cull = (await sim.lambdas.culler()) as { culled?: { idle?: number } };
      culled += cull.culled?.idle ?? 0;
    }
    expect(culled, JSON.stringify(cull)).toBe(idle.length);
    await quiesce(sim, 5_000);
    expect(sim.ecs.liveTasks().length).toBe(active.length);

    const stops = await lmsStopAll(sim, active);
    expect(stops.filter((s) => s !== 202 && s !== 204)).toEqual([]);
    await quiesce(sim, 30_000);
    console.info(
      '[class] calls',
      JSON.stringify(Object.fromEntries(sim.calls)),
      'iamMs',
      Math.round(sim.iamMs),
      'events',
      JSON.stringify(sim.events),
    );

    expect(sim.leftovers()).toEqual({
      tasks: 0,
      rules: 0,
      targetGroups: 0,
      // One home per student, kept by design.
      accessPoints: CLASS_SIZE,
      labs: 0,
    });
    expect(await claimedSlots(sim)).toBe(0);
    expect(sim.denied).toEqual([]);
  });

  it('with faults (throttling, RunTask failures, lost, duplicated and late events, crashed launcher, task-event and culler invocations, Spot interruptions): every student ends ready or with a reason, and one reconcile leaves no orphans', async () => {
    const faulty: ClassOptions = {
      ...options,
      prefix: 'ft',
      students: Math.max(10, Math.round(CLASS_SIZE / 2)),
      // A task-event invocation that crashed after claiming the route holds that student's
      // connect back until the claim's one-minute lease runs out (by design: the claim keeps
      // two writers from both taking an ALB slot); with launch retries on top, more than 90 s.
      readyTimeoutMs: 150_000,
    };
    const passwords = await enrolClass(sim, faulty);
    injectFaults(sim);
    const { outcomes } = await morning(sim, faulty, passwords);
    console.info(
      '[faults] outcomes',
      JSON.stringify(outcomes.map((o) => [o.user, o.state, o.reason])),
      'events',
      JSON.stringify(sim.events),
      'crashes',
      sim.lambdas.crashes,
    );
    expect(sim.lambdas.crashes, 'handlers crashed during the morning').toBeGreaterThan(0);
    const unclear = outcomes.filter(
      (o) =>
        !(o.state === 'ready' || (o.state === 'failed' && o.reason && !/internal error/i.test(o.reason))),
    );
    expect(
      unclear,
      `${JSON.stringify(unclear.slice(0, 5))}\n${sim.logs.errors.slice(-5).join('\n')}`,
    ).toEqual([]);
    expect(outcomes.filter((o) => o.state === 'ready').length).toBeGreaterThan(0);
    const ready = outcomes.filter((o) => o.state === 'ready');
    expect(ready.filter((o) => o.ownLab !== 200).map((o) => `${o.user}: ${o.ownLab}`)).toEqual([]);
    // Spot takes two servers back; their owners learn why.
    expect(sim.interruptSpot(2)).toBe(2);
    const stops = await lmsStopAll(
      sim,
      ready.map((o) => o.user),
    );
    expect(stops.filter((s) => ![202, 204, 404, 409].includes(s))).toEqual([]);
    await quiesce(sim, 20_000);
    clearFaults(sim);
    // Lost STOPPED events leave sessions "stopping": one reconcile, once their stop is overdue, ends them.
    travel(30 * 60_000);
    const run = (await sim.lambdas.culler()) as { reconciled?: Record<string, number> };
    console.info('[faults] reconcile', JSON.stringify(run));
    await quiesce(sim, 20_000);
    const states = await serverStates(
      sim,
      outcomes.map((o) => o.user),
    );
    const live = [...states].filter(([, s]) => !['stopped', 'failed', 'none'].includes(s.state));
    expect(live.map(([user, s]) => `${user}: ${s.state}`)).toEqual([]);
    expect(sim.leftovers()).toMatchObject({ tasks: 0, rules: 0, targetGroups: 0, labs: 0 });
    expect(await claimedSlots(sim)).toBe(0);
    expect(await findOrphans(sim, studentNames(faulty))).toEqual([]);
    expect(sim.denied).toEqual([]);
  });

  it('a user whose password was never set (FORCE_CHANGE_PASSWORD) cannot sign in until they change it', async () => {
    const created = await sim.api('PUT', '/api/v1/users/invited1', {
      email: 'invited1@example.edu',
      groups: ['cs101'],
    });
    expect(created.status).toBe(201);
    const temporary = sim.cognito.invitations.get('invited1') ?? '';
    const browser = sim.browser();
    await expect(signIn(sim, browser, 'invited1', temporary)).rejects.toThrow(/NEW_PASSWORD_REQUIRED/);
  });
});
