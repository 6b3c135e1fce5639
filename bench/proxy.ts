/**
 * Benchmark 3: what the proxy in front of a lab costs. One real lab (started by hubless
 * local mode for a signed-in user), reached three ways with the same requests:
 *
 * - direct: the lab's own port;
 * - hubless gateway: the local mode front door (session cookie checked, identity header
 *   signed, request proxied);
 * - configurable-http-proxy (JupyterHub's proxy) with the same route /user/<name>.
 *
 * HTTP: GET <base>api (the server's version, a tiny JSON answer), load from autocannon in
 * its own process, at concurrency 1 and 32. WebSocket: kernel_info_request round trips on
 * /api/kernels/<id>/channels, from bench/lib/ws-load.ts in its own process. Direct and
 * configurable-http-proxy requests carry a signed identity header (the lab's owner check
 * wants one on the kernel channel), the gateway requests the session cookie.
 *
 * Run alone: `node bench/proxy.ts [--duration 5]`.
 */
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { loadOrCreateIdentitySigner } from '../functions/local/identity-signer.ts';
import { GATEWAY_CLIENT_ID } from '../functions/local/runtime.ts';
import { Browser, signIn } from '../test/support/http-browser.ts';
import {
  answers,
  type BenchResult,
  freePort,
  intOption,
  NODE_MODULES_BIN,
  OwnedProcess,
  poll,
  progress,
  REPO_ROOT,
  ratio,
  round,
  runMain,
  sleep,
} from './lib/common.ts';
import { startHubless } from './lib/hubless.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { duration: { type: 'string' } } });
const DURATION = intOption(values.duration, 'BENCH_PROXY_SECONDS', 5);
const CONCURRENCY = [1, 32];
const BENCH = 'proxy';
const USER = 'proxybench';

interface Load {
  mean: number;
  p50: number;
  p99: number;
  perSecond: number;
  errors: number;
}

