/**
 * jupyterhub-idle-culler against local mode, for as long as you like (default 32 min).
 *
 * Local mode starts as `npm start` does (gateway, DynamoDB Local, the /hub/api handler,
 * a temp data dir), except its compute: hundreds of real Jupyter servers do not fit a
 * 2-core machine, so each "lab" is the Fargate-like fake of lib/fargate-like.ts (a task
 * accepted at a launch rate, RUNNING after a short delay, served by one tiny HTTP server
 * that answers 200). The API, the session store, routing and every stop are real.
 * hubless's own culler is switched off (its timer set to a day) so that the external
 * culler alone decides.
 *
 * The culler is the real jupyterhub-idle-culler, run from a checkout you name
 * (--culler-dir, never part of this repository) with the machine's Python
 * (needs tornado, python-dateutil, traitlets, packaging), given a service token made
 * with `--culls`, paging with a small --api-page-size.
 *
 * Users (default 260) fall in groups, each with its own expected fate:
 *   active    report activity every minute, as a lab's activity hook does: never culled
 *   fading    active for the first `--fade-minutes`, then silent: culled once idle
 *   idle      never report: culled after the timeout
 *   returning idle ones that come back (start again and stay active) mid-run: culled
 *             once, never again
 * and 15 active users also run an active named server "project", 15 others an idle
 * named server "scratch" beside their active default one (only "scratch" is culled).
 *
 * The run checks, from the sessions and events hubless recorded: every cull hit a
 * server idle for at least the timeout, no server stayed idle past the timeout plus
 * two cull intervals, and every cull was recorded as an idle cull by the culler service.
 * The culler's log goes to --log (default bench/results/idle-culler-soak.log).
 *
 *   node bench/hub-culler-soak.ts --culler-dir /path/to/jupyterhub-idle-culler \
 *     [--users 260] [--minutes 32] [--timeout 300] [--cull-every 60] [--page-size 5]
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FileServiceTokenStore } from '../functions/adapters/local/service-tokens.ts';
import { createServiceToken } from '../functions/core/api/service-tokens.ts';
import type { Session } from '../functions/core/session.ts';
import {
  type BenchResult,
  intOption,
  OwnedProcess,
  progress,
  REPO_ROOT,
  round,
  runMain,
  sleep,
} from './lib/common.ts';
import { FargateLikeCompute, startFakeLab } from './lib/fargate-like.ts';
import { startHubless } from './lib/hubless.ts';

const BENCH = 'hub-culler-soak';
const { values } = parseArgs({
  options: {
    'culler-dir': { type: 'string' },
    users: { type: 'string' },
    minutes: { type: 'string' },
    timeout: { type: 'string' },
    'cull-every': { type: 'string' },
    'page-size': { type: 'string' },
    'fade-minutes': { type: 'string' },
    log: { type: 'string' },
  },
});
const CULLER_DIR = values['culler-dir'] ?? process.env.HUBLESS_IDLE_CULLER_DIR;
const USERS = intOption(values.users, 'SOAK_USERS', 260);
const MINUTES = intOption(values.minutes, 'SOAK_MINUTES', 32);
const TIMEOUT = intOption(values.timeout, 'SOAK_TIMEOUT', 300);
const CULL_EVERY = intOption(values['cull-every'], 'SOAK_CULL_EVERY', 60);
const PAGE_SIZE = intOption(values['page-size'], 'SOAK_PAGE_SIZE', 5);
const FADE_MINUTES = intOption(values['fade-minutes'], 'SOAK_FADE_MINUTES', 8);
const LOG = resolve(values.log ?? `${REPO_ROOT}bench/results/idle-culler-soak.log`);
/** How often a lab reports activity (jupyterhub-singleuser: every 5 min; here well inside the timeout). */
const ACTIVITY_EVERY_MS = Math.min(60, TIMEOUT / 3) * 1000;

type Group = 'active' | 'fading' | 'idle' | 'returning';
interface Server {
  user: string;
  server: string;
  group: Group;
}

