import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AlbSlots, DEFAULT_CAPACITY_PER_ALB } from '../../functions/adapters/aws/alb-slots.ts';
import type { SimAccount } from './account.ts';
import type { Browser } from './browser.ts';
import { travel } from './clock.ts';

/**
 * A class's morning on the simulated account, as its students and its LMS live it:
 * the LMS creates the students through the API; each student signs in through the
 * ALB (Cognito's hosted UI), starts a server on the portal, polls its progress, follows
 * the URL the portal gives, reaches their own lab through the listener rules, and is
 * refused by a classmate's. Shared by the class test and the aws-class benchmark.
 */

export interface StudentOutcome {
  user: string;
  state: 'ready' | 'failed' | 'timeout' | 'error';
  reason?: string;
  /** POST /start to its answer, ms. */
  startMs?: number;
  /** From arrival to ready, ms. */
  readyMs?: number;
  url?: string;
  ownLab?: number;
  neighbourLab?: number;
}

export interface ClassOptions {
  prefix: string;
  students: number;
  /** Students arrive spread evenly over this many ms. */
  arrivalMs: number;
  pollMs: number;
  /** Give up on a student's server after this long. */
  readyTimeoutMs: number;
  group?: string;
}

/** The LMS provisions the class (a course group, no e-mail: hubless returns a password). */
export async function enrolClass(sim: SimAccount, options: ClassOptions): Promise<Map<string, string>> {
  const passwords = new Map<string, string>();
  const names = studentNames(options);
  await inBatches(names, 25, async (user) => {
    const put = await sim.api('PUT', `/api/v1/users/${user}`, { groups: [options.group ?? 'cs101'] });
    const password = (put.body.sign_in as { initial_password?: string } | undefined)?.initial_password;
    if (put.status !== 201 || !password)
      throw new Error(`LMS could not create ${user}: ${put.status} ${JSON.stringify(put.body)}`);
    passwords.set(user, password);
  });
  return passwords;
}

export function studentNames(options: Pick<ClassOptions, 'prefix' | 'students'>): string[] {
  return Array.from(
    { length: options.students },
    (_, i) => `${options.prefix}${String(i + 1).padStart(4, '0')}`,
  );
}

/** Signs in through the portal's ALB; resolves to the portal home page's status. */
export async function signIn(
  sim: SimAccount,
  browser: Browser,
  user: string,
  password: string,
): Promise<number> {
  const login = await browser.get(`${sim.portalUrl}/`);
  if (!login.url.includes('/oauth2/authorize')) return login.status;
  const form = new URL(login.url);
  const home = await browser.post(`${form.origin}/login${form.search}`, { username: user, password });
  if (home.body.includes('class="error"')) throw new Error(`${user} cannot sign in: ${home.body}`);
  return home.status;
}

/** Every student of the class arrives, signs in, starts and waits for ready. */
export async function morning(
  sim: SimAccount,
  options: ClassOptions,
  passwords: Map<string, string>,
): Promise<{
  outcomes: StudentOutcome[];
  browsers: Map<string, Browser>;
  startedAt: number;
  allReadyAt: number;
}> {
  const names = studentNames(options);
  const browsers = new Map<string, Browser>();
  const startedAt = Date.now();
  const outcomes = await Promise.all(
    names.map(async (user, index) => {
      await sleep((options.arrivalMs * index) / Math.max(1, names.length));
      const arrived = Date.now();
      const browser = sim.browser();
      browsers.set(user, browser);
      const outcome: StudentOutcome = { user, state: 'error' };
      try {
        const home = await signIn(sim, browser, user, passwords.get(user) ?? '');
        if (home !== 200) throw new Error(`portal home answered ${home}`);
        await startAndWait(sim, browser, outcome, options, arrived);
        if (outcome.url) outcome.ownLab = (await browser.get(outcome.url)).status;
      } catch (error) {
        outcome.state = 'error';
        outcome.reason = (error as Error).message;
      }
      return outcome;
    }),
  );
  return {
    outcomes,
    browsers,
    startedAt,
    allReadyAt: Math.max(...outcomes.map((o) => (o.readyMs ?? 0) + startedAt)),
  };
}

/** POST /start on the portal, then its progress until ready, failed or `readyTimeoutMs`. */
export async function startAndWait(
  sim: SimAccount,
  browser: Browser,
  outcome: StudentOutcome,
  options: Pick<ClassOptions, 'pollMs' | 'readyTimeoutMs'>,
  /** readyMs counts from here (the student's arrival). */
  arrived = Date.now(),
): Promise<StudentOutcome> {
  const t0 = performance.now();
  const started = await browser.post(`${sim.portalUrl}/start`, {}, { follow: false });
  outcome.startMs = performance.now() - t0;
  // A refused start shows an error page; the session (if one was made) then says why on /progress.
  if (started.status !== 303)
    outcome.reason = `POST /start answered ${started.status}: ${pageMessage(started.body)}`;
  return waitForProgress(sim, browser, outcome, options, arrived);
}

