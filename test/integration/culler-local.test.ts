import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpActivityProbe } from '../../functions/adapters/http/activity-probe.ts';
import { DirHomes } from '../../functions/adapters/local/dir-homes.ts';
import { GatewayRouter } from '../../functions/adapters/local/gateway-router.ts';
import { findJupyter } from '../../functions/adapters/local/jupyter-command.ts';
import { LogEventSink } from '../../functions/adapters/local/log-event-sink.ts';
import { ProcessCompute } from '../../functions/adapters/local/process-compute.ts';
import { discardMetrics } from '../../functions/adapters/metrics/emf.ts';
import { DEFAULT_PROFILES } from '../../functions/core/config.ts';
import { MemoryLeaseStore } from '../../functions/core/culling/memory-lease-store.ts';
import type { CullerDeps } from '../../functions/core/culling/ports.ts';
import { hmacLabTokens } from '../../functions/core/lab-tokens.ts';
import { systemClock } from '../../functions/core/ports.ts';
import { baseUrlFor, type Session } from '../../functions/core/session.ts';
import { type CullSummary, cullServers } from '../../functions/core/use-cases/cull.ts';
import { getServer } from '../../functions/core/use-cases/get-server.ts';
import { launchInRequest } from '../../functions/core/use-cases/launch-session.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { MemoryDirectory } from '../fakes/fake-parts.ts';
import { MemorySessionStore } from '../fakes/memory-session-store.ts';
import { executeContent, shellMessage } from '../support/jupyter-kernel.ts';
import { waitFor } from '../support/net.ts';

/**
 * The culler in local mode against real Jupyter server processes: the lifecycle is
 * driven by polling (getServer) and task events are dropped on purpose, so the culler
 * and reconciliation alone must notice an idle lab and a killed one.
 */
const LAB_DIR = path.resolve(import.meta.dirname, '../../containers/lab');
const IDLE_SECONDS = 6;

let dir: string;
let compute: ProcessCompute;
let router: GatewayRouter;
let events: LogEventSink;
let deps: CullerDeps;
/** A random key per run, as local mode makes one per start. */
const labTokens = hmacLabTokens(async () => randomBytes(32));

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hubless-culler-'));
  // Run as root, labs run as their users' own accounts, which must pass through to their homes.
  chmodSync(dir, 0o711);
  compute = new ProcessCompute({
    jupyter: findJupyter(),
    labPackageDir: LAB_DIR,
    runDir: path.join(dir, 'run'),
    onEvent: () => undefined,
    stopGraceMs: 5000,
  });
  router = new GatewayRouter();
  events = new LogEventSink({ path: path.join(dir, 'events.jsonl') });
  deps = {
    launches: launchInRequest(() => deps),
    store: new MemorySessionStore(),
    compute,
    router,
    homes: new DirHomes({ root: path.join(dir, 'homes') }),
    directory: new MemoryDirectory(),
    events,
    clock: systemClock,
    settings: {
      idleTimeoutSeconds: IDLE_SECONDS,
      maxAgeSeconds: 0,
      startTimeoutSeconds: 120,
      profiles: DEFAULT_PROFILES,
    },
    // The owner check needs these to load; the culler itself only uses the lab token.
    labEnvironment: () => ({
      HUBLESS_IDENTITY_KEYS_URL: 'http://127.0.0.1:9/keys',
      HUBLESS_IDENTITY_SIGNER: 'arn:hubless:local:test',
      HUBLESS_IDENTITY_ISSUER: 'http://127.0.0.1/test',
    }),
    labTokens,
    randomId: (bytes = 9) => randomBytes(bytes).toString('hex'),
    probe: new HttpActivityProbe({ labTokens }),
    lease: new MemoryLeaseStore(),
    metrics: discardMetrics,
    culling: { probeMissLimit: 2 },
  };
});

