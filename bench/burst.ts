/**
 * Benchmark 2: a class starts at once.
 *
 * Part A, real servers: BURST_USERS (default 20) users ask for their server at the same
 * moment through the JupyterHub REST API (the same client code for both systems; hubless
 * answers it with an LMS token through the gateway), each then polling GET
 * /hub/api/users/<name> every 250 ms like a progress page. Reported: time until all are
 * ready, and each user's own spawn time.
 *
 * Part B, scale: LARGE_USERS (default 300) users against local mode with a compute that
 * waits like Fargate (see lib/fargate-like.ts): every user's LMS sends POST
 * /api/v1/users/{user}/server twice at the same moment (a double click), with a machine
 * client token. Reported: starts per second, API latency p50/p99, errors (must be 0) and
 * servers per user (must be exactly 1). Run twice in one go: with the launch queue (how
 * hubless starts), and with the launch inside the start request (before the queue), the
 * anchor the start API's latency is compared with.
 *
 * Run alone: `node bench/burst.ts [--users 20] [--large-users 300] [--skip-real]`.
 */
import { parseArgs } from 'node:util';
import {
  type BenchResult,
  intOption,
  median,
  ms,
  percentile,
  progress,
  ratio,
  round,
  runMain,
  sleep,
} from './lib/common.ts';
import { FargateLikeCompute, startFakeLab } from './lib/fargate-like.ts';
import { createHubUsers, type HubApi, requestStart, stopAndWait, waitUntilReady } from './lib/hub-api.ts';
import { startHubless } from './lib/hubless.ts';
import { jupyterHubAvailable, startJupyterHub } from './lib/jupyterhub.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string' },
    'large-users': { type: 'string' },
    'skip-real': { type: 'boolean', default: false },
  },
});
const BENCH = 'burst';
const USERS = intOption(values.users, 'BENCH_BURST_USERS', 20);
const LARGE_USERS = intOption(values['large-users'], 'BENCH_LARGE_USERS', 300);
const FARGATE_BURST = intOption(undefined, 'BENCH_FARGATE_BURST', 100);
const FARGATE_RATE = intOption(undefined, 'BENCH_FARGATE_RATE', 20);
const REQUESTS_PER_USER = intOption(undefined, 'BENCH_REQUESTS_PER_USER', 2);
const POLL_MS = 250;
const LARGE_POLL_MS = intOption(undefined, 'BENCH_LARGE_POLL_MS', 2000);

interface ClassStart {
  allReadyMs: number;
  perUser: { median: number; p90: number };
}

/** Every user asks at once; resolves when all are ready. */
async function classStart(api: HubApi, names: string[]): Promise<ClassStart> {
  const started = performance.now();
  const perUser = await Promise.all(
    names.map(async (name) => {
      const status = await requestStart(api, name);
      if (status !== 201) await waitUntilReady(api, name, POLL_MS, 300_000);
      return performance.now() - started;
    }),
  );
  const allReadyMs = performance.now() - started;
  // Stop them a few at a time: a 2-core machine stopping 20 servers at once is not the subject.
  for (let i = 0; i < names.length; i += 5)
    await Promise.all(names.slice(i, i + 5).map((name) => stopAndWait(api, name, 120_000)));
  return {
    allReadyMs: round(allReadyMs),
    perUser: { median: round(median(perUser)), p90: round(percentile(perUser, 90)) },
  };
}

async function realBurst(): Promise<{ hubless: ClassStart; jupyterHub?: ClassStart }> {
  const names = Array.from({ length: USERS }, (_, i) => `class${String(i + 1).padStart(2, '0')}`);
  progress(BENCH, `hubless: ${USERS} real servers at once`);
  const local = await startHubless();
  let hubless: ClassStart;
  try {
    for (const name of names) await local.runtime.directory.upsert({ name });
    hubless = await classStart(
      { base: local.url, authorization: async () => `Bearer ${await local.token()}` },
      names,
    );
  } finally {
    await local.stop();
  }
  if (!jupyterHubAvailable()) return { hubless };
  progress(BENCH, `JupyterHub: ${USERS} real servers at once`);
  const hub = await startJupyterHub();
  try {
    const api: HubApi = { base: hub.url, authorization: async () => `token ${hub.token}` };
    await createHubUsers(api, names);
    return { hubless, jupyterHub: await classStart(api, names) };
  } finally {
    await hub.stop();
  }
}

/**
 * How a start gets its server launched: `queued` (hubless today: the start records the
 * session and answers, an in-process launch queue launches) or `in-request` (the anchor:
 * the launch inside the start request, as hubless did before the queue).
 */
