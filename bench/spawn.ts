/**
 * Benchmark 1: spawn to ready, N users one after another (real processes).
 *
 * - floor: a bare jupyter-server started with ProcessCompute's flags minus the owner
 *   check (same nbclassic extension, ip, port, base_url, root_dir), timed from spawn to
 *   the first 200 on <base_url>api.
 * - hubless (portal): local mode as `npm start` runs it; a signed-in browser (fetch with
 *   a cookie jar) POSTs /start and polls /progress until ready.
 * - hubless (JupyterHub API): the same runtime driven by an LMS token through hubless's
 *   JupyterHub-compatible /hub/api, with the same client code as the anchor.
 * - JupyterHub 3.0 (Debian): SimpleLocalProcessSpawner + jupyterhub-singleuser +
 *   configurable-http-proxy, POST /hub/api/users/<name>/server and GET /hub/api/users/<name>
 *   polled until ready.
 *
 * The API clients poll every POLL_MS (default 50 ms). Each server is stopped before the next
 * user starts. Run alone: `node bench/spawn.ts [--users 5] [--poll-ms 50]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { findJupyter } from '../functions/adapters/local/jupyter-command.ts';
import { PROGRESS, type Session } from '../functions/core/session.ts';
import { Browser, signIn } from '../test/support/http-browser.ts';
import {
  answers,
  type BenchResult,
  freePort,
  intOption,
  median,
  ms,
  OwnedProcess,
  percentile,
  progress,
  ratio,
  round,
  runMain,
  sleep,
} from './lib/common.ts';
import { createHubUsers, type HubApi, startAndWait, stopAndWait } from './lib/hub-api.ts';
import { startHubless } from './lib/hubless.ts';
import { jupyterHubAvailable, startJupyterHub } from './lib/jupyterhub.ts';

const { values } = parseArgs({ options: { users: { type: 'string' }, 'poll-ms': { type: 'string' } } });
const USERS = intOption(values.users, 'BENCH_SPAWN_USERS', 5);
const POLL_MS = intOption(values['poll-ms'], 'BENCH_POLL_MS', 50);
const BENCH = 'spawn';
const names = Array.from({ length: USERS }, (_, i) => `spawn${i + 1}`);

async function floor(): Promise<number[]> {
  const jupyter = findJupyter();
  const root = await mkdtemp(join(tmpdir(), 'hubless-bench-floor-'));
  const times: number[] = [];
  try {
    for (const name of names) {
      const port = await freePort();
      const base = `/user/${name}/`;
      const args = [
        ...jupyter.args,
        '--ServerApp.ip=127.0.0.1',
        `--ServerApp.port=${port}`,
        '--ServerApp.port_retries=0',
        `--ServerApp.base_url=${base}`,
        `--ServerApp.root_dir=${root}`,
        '--ServerApp.open_browser=False',
      ];
      if (process.getuid?.() === 0) args.push('--ServerApp.allow_root=True');
      const started = performance.now();
      const server = new OwnedProcess(jupyter.command, args, {
        env: { ...process.env, JUPYTER_RUNTIME_DIR: join(root, `.runtime-${name}`) },
      });
      try {
        while (!(await answers(`http://127.0.0.1:${port}${base}api`))) {
          if (!server.alive) throw new Error(`jupyter-server exited:\n${server.tail()}`);
          if (performance.now() - started > 120_000)
            throw new Error('jupyter-server did not answer within 120 s');
          await sleep(POLL_MS);
        }
        times.push(performance.now() - started);
      } finally {
        await server.stop();
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return times;
}

/** Milliseconds from the session's creation to each recorded step (session.events). */
interface Phases {
  launched: number;
  running: number;
  ready: number;
}

function phasesOf(session: Session | undefined): Phases {
  if (!session) throw new Error('the session vanished');
  const at = (progress: number) => {
    const event = session.events.find((e) => e.progress === progress);
    return event ? Date.parse(event.time) - Date.parse(session.createdAt) : Number.NaN;
  };
  return { launched: at(PROGRESS.launching), running: at(PROGRESS.running), ready: at(PROGRESS.ready) };
}