afterAll(async () => {
  await compute?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function readyLab(user: string): Promise<Session> {
  await startServer(deps, { user, server: '', groups: [] });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const session = await getServer(deps, user, '');
    if (session.state === 'ready') return session;
    if (session.state === 'failed' || Date.now() > deadline)
      throw new Error(`lab of ${user} did not get ready: ${JSON.stringify(session.reason ?? session.state)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function cull(): Promise<CullSummary> {
  const run = await cullServers(deps);
  if ('skipped' in run) throw new Error('lease held');
  return run;
}

function labUrl(session: Session, rest: string): string {
  return `http://${session.target!.host}:${session.target!.port}${baseUrlFor(session.user, session.server)}${rest}`;
}

/** Starts a kernel and runs `code` in it over the kernel's websocket (as the control plane, with the lab token). */
async function runCell(session: Session, code: string): Promise<{ close: () => void }> {
  const headers = { authorization: `token ${await labTokens.tokenFor(session.id)}` };
  const created = await fetch(labUrl(session, 'api/kernels'), {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(created.status).toBe(201);
  const kernel = (await created.json()) as { id: string };
  const ws = new WebSocket(labUrl(session, `api/kernels/${kernel.id}/channels`).replace('http:', 'ws:'), {
    headers,
  } as unknown as string[]);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('kernel websocket did not open')));
  });
  // jupyter-server learns a kernel's state from its own iopub listener, which can join
  // after the kernel's first status messages (ZMQ's slow joiner) and then reports
  // "starting" until the next status. Nudge with kernel_info_request (as Jupyter's own
  // nudge does) until the server itself reports idle, then run the cell.
  await serverReports(session, 'idle', () =>
    ws.send(shellMessage('kernel_info_request', randomBytes(8).toString('hex'))),
  );
  // Jupyter may drop a request sent while the kernel is still starting: send until our cell reports busy.
  const id = randomBytes(8).toString('hex');
  const busy = new Promise<void>((resolve) =>
    ws.addEventListener('message', (message) => {
      const msg = JSON.parse(String(message.data)) as {
        msg_type?: string;
        parent_header?: { msg_id?: string };
        content?: { execution_state?: string };
      };
      if (
        msg.msg_type === 'status' &&
        msg.parent_header?.msg_id === id &&
        msg.content?.execution_state === 'busy'
      )
        resolve();
    }),
  );
  const request = shellMessage('execute_request', id, executeContent(code), id);
  for (let attempt = 0; ; attempt++) {
    ws.send(request);
    const started = await Promise.race([
      busy.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    if (started) break;
    if (attempt >= 10) throw new Error('the cell never started running');
  }
  await serverReports(session, 'busy');
  return { close: () => ws.close() };
}

async function serverReports(session: Session, state: string, nudge?: () => void): Promise<void> {
  const probe = new HttpActivityProbe({ labTokens });
  for (let i = 0; i < 150; i++) {
    if (i % 3 === 0) nudge?.();
    const activity = await probe.probe(session).catch(() => undefined);
    if (activity?.kernels.every((k) => k.executionState === state) && activity.kernels.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the lab never reported its kernel ${state}`);
}

/**
 * Waits until everything the culler reads says the lab has been idle for longer than the
 * timeout: the stored session and the lab's own report (its activity, its kernels' and
 * terminals'), rather than for an assumed duration. Activity that moves later is waited
 * for again; a lab that reports new activity at every look (e.g. if the probe itself
 * counted as activity) fails here.
 */
async function idleLongerThanTimeout(session: Session): Promise<void> {
  for (let look = 0; look < 5; look++) {
    const stored = await deps.store.get(session.user, session.server);
    const activity = await deps.probe.probe(session);
    const times = [
      stored?.readyAt,
      stored?.lastActivity,
      activity.lastActivity,
      activity.terminalLastActivity,
      ...activity.kernels.map((kernel) => kernel.lastActivity),
    ]
      .map((iso) => Date.parse(iso ?? ''))
      .filter((ms) => !Number.isNaN(ms));
    const left = Math.max(...times) + (IDLE_SECONDS + 1) * 1000 - Date.now();
    if (left <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, left));
  }
  throw new Error(`the lab of ${session.user} kept reporting new activity`);
}

describe('the culler in local mode (real Jupyter servers)', () => {
  it('stops a lab that has been idle longer than the timeout, and removes its route', async () => {
    const lab = await readyLab('idle-ann');
    expect(router.lookup(baseUrlFor('idle-ann', ''))?.sessionId).toBe(lab.id);
    const early = await cull();
    expect(early.kept).toBe(1);

    await idleLongerThanTimeout(lab);
    const summary = await cull();

    expect(summary.culled.idle).toBe(1);
    const after = await deps.store.get('idle-ann', '');
    expect(after).toMatchObject({ state: 'stopped', reason: { code: 'idle' } });
    expect(await compute.poll(lab.computeHandle!)).toMatchObject({ state: 'exited' });
    expect(router.lookup(baseUrlFor('idle-ann', ''))).toBeUndefined();
    expect(events.recent(1)[0]).toMatchObject({ type: 'cull', reason: 'idle', sessionId: lab.id });
  });

  it('keeps a lab whose kernel is running a long cell, though nobody touches it', async () => {
    const lab = await readyLab('busy-bea');
    const cell = await runCell(lab, 'import time; time.sleep(120)');
    try {
      // Long enough that only the busy kernel can keep it.
      await idleLongerThanTimeout(lab);
      const summary = await cull();
      expect(summary.culled.idle).toBe(0);
      expect(await deps.store.get('busy-bea', '')).toMatchObject({ state: 'ready' });
      const activity = await deps.probe.probe(lab);
      expect(activity.kernels.map((k) => k.executionState)).toEqual(['busy']);
    } finally {
      cell.close();
    }
  });

  it('records a lab whose process was killed by hand as ended and removes its route', async () => {
    const lab = await readyLab('dead-dot');
    const pid = compute.pidOf(lab.computeHandle!);
    expect(pid).toBeTypeOf('number');
    process.kill(pid!, 'SIGKILL');
    await waitFor(
      'the killed lab to be seen as exited',
      async () => ((await compute.poll(lab.computeHandle!)).state === 'exited' ? true : undefined),
      10_000,
      100,
    );

    const summary = await cull();

    expect(summary.lost + (summary.reconciled?.lostSessions ?? 0)).toBe(1);
    const after = await deps.store.get('dead-dot', '');
    expect(after).toMatchObject({ state: 'stopped', reason: { code: 'crashed' } });
    expect(router.lookup(baseUrlFor('dead-dot', ''))).toBeUndefined();
  });
});