type LaunchMode = 'queued' | 'in-request';

async function largeBurst(mode: LaunchMode) {
  progress(BENCH, `hubless: ${LARGE_USERS} users against a Fargate-like compute, launch ${mode}`);
  const lab = await startFakeLab();
  let compute: FargateLikeCompute | undefined;
  const local = await startHubless(
    { HUBLESS_MAX_SERVERS: String(LARGE_USERS * 2), HUBLESS_START_TIMEOUT_SECONDS: '600' },
    {
      launchInRequest: mode === 'in-request',
      compute: (onEvent) => {
        compute = new FargateLikeCompute({
          burst: FARGATE_BURST,
          ratePerSecond: FARGATE_RATE,
          startMs: [300, 600],
          target: { host: '127.0.0.1', port: lab.port },
          onEvent,
        });
        return compute;
      },
    },
  );
  try {
    const names = Array.from({ length: LARGE_USERS }, (_, i) => `student${String(i + 1).padStart(3, '0')}`);
    for (const name of names) await local.runtime.directory.upsert({ name });
    const token = await local.token();
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    let networkErrors = 0;
    const post = async (name: string) => {
      const sent = performance.now();
      try {
        const response = await fetch(`${local.url}/api/v1/users/${name}/server`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: '{}',
        });
        await response.body?.cancel();
        latencies.push(performance.now() - sent);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      } catch {
        networkErrors++;
      }
    };
    const readyBefore = local.events.filter((e) => e.type === 'ready').length;
    const seenReady: number[] = [];
    let pollErrors = 0;
    // Like a progress page, each user's client polls its server until it is ready; a GET
    // also moves a session forward whose task event arrived too early (see the report).
    const watch = async (name: string) => {
      const deadline = performance.now() + 300_000;
      while (performance.now() < deadline) {
        await sleep(LARGE_POLL_MS);
        try {
          const response = await fetch(`${local.url}/api/v1/users/${name}/server`, {
            headers: { authorization: `Bearer ${token}` },
          });
          const body = (await response.json()) as { state?: string };
          if (body.state === 'ready') {
            seenReady.push(performance.now() - started);
            return;
          }
          if (body.state === 'failed' || body.state === 'stopped') return;
        } catch {
          pollErrors++;
        }
      }
    };
    const started = performance.now();
    await Promise.all(
      names.map(async (name) => {
        await Promise.all(Array.from({ length: REQUESTS_PER_USER }, () => post(name)));
        await watch(name);
      }),
    );
    const requestsDoneMs = Math.max(...latencies);
    // One ready per session: two writers racing to ready may both publish it (see the report).
    const allReady = local.events.filter((e) => e.type === 'ready').slice(readyBefore);
    const ready = [...new Map(allReady.toReversed().map((e) => [e.sessionId, e] as const)).values()];
    const readyPerSession = allReady.length;
    const allReadyMs = seenReady.length === LARGE_USERS ? Math.max(...seenReady) : Number.NaN;
    const serverReadyMs =
      ready.length === LARGE_USERS ? Math.max(...ready.map((e) => e.at)) - started : Number.NaN;
    const failedEvents = local.events.filter((e) => e.type === 'fail').length;
    const perUser = [...compute!.startsByUser().values()];
    const errors =
      networkErrors +
      pollErrors +
      [...statuses].filter(([status]) => status >= 400).reduce((sum, [, count]) => sum + count, 0) +
      failedEvents;
    const waits = compute!.throttleWaits;
    return {
      mode,
      users: LARGE_USERS,
      requestsPerUser: REQUESTS_PER_USER,
      fargate: { burst: FARGATE_BURST, ratePerSecond: FARGATE_RATE, startMs: [300, 600] },
      allReadyMs: round(allReadyMs),
      requestsDoneMs: round(requestsDoneMs),
      serverReadyMs: round(serverReadyMs),
      startsPerSecond: round((ready.length / serverReadyMs) * 1000, 1),
      api: {
        p50: round(median(latencies)),
        p99: round(percentile(latencies, 99)),
        requests: latencies.length,
      },
      throttleWait: {
        p50: round(median(waits)),
        p99: round(percentile(waits, 99)),
        max: round(Math.max(...waits)),
      },
      statuses: Object.fromEntries(statuses),
      errors,
      ready: ready.length,
      readyEventsPublished: readyPerSession,
      seenReady: seenReady.length,
      serversPerUser: {
        min: Math.min(...perUser),
        max: Math.max(...perUser),
        usersWithServer: perUser.length,
      },
      // The floor set by the launch rate alone: the last launch cannot be sooner than this.
      launchRateFloorMs: round((Math.max(0, LARGE_USERS - FARGATE_BURST) / FARGATE_RATE) * 1000),
    };
  } finally {
    compute?.dispose();
    await local.stop();
    await lab.close();
  }
}