async function autocannon(url: string, connections: number, headers: Record<string, string>): Promise<Load> {
  const args = (seconds: number) => [
    `${REPO_ROOT}node_modules/autocannon/autocannon.js`,
    ...['-c', String(connections), '-d', String(seconds), '-j', '-n'],
    ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}=${value}`]),
    url,
  ];
  // One second of warm-up at the same concurrency, not counted.
  await run(process.execPath, args(1), { maxBuffer: 64 * 1024 * 1024 });
  const { stdout } = await run(process.execPath, args(DURATION), { maxBuffer: 64 * 1024 * 1024 });
  const result = JSON.parse(stdout) as {
    latency: { average: number; p50: number; p99: number };
    requests: { average: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  // autocannon keeps whole milliseconds, so its mean of sub-millisecond answers is
  // meaningless; a closed loop of c connections obeys Little's law: mean = c / rate.
  return {
    mean: (connections / result.requests.average) * 1000,
    p50: result.latency.p50,
    p99: result.latency.p99,
    perSecond: result.requests.average,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

async function wsLoad(url: string, connections: number, headers: Record<string, string>): Promise<Load> {
  const { stdout } = await run(
    process.execPath,
    [
      `${REPO_ROOT}bench/lib/ws-load.ts`,
      '--url',
      url,
      '--connections',
      String(connections),
      '--duration',
      String(DURATION),
      '--headers',
      JSON.stringify(headers),
    ],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const result = JSON.parse(stdout) as Load;
  return result;
}

runMain(BENCH, async (): Promise<BenchResult> => {
  progress(BENCH, 'starting local mode and a lab');
  const local = await startHubless();
  let chp: OwnedProcess | undefined;
  try {
    await local.runtime.directory.upsert({ name: USER, password: `${USER}-password` });
    const browser = new Browser(local.url);
    await signIn(browser, USER, `${USER}-password`);
    const form = (path: string) =>
      browser.request(path, {
        method: 'POST',
        headers: { origin: local.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
    await form('/start');
    await poll(
      'the lab to be ready',
      async () => {
        const p = (await (
          await browser.request('/progress', { headers: { accept: 'application/json' } })
        ).json()) as { ready: boolean };
        return p.ready ? true : undefined;
      },
      120_000,
      200,
    );
    const session = await local.runtime.deps.store.get(USER, '');
    const target = session?.target;
    if (!target) throw new Error('the session has no target');
    const base = `/user/${USER}/`;
    // The UI page sets Jupyter's _xsrf cookie, which writes must echo.
    await (await browser.request(`${base}tree`)).body?.cancel();
    const cookie = [...browser.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const kernel = await browser.request(`${base}api/kernels`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-xsrftoken': browser.jar.get('_xsrf') ?? '',
        origin: local.url,
      },
      body: JSON.stringify({ name: 'python3' }),
    });
    if (kernel.status !== 201)
      throw new Error(`creating a kernel: HTTP ${kernel.status} ${await kernel.text()}`);
    const { id: kernelId } = (await kernel.json()) as { id: string };

    progress(BENCH, 'starting configurable-http-proxy');
    const [chpPort, chpApiPort] = [await freePort(), await freePort()];
    const chpToken = 'bench-chp-token';
    chp = new OwnedProcess(
      `${NODE_MODULES_BIN}/configurable-http-proxy`,
      [
        '--ip',
        '127.0.0.1',
        '--port',
        String(chpPort),
        '--api-ip',
        '127.0.0.1',
        '--api-port',
        String(chpApiPort),
        '--log-level',
        'error',
      ],
      {
        env: { ...process.env, CONFIGPROXY_AUTH_TOKEN: chpToken },
      },
    );
    await poll(
      'configurable-http-proxy',
      async () =>
        (await answers(`http://127.0.0.1:${chpApiPort}/api/routes`, 200, {
          authorization: `token ${chpToken}`,
        }))
          ? true
          : undefined,
      30_000,
      100,
    );
    const added = await fetch(`http://127.0.0.1:${chpApiPort}/api/routes/user/${USER}`, {
      method: 'POST',
      headers: { authorization: `token ${chpToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: `http://${target.host}:${target.port}` }),
    });
    if (added.status !== 201) throw new Error(`adding the proxy route: HTTP ${added.status}`);

    const signer = await loadOrCreateIdentitySigner(local.dataDir, {
      issuer: `${local.url}/oidc`,
      clientId: GATEWAY_CLIENT_ID,
    });
    // Bound to a sign-in (sid) that has not ended, as every header the gateway signs is: labs refuse one without.
    const identity = async () => ({
      'x-amzn-oidc-data': await signer.sign({ sub: USER, username: USER, sid: 'proxy-bench' }, 600),
    });
    const paths = {
      direct: { origin: `http://${target.host}:${target.port}`, headers: identity },
      'hubless gateway': { origin: local.url, headers: async () => ({ cookie }) },
      'configurable-http-proxy': { origin: `http://127.0.0.1:${chpPort}`, headers: identity },
    };

    const http: Record<string, Record<number, Load>> = {};
    const ws: Record<string, Record<number, Load>> = {};
    for (const [name, path] of Object.entries(paths)) {
      http[name] = {};
      ws[name] = {};
      const check = await fetch(`${path.origin}${base}api`, { headers: await path.headers() });
      if (check.status !== 200) throw new Error(`${name}: GET ${base}api answered ${check.status}`);
      for (const c of CONCURRENCY) {
        progress(BENCH, `${name}: HTTP at concurrency ${c}`);
        http[name][c] = await autocannon(`${path.origin}${base}api`, c, await path.headers());
        await sleep(500);
      }
      for (const c of CONCURRENCY) {
        progress(BENCH, `${name}: WebSocket at concurrency ${c}`);
        ws[name][c] = await wsLoad(
          `${path.origin.replace(/^http/, 'ws')}${base}api/kernels/${kernelId}/channels`,
          c,
          await path.headers(),
        );
        await sleep(500);
      }
    }

    const rows = (kind: Record<string, Record<number, Load>>) =>
      Object.entries(kind).flatMap(([name, byC]) =>
        CONCURRENCY.map((c) => {
          const load = byC[c]!;
          const direct = kind.direct?.[c];
          return [
            name,
            c,
            `${round(load.mean, 2)} ms`,
            `${round(load.p50, 1)} ms`,
            `${round(load.p99, 1)} ms`,
            round(load.perSecond),
            ratio(load.mean, direct?.mean),
            ratio(load.perSecond, direct?.perSecond),
            load.errors,
          ];
        }),
      );
    const columns = [
      'path',
      'concurrency',
      'mean',
      'p50',
      'p99',
      'per second',
      'mean vs direct',
      'throughput vs direct',
      'errors',
    ];
    return {
      bench: BENCH,
      data: { durationSeconds: DURATION, http, ws },
      tables: [
        {
          title: `Proxy overhead, HTTP: GET ${base}api`,
          columns,
          rows: rows(http),
          notes: [
            `autocannon in its own process, ${DURATION} s per cell after 1 s of warm-up; one real jupyter-server behind every path. autocannon records whole milliseconds, so its p50/p99 are whole ms; mean = concurrency / rate (Little's law for a closed loop).`,
          ],
        },
        {
          title: 'Proxy overhead, WebSocket: kernel_info_request round trips on one kernel',
          columns,
          rows: rows(ws),
          notes: [
            `bench/lib/ws-load.ts in its own process, ${DURATION} s per cell; at concurrency 32 the 32 sockets share one kernel, which answers one request at a time.`,
          ],
        },
      ],
    };
  } finally {
    await chp?.stop();
    await local.stop();
  }
});