function plan(): Server[] {
  const servers: Server[] = [];
  for (let i = 1; i <= USERS; i++) {
    const user = `u${String(i).padStart(3, '0')}`;
    const slot = i % 10;
    const group: Group = slot < 4 ? 'active' : slot < 6 ? 'fading' : slot < 8 ? 'idle' : 'returning';
    servers.push({ user, server: '', group });
  }
  const active = servers.filter((s) => s.group === 'active');
  for (const s of active.slice(0, 15)) servers.push({ user: s.user, server: 'project', group: 'active' });
  for (const s of active.slice(15, 30)) servers.push({ user: s.user, server: 'scratch', group: 'idle' });
  return servers;
}

async function main(): Promise<BenchResult> {
  if (!CULLER_DIR)
    throw new Error(
      'Name a jupyterhub-idle-culler checkout with --culler-dir (or HUBLESS_IDLE_CULLER_DIR); it is not part of hubless.',
    );
  const lab = await startFakeLab();
  const hublessLog: string[] = [];
  const hubless = await startHubless(
    {
      // hubless's own culler stays out of the way: the external culler alone decides.
      HUBLESS_CULL_EVERY_SECONDS: '86400',
      HUBLESS_IDLE_TIMEOUT_SECONDS: '86400',
      HUBLESS_MAX_SERVERS: String(USERS * 2),
      HUBLESS_NAMED_SERVER_LIMIT: '2',
    },
    {
      // hubless's own warnings and errors go to the soak's log, after the culler's lines.
      log: (level, message, fields) => {
        if (level !== 'info')
          hublessLog.push(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }));
      },
      compute: (onEvent) =>
        new FargateLikeCompute({
          burst: 100,
          ratePerSecond: 20,
          startMs: [300, 1500],
          target: { host: '127.0.0.1', port: lab.port },
          onEvent,
        }),
    },
  );
  const { runtime, url, dataDir } = hubless;
  const store = runtime.deps.store;
  const tokens = new FileServiceTokenStore({ dataDir });
  const now = () => new Date();
  const make = async (name: string, scopes: string[], culls = false) =>
    (await createServiceToken(tokens, { name, scopes, culls, createdBy: 'soak' }, now())).token;
  const cullerToken = await make(
    'idle-culler',
    ['list:users', 'read:users:activity', 'read:servers', 'delete:servers'],
    true,
  );
  const activityToken = await make('activity', ['users:activity']);
  const starterToken = await make('starter', ['servers', 'read:servers', 'list:users']);
  const hub = async (token: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/hub/api${path}`, {
      method,
      headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 500)
      hublessLog.push(`${new Date().toISOString()} ${method} ${path} -> ${response.status} ${text}`);
    return response.status;
  };
  const serverPath = (s: Server) =>
    s.server ? `/users/${s.user}/servers/${s.server}` : `/users/${s.user}/server`;
  const key = (s: { user: string; server: string }) => `${s.user}/${s.server}`;

  const servers = plan();
  progress(BENCH, `${USERS} users, ${servers.length} servers; starting them`);
  for (const s of servers.filter((s) => !s.server)) await runtime.directory.upsert({ name: s.user });
  const startAll = async (list: Server[]) => {
    for (let i = 0; i < list.length; i += 20)
      await Promise.all(
        list.slice(i, i + 20).map(async (s) => {
          const status = await hub(starterToken, 'POST', serverPath(s));
          if (status !== 201 && status !== 202) throw new Error(`start ${key(s)}: ${status}`);
        }),
      );
    for (;;) {
      const states = await Promise.all(list.map((s) => store.get(s.user, s.server)));
      const waiting = states.filter((s) => s?.state !== 'ready').length;
      if (waiting === 0) return;
      // The progress read moves a start forward, as a browser's progress page would.
      await Promise.all(
        list.map((s, i) =>
          states[i]?.state === 'ready' ? undefined : hub(starterToken, 'GET', `${serverPath(s)}/progress`),
        ),
      );
      await sleep(500);
    }
  };
  const setupStarted = performance.now();
  await startAll(servers);
  progress(
    BENCH,
    `all ${servers.length} servers ready in ${round((performance.now() - setupStarted) / 1000)} s`,
  );

  mkdirSync(dirname(LOG), { recursive: true });
  const log = createWriteStream(LOG);
  const started = Date.now();
  log.write(
    `# jupyterhub-idle-culler against hubless local mode (fake labs), ${new Date(started).toISOString()}\n` +
      `# users ${USERS}, servers ${servers.length}, --timeout=${TIMEOUT} --cull-every=${CULL_EVERY} --api-page-size=${PAGE_SIZE}\n`,
  );
  const culler = new OwnedProcess(
    '/usr/bin/python3',
    [
      '-m',
      'jupyterhub_idle_culler',
      `--url=${url}/hub/api`,
      `--timeout=${TIMEOUT}`,
      `--cull-every=${CULL_EVERY}`,
      `--api-page-size=${PAGE_SIZE}`,
      '--concurrency=10',
    ],
    {
      cwd: CULLER_DIR,
      env: {
        PATH: process.env.PATH,
        PYTHONPATH: CULLER_DIR,
        JUPYTERHUB_API_TOKEN: cullerToken,
        LANG: 'C.UTF-8',
      },
    },
  );
  culler.child.stdout?.pipe(log, { end: false });
  culler.child.stderr?.pipe(log, { end: false });

  // Who reports activity now: active always; fading until FADE_MINUTES; returning after their comeback.
  const comebackAt = started + (TIMEOUT + 3 * CULL_EVERY) * 1000;
  let comeback = false;
  const reporting = (s: Server, at: number) =>
    s.group === 'active' ||
    (s.group === 'fading' && at - started < FADE_MINUTES * 60_000) ||
    (s.group === 'returning' && comeback);
  const missed = new Map<string, number>();
  /** When each server's activity was last reported, as the list of report times. */
  const reported = new Map<string, number[]>();
  const errors: string[] = [];
  const deadline = started + MINUTES * 60_000;
  let nextActivity = started;
  while (Date.now() < deadline) {
    if (!culler.alive) throw new Error(`the culler exited:\n${culler.tail()}`);
    const at = Date.now();
    if (!comeback && at >= comebackAt) {
      // Students come back: their culled servers start again and stay in use.
      const back = servers.filter((s) => s.group === 'returning');
      progress(BENCH, `${back.length} returning users start again`);
      comeback = true;
      await startAll(back);
      for (const s of back)
        await hub(activityToken, 'POST', `/users/${s.user}/activity`, {
          servers: { [s.server]: { last_activity: new Date().toISOString() } },
        });
    }
    if (at >= nextActivity) {
      nextActivity = at + ACTIVITY_EVERY_MS;
      const byUser = Map.groupBy(
        servers.filter((s) => reporting(s, at)),
        (s) => s.user,
      );
      const stamp = new Date().toISOString();
      await Promise.all(
        [...byUser].map(async ([user, own]) => {
          const status = await hub(activityToken, 'POST', `/users/${user}/activity`, {
            last_activity: stamp,
            servers: Object.fromEntries(own.map((s) => [s.server, { last_activity: stamp }])),
          });
          if (status !== 200)
            errors.push(`activity ${user} at ${round((Date.now() - started) / 1000)} s: ${status}`);
          for (const s of own) reported.set(key(s), [...(reported.get(key(s)) ?? []), Date.parse(stamp)]);
        }),
      );
    }
    // Nothing may stay idle past the timeout plus two culler cycles (one to notice, one of slack).
    for (const s of servers) {
      const session = await store.get(s.user, s.server);
      if (session?.state !== 'ready') continue;
      const idle = (Date.now() - Date.parse(session.lastActivity ?? session.createdAt)) / 1000;
      if (idle > TIMEOUT + 2 * CULL_EVERY) missed.set(key(s), round(idle));
    }
    const elapsed = round((Date.now() - started) / 60_000, 1);
    if (Math.round(elapsed * 10) % 20 === 0) progress(BENCH, `${elapsed} min`);
    await sleep(15_000);
  }
  await culler.stop();
  log.write(`# hubless warnings and errors (${hublessLog.length}):\n${hublessLog.join('\n')}\n`);
  log.end();

  // What hubless recorded: every stop, its reason and the idle time it ended (from the
  // session's ready time and the activity reported before the cull).
  const culls = hubless.events.filter((e) => e.type === 'cull');
  const readyAt = new Map(
    hubless.events.filter((e) => e.type === 'ready').map((e) => [e.sessionId, Date.parse(e.time)]),
  );
  const idleAtCull = (k: string, sessionId: string, at: number) => {
    const since = readyAt.get(sessionId) ?? 0;
    const last = Math.max(since, ...(reported.get(k) ?? []).filter((t) => t >= since && t <= at));
    return (at - last) / 1000;
  };
  const finals = new Map<string, Session | undefined>();
  for (const s of servers) finals.set(key(s), await store.get(s.user, s.server));
  const wrong: string[] = [];
  const culledKeys = new Map<string, number>();
  for (const event of culls) {
    const k = `${event.user}/${event.server}`;
    culledKeys.set(k, (culledKeys.get(k) ?? 0) + 1);
    const plan = servers.find((s) => key(s) === k);
    if (!plan) wrong.push(`${k}: culled but not in the plan`);
    else if (plan.group === 'active') wrong.push(`${k}: active, but culled`);
    const idle = idleAtCull(k, event.sessionId, Date.parse(event.time));
    if (idle < TIMEOUT) wrong.push(`${k}: culled after only ${round(idle)} s idle`);
  }
  for (const s of servers) {
    const session = finals.get(key(s));
    const count = culledKeys.get(key(s)) ?? 0;
    if (s.group === 'active' && session?.state !== 'ready')
      wrong.push(`${key(s)}: active, ends ${session?.state}`);
    if (s.group === 'returning' && (count !== 1 || session?.state !== 'ready'))
      wrong.push(`${key(s)}: returning, culled ${count} times, ends ${session?.state}`);
    if ((s.group === 'idle' || s.group === 'fading') && (count !== 1 || session?.state !== 'stopped'))
      wrong.push(`${key(s)}: ${s.group}, culled ${count} times, ends ${session?.state}`);
    if (count && session?.state === 'stopped') {
      if (session.reason?.code !== 'idle' || session.reason.by !== 'service:idle-culler')
        wrong.push(`${key(s)}: stop recorded as ${JSON.stringify(session.reason)}`);
    }
  }
  const logText = (await import('node:fs')).readFileSync(LOG, 'utf8');
  const cycles = logText.split('\n').filter((l) => /Fetching page 2 /.test(l)).length;
  const pages = logText.split('\n').filter((l) => /Fetching page \d+ /.test(l)).length;
  const problems = logText.split('\n').filter((l) => /\[E |\[W |Traceback|Error/.test(l));
  const result = {
    bench: BENCH,
    minutes: round((Date.now() - started) / 60_000, 1),
    users: USERS,
    servers: servers.length,
    timeoutSeconds: TIMEOUT,
    cullEverySeconds: CULL_EVERY,
    pageSize: PAGE_SIZE,
    cullerCycles: cycles,
    pagesFollowed: pages,
    culls: culls.length,
    expectedCulls: servers.filter((s) => s.group !== 'active').length,
    culledByGroup: Object.fromEntries(
      (['active', 'fading', 'idle', 'returning'] as Group[]).map((g) => [
        g,
        servers.filter((s) => s.group === g).reduce((n, s) => n + (culledKeys.get(key(s)) ?? 0), 0),
      ]),
    ),
    missedIdle: Object.fromEntries(missed),
    wrong,
    activityErrors: errors.slice(0, 10),
    cullerWarningsOrErrors: problems.slice(0, 20),
    log: LOG,
  };
  await hubless.stop();
  await lab.close();
  if (wrong.length || missed.size || errors.length) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    throw new Error(`${wrong.length + missed.size + errors.length} problems; see above`);
  }
  return {
    bench: BENCH,
    tables: [
      {
        title: 'jupyterhub-idle-culler against local mode (bench/hub-culler-soak.ts)',
        columns: [
          'minutes',
          'users',
          'servers',
          'culler cycles',
          'pages',
          'culls',
          'expected',
          'wrong',
          'missed',
        ],
        rows: [
          [
            result.minutes,
            USERS,
            servers.length,
            cycles,
            pages,
            culls.length,
            result.expectedCulls,
            wrong.length,
            missed.size,
          ],
        ],
        notes: [
          `Real jupyterhub-idle-culler with --timeout=${TIMEOUT} --cull-every=${CULL_EVERY} --api-page-size=${PAGE_SIZE} and a service token; fake labs (local mode otherwise as npm start runs it).`,
        ],
      },
    ],
    data: result,
  };
}

runMain(BENCH, main);