/** The portal's progress of the student's server, polled until ready, failed or `readyTimeoutMs`. */
export async function waitForProgress(
  sim: SimAccount,
  browser: Browser,
  outcome: StudentOutcome,
  options: Pick<ClassOptions, 'pollMs' | 'readyTimeoutMs'>,
  arrived = Date.now(),
): Promise<StudentOutcome> {
  const until = Date.now() + options.readyTimeoutMs;
  for (;;) {
    const poll = await browser.get(`${sim.portalUrl}/progress`, { accept: 'application/json' });
    // The progress page tries again after a failed poll (views.ts); so does the student here.
    if (poll.status >= 500 && Date.now() <= until) {
      await sleep(options.pollMs * 2);
      continue;
    }
    if (poll.status === 404 && outcome.reason) {
      outcome.state = 'failed';
      break;
    }
    const progress = JSON.parse(poll.body) as {
      state?: string;
      ready?: boolean;
      failed?: boolean;
      url?: string;
      message?: string;
      error?: { message: string };
    };
    if (progress.ready && progress.url) {
      outcome.state = 'ready';
      outcome.url = progress.url;
      outcome.readyMs = Date.now() - arrived;
      break;
    }
    if (progress.failed || progress.error) {
      outcome.state = 'failed';
      outcome.reason = progress.message ?? progress.error?.message;
      break;
    }
    if (Date.now() > until) {
      outcome.state = 'timeout';
      outcome.reason = `still ${progress.state}: ${progress.message}`;
      break;
    }
    await sleep(options.pollMs);
  }
  return outcome;
}

/** Each ready student tries the next ready student's lab URL: the rule matches, the lab refuses. */
export async function visitNeighbours(
  outcomes: StudentOutcome[],
  browsers: Map<string, Browser>,
): Promise<void> {
  const ready = outcomes.filter((o) => o.state === 'ready' && o.url);
  await inBatches(ready, 50, async (outcome) => {
    const index = ready.indexOf(outcome);
    const neighbour = ready[(index + 1) % ready.length];
    if (!neighbour?.url || neighbour === outcome) return;
    outcome.neighbourLab = (await (browsers.get(outcome.user) as Browser).get(neighbour.url)).status;
  });
}

/** Noon: `idle` students' labs report no activity since they started; the clock moves on two hours; the culler runs. */
export async function noonCull(sim: SimAccount, idle: string[]): Promise<unknown> {
  for (const user of idle) {
    const lab = sim.labOf(user);
    if (lab) lab.active = false;
  }
  travel(2 * 3600_000);
  return sim.lambdas.culler();
}

/** The LMS stops every server still up. */
export async function lmsStopAll(sim: SimAccount, users: string[]): Promise<number[]> {
  const statuses: number[] = [];
  await inBatches(users, 25, async (user) => {
    statuses.push((await sim.api('DELETE', `/api/v1/users/${user}/server`)).status);
  });
  return statuses;
}

/** Waits until no task is left running and every task event has been handled. */
export async function quiesce(sim: SimAccount, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && (sim.ecs.liveTasks().length > 0 || sim.events.pending > 0)) await sleep(100);
  await sim.eventsSettled(timeoutMs);
}

/** ALB slots still claimed in the session table (each one a session's place on a balancer). */
export async function claimedSlots(sim: SimAccount): Promise<number> {
  const env = sim.deployment.env;
  const client = new DynamoDBClient({
    region: sim.deployment.region,
    endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
  });
  const doc = DynamoDBDocumentClient.from(client);
  const slots = new AlbSlots({
    doc,
    tableName: env.HUBLESS_TABLE_NAME ?? '',
    capacityPerAlb: Number(env.HUBLESS_ALB_CAPACITY ?? DEFAULT_CAPACITY_PER_ALB),
  });
  let count = 0;
  for (const balancer of sim.elb.balancers) count += (await slots.list(balancer.listenerArn)).length;
  client.destroy();
  return count;
}

export async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

/** The message of a hubless error page (its first paragraph). */
function pageMessage(body: string): string {
  return /role="alert"><p>([^<]+)<\/p>/.exec(body)?.[1]?.trim() ?? body.slice(0, 200);
}

/** What can go wrong in an AWS account at 9:00, all at once. */
export function injectFaults(sim: SimAccount): void {
  sim.faults.throttle = 0.08;
  sim.faults.throttleServices = new Set([
    'ecs',
    'elasticloadbalancingv2',
    'elasticfilesystem',
    'cognito-idp',
    'sqs',
  ]);
  // SQS delivers at least once: some launches arrive twice, at once or later.
  sim.faults.duplicateLaunch = 0.15;
  sim.faults.loseEvent = 0.1;
  sim.faults.duplicateEvent = 0.15;
  sim.faults.reorderEventMs = 3000;
  sim.ecs.faults.runTaskFailure = 0.1;
  sim.ecs.faults.runTaskFailureReasons = ['RESOURCE:ENI', 'Capacity is unavailable at this time'];
  // The handlers AWS retries on its own die between two AWS calls now and then: a launch
  // comes back from SQS, a task event from EventBridge, a sweep at the next schedule.
  // (Crashes of the portal and API, which answer a person, are crashed at each step in
  // crash-recovery.test.ts.)
  sim.lambdas.crashRandomly(0.05, 12, ['launcher', 'task-events', 'culler']);
}

export function clearFaults(sim: SimAccount): void {
  sim.lambdas.clearCrashes();
  sim.faults.throttle = 0;
  sim.faults.duplicateLaunch = 0;
  sim.faults.loseEvent = 0;
  sim.faults.duplicateEvent = 0;
  sim.faults.reorderEventMs = 0;
  sim.ecs.faults.runTaskFailure = 0;
}

/** Each user's server as the LMS API reports it: state and reason, or 'none'. */
export async function serverStates(
  sim: SimAccount,
  users: string[],
): Promise<Map<string, { state: string; reason?: string }>> {
  const states = new Map<string, { state: string; reason?: string }>();
  await inBatches(users, 25, async (user) => {
    const got = await sim.api('GET', `/api/v1/users/${user}/server`);
    const body = got.body as {
      state?: string;
      reason?: { message?: string } | string;
      stop_reason?: unknown;
    };
    states.set(
      user,
      got.status === 404
        ? { state: 'none' }
        : { state: String(body.state), reason: JSON.stringify(body.reason ?? body.stop_reason ?? '') },
    );
  });
  return states;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