runMain(BENCH, async (): Promise<BenchResult> => {
  const real = values['skip-real'] ? undefined : await realBurst();
  // Both in one run, on the same machine: the launch inside the request (before the queue) is the anchor.
  const inRequest = await largeBurst('in-request');
  const large = await largeBurst('queued');
  const tables: BenchResult['tables'] = [];
  if (real) {
    const rows: BenchResult['tables'][number]['rows'] = [
      [
        'hubless',
        ms(real.hubless.allReadyMs),
        ms(real.hubless.perUser.median),
        ms(real.hubless.perUser.p90),
        ratio(real.hubless.allReadyMs, real.jupyterHub?.allReadyMs),
      ],
    ];
    if (real.jupyterHub)
      rows.push([
        'JupyterHub',
        ms(real.jupyterHub.allReadyMs),
        ms(real.jupyterHub.perUser.median),
        ms(real.jupyterHub.perUser.p90),
        '1.00x',
      ]);
    tables.push({
      title: `Class-start burst: ${USERS} real servers requested at the same moment`,
      columns: ['system', 'all ready', 'per user median', 'per user p90', 'all ready vs JupyterHub'],
      rows,
      notes: [
        `Both driven through the JupyterHub REST API by the same client; each user polls every ${POLL_MS} ms. Real jupyter-server processes on this machine.`,
      ],
    });
  }
  const perUser =
    large.serversPerUser.min === 1 &&
    large.serversPerUser.max === 1 &&
    large.serversPerUser.usersWithServer === large.users
      ? 'exactly 1'
      : `${large.serversPerUser.min}-${large.serversPerUser.max} (${large.serversPerUser.usersWithServer} users)`;
  tables.push({
    title: `Class-start burst at scale: ${large.users} users, Fargate-like compute`,
    columns: [
      'all ready (server)',
      'all seen ready (clients)',
      'starts/s',
      'start API p50',
      'start API p99',
      'launch-rate wait p99',
      'errors',
      'servers per user',
    ],
    rows: [
      [
        ms(large.serverReadyMs),
        ms(large.allReadyMs),
        large.startsPerSecond,
        ms(large.api.p50),
        ms(large.api.p99),
        ms(large.throttleWait.p99),
        large.errors,
        perUser,
      ],
    ],
    notes: [
      `Each of ${large.users} users sends POST /api/v1/users/{user}/server ${large.requestsPerUser} times at once (LMS machine token, through the gateway; ${large.api.requests} requests), then polls GET /api/v1/users/{user}/server every ${LARGE_POLL_MS} ms until ready. starts/s = users / time until the last server was ready.`,
      `Compute: tasks run 300-600 ms after launch (Fargate's 30-60 s / 100); launches limited like Fargate's (burst ${large.fargate.burst}, then ${large.fargate.ratePerSecond}/s, unscaled), so the last launch cannot come before ${ms(large.launchRateFloorMs)}. A launch waits for its launch slot as EcsCompute's throttling retries do (launch-rate wait).`,
    ],
  });
  tables.push({
    title: `Start API latency, ${large.users} users at once: launch queue vs launch inside the request (same run)`,
    columns: [
      'launch',
      'start API p50',
      'start API p99',
      'p99 vs in-request',
      'all ready (server)',
      'errors',
      'servers per user',
    ],
    rows: [inRequest, large].map((run) => [
      run.mode === 'queued' ? 'queued (in-process launch queue)' : 'inside the request (before)',
      ms(run.api.p50),
      ms(run.api.p99),
      ratio(run.api.p99, inRequest.api.p99),
      ms(run.serverReadyMs),
      run.errors,
      run.serversPerUser.min === 1 &&
      run.serversPerUser.max === 1 &&
      run.serversPerUser.usersWithServer === run.users
        ? 'exactly 1'
        : `${run.serversPerUser.min}-${run.serversPerUser.max}`,
    ]),
    notes: [
      'Inside the request, each start waited for its launch slot (Fargate-like rate) before answering; queued, the start records the session and answers, and the launch waits in the queue. Time until all are ready is bounded by the launch rate either way.',
    ],
  });
  return { bench: BENCH, data: { real, large, inRequest }, tables };
});