async function hubless(): Promise<{ portal: number[]; hubApi: number[]; phases: Phases[] }> {
  const local = await startHubless();
  try {
    const form = (browser: Browser, path: string) =>
      browser.request(path, {
        method: 'POST',
        headers: { origin: local.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
    const portal: number[] = [];
    const phases: Phases[] = [];
    for (const name of names) {
      await local.runtime.directory.upsert({ name, password: `${name}-password-123` });
      const browser = new Browser(local.url);
      await signIn(browser, name, `${name}-password-123`);
      const started = performance.now();
      const response = await form(browser, '/start');
      if (response.status !== 303) throw new Error(`POST /start: HTTP ${response.status}`);
      // As the spawn page does: a long poll that answers when the progress changes.
      let seen = '';
      for (;;) {
        const path = seen ? `/progress?seen=${encodeURIComponent(seen)}` : '/progress';
        const p = (await (
          await browser.request(path, { headers: { accept: 'application/json' } })
        ).json()) as {
          ready: boolean;
          failed: boolean;
          message: string;
          version: string;
        };
        if (p.ready) break;
        if (p.failed) throw new Error(`${name}'s start failed: ${p.message}`);
        if (performance.now() - started > 180_000) throw new Error(`${name} not ready after 180 s`);
        seen = p.version;
      }
      portal.push(performance.now() - started);
      phases.push(phasesOf(await local.runtime.deps.store.get(name, '')));
      await form(browser, '/stop');
    }
    const api: HubApi = { base: local.url, authorization: async () => `Bearer ${await local.token()}` };
    const hubApi: number[] = [];
    for (const name of names) {
      hubApi.push(await startAndWait(api, name, POLL_MS));
      await stopAndWait(api, name);
    }
    return { portal, hubApi, phases };
  } finally {
    await local.stop();
  }
}

async function jupyterHub(): Promise<number[]> {
  const hub = await startJupyterHub();
  try {
    const api: HubApi = { base: hub.url, authorization: async () => `token ${hub.token}` };
    await createHubUsers(api, names);
    const times: number[] = [];
    for (const name of names) {
      times.push(await startAndWait(api, name, POLL_MS));
      await stopAndWait(api, name);
    }
    return times;
  } finally {
    await hub.stop();
  }
}

runMain(BENCH, async (): Promise<BenchResult> => {
  progress(BENCH, `floor: ${USERS} bare jupyter-server starts`);
  const floorMs = await floor();
  progress(BENCH, 'hubless local mode');
  const { portal, hubApi, phases } = await hubless();
  let hubMs: number[] | undefined;
  if (jupyterHubAvailable()) {
    progress(BENCH, 'JupyterHub');
    hubMs = await jupyterHub();
  } else {
    progress(BENCH, 'JupyterHub is not installed (/usr/bin/jupyterhub): anchor skipped');
  }
  const summary = (times: number[]) => ({
    median: round(median(times)),
    p90: round(percentile(times, 90)),
    samples: times.map((t) => round(t)),
  });
  const systems = {
    floor: summary(floorMs),
    'hubless (portal)': summary(portal),
    'hubless (JupyterHub API)': summary(hubApi),
    ...(hubMs ? { JupyterHub: summary(hubMs) } : {}),
  };
  const floorMedian = systems.floor.median;
  const hubMedian = hubMs ? median(hubMs) : undefined;
  return {
    bench: BENCH,
    data: { users: USERS, pollMs: POLL_MS, systems, hublessPhases: phases },
    tables: [
      {
        title: `Spawn to ready (${USERS} users one after another)`,
        columns: ['system', 'median', 'p90', 'vs floor', 'vs JupyterHub'],
        rows: Object.entries(systems).map(([system, s]) => [
          system,
          ms(s.median),
          ms(s.p90),
          ratio(s.median, floorMedian),
          ratio(s.median, hubMedian),
        ]),
        notes: [
          "floor: bare jupyter-server with ProcessCompute's flags minus the owner check, spawn to first 200 on <base>api.",
          'hubless (portal): signed-in browser, POST /start to /progress ready, through the gateway. hubless (JupyterHub API) and JupyterHub: the same client, POST /hub/api/users/<name>/server, then GET /hub/api/users/<name> until ready.',
          `The portal client long-polls /progress?seen= as the spawn page does; the API clients poll every ${POLL_MS} ms; each server is stopped before the next user starts.`,
        ],
      },
      {
        title: 'Where hubless spends its spawn time (portal runs, median, from session.events)',
        columns: [
          'request -> process spawned',
          'spawned -> lab answered (RUNNING)',
          'RUNNING -> ready (route + probe)',
          'request -> ready',
          'ready -> browser saw it',
        ],
        rows: [
          [
            ms(median(phases.map((p) => p.launched))),
            ms(median(phases.map((p) => p.running - p.launched))),
            ms(median(phases.map((p) => p.ready - p.running))),
            ms(median(phases.map((p) => p.ready))),
            ms(median(portal.map((t, i) => t - phases[i]!.ready))),
          ],
        ],
        notes: [
          'Timestamps are the ones hubless records on the session (millisecond ISO times); "ready -> browser saw it" also holds the POST /start request itself.',
        ],
      },
    ],
  };
});
