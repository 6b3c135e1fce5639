import { mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet } from 'jose';
import { ensureTable } from '../adapters/dynamodb/table.ts';
import { LabUnreachableError } from '../adapters/http/activity-probe.ts';
import { DirHomes } from '../adapters/local/dir-homes.ts';
import { GatewayRouter } from '../adapters/local/gateway-router.ts';
import { InProcessLaunchQueue } from '../adapters/local/in-process-launch-queue.ts';
import {
  checkOwnerCheckDependencies,
  findJupyter,
  type JupyterCommand,
} from '../adapters/local/jupyter-command.ts';
import { type LabAccounts, labAccountsForThisProcess } from '../adapters/local/lab-accounts.ts';
import { LocalDirectory } from '../adapters/local/local-directory.ts';
import { LogEventSink } from '../adapters/local/log-event-sink.ts';
import { LocalLtiPlatforms } from '../adapters/local/lti-platforms.ts';
import { LocalMachineClients } from '../adapters/local/machine-clients.ts';
import { ProcessCompute, reapOrphans } from '../adapters/local/process-compute.ts';
import { JsonLogger } from '../adapters/log/json-logger.ts';
import { discardMetrics, EmfMetrics } from '../adapters/metrics/emf.ts';
import type { Settings } from '../core/config.ts';
import type { CoreDeps } from '../core/deps.ts';
import { advance } from '../core/lifecycle.ts';
import type { Log } from '../core/log.ts';
import { enterFromLti } from '../core/lti/enter.ts';
import { MemoryLtiReplayGuard } from '../core/lti/memory-replay-guard.ts';
import type { Clock, Compute, EventSink, LifecycleEvent } from '../core/ports.ts';
import { ACTIVE_STATES } from '../core/session.ts';
import type { TaskStateChangeEvent } from '../core/task-event.ts';
import type { CullRun } from '../core/use-cases/cull.ts';
import { launchInRequest, launchSession } from '../core/use-cases/launch-session.ts';
import { listServers } from '../core/use-cases/list-servers.ts';
import { stopSession } from '../core/use-cases/stop-server.ts';
import { makeApiHandler } from '../handlers/api.ts';
import { makeCullerHandler } from '../handlers/culler.ts';
import { makePortalHandler } from '../handlers/portal.ts';
import { makeTaskEventsHandler } from '../handlers/task-events.ts';
import { buildLocalDeps } from '../wiring/local.ts';
import { moveLegacyHomes, publishLabPackage, secureDataDir } from './data-dir.ts';
import { namespaceSupport } from './dynamodb-isolation.ts';
import { createLocalDynamoClients } from './dynamodb-local.ts';
import { type SupervisedDynamoDb, superviseDynamoDbLocal } from './dynamodb-supervisor.ts';
import { ensureFirstAdmin } from './first-admin.ts';
import { endedSessionsPath } from './gateway/ended-sessions.ts';
import { DEFAULT_GATEWAY_CLIENT_ID, gatewayIssuer, startGateway } from './gateway/index.ts';
import type { GatewayLti } from './gateway/options.ts';
import { loadOrCreateIdentitySigner } from './identity-signer.ts';
import { lockDataDir } from './instance-lock.ts';
import { openLocalLogOutput } from './log-output.ts';
import { loadOrCreateLtiToolKey } from './lti-tool-key.ts';
import { type GatewayTls, loadGatewayTls } from './tls.ts';

/**
 * Local mode: the AWS column of docs/architecture.md section 1 swapped for real local stand-ins,
 * around the very same core and handlers. One process runs the gateway (the ALB), the
 * OpenID provider (Cognito) and the handlers; DynamoDB Local and the labs are children.
 */
export interface LocalRuntimeOptions {
  /** Use an already running DynamoDB (tests share one); otherwise one is started under the data dir. */
  dynamoEndpoint?: string;
  jupyter?: JupyterCommand;
  /** Launches run at once, at most (default LOCAL_LAUNCH_CONCURRENCY). */
  launchConcurrency?: number;
  /** Launch inside the start request, as before the launch queue: the benchmark's anchor only. */
  launchInRequest?: boolean;
  /** Replace the process compute (benchmarks use a fake that waits like Fargate). */
  compute?: (onEvent: (event: TaskStateChangeEvent) => Promise<void>) => Compute;
  /** Where lifecycle events go besides the log; tests collect them. */
  events?: EventSink;
  quiet?: boolean;
  /** Where log lines go instead (benchmarks keep the errors of a long run); default: stdout unless quiet. */
  log?: Log;
  /** Who labs run as; default: per-user system accounts when run as root, else the current user. */
  accounts?: LabAccounts;
  /** The control plane's clock (tests move it forward to make a server idle); default: the system's. */
  clock?: Clock;
  /** Called when local mode cannot go on (DynamoDB Local keeps dying); `hubless start` stops and exits 1. */
  onFatal?: (message: string) => void;
}

export interface LocalRuntime {
  url: string;
  deps: CoreDeps;
  router: GatewayRouter;
  directory: LocalDirectory;
  /** The first admin's generated password, set only on the very first start. */
  firstAdmin?: { name: string; password: string };
  /** Whether users are kept apart (labs as per-user accounts), and the sentence start-up prints about it. */
  isolation: { usersIsolated: boolean; notice: string };
  /** The users' homes (HUBLESS_HOMES_DIR). */
  homesDir: string;
  /** The DynamoDB Local this runtime started (none when given an endpoint). */
  dynamo?: SupervisedDynamoDb;
  /** One culler sweep and reconciliation now (the timer runs the same). */
  cull(): Promise<CullRun>;
  /** The gateway's certificate when it serves HTTPS (its fingerprint is printed at start). */
  tls?: GatewayTls;
  stop(): Promise<void>;
}

/**
 * Launches at once in local mode: starting a Jupyter process takes a few milliseconds of
 * this process's time, the rest is the child's; more at once would only make a class's
 * first students wait for the last ones' processes to spawn.
 */
export const LOCAL_LAUNCH_CONCURRENCY = 8;

export const LAB_PACKAGE_DIR = fileURLToPath(new URL('../../containers/lab', import.meta.url));
export const GATEWAY_CLIENT_ID = DEFAULT_GATEWAY_CLIENT_ID;

export async function startLocalRuntime(
  settings: Settings,
  options: LocalRuntimeOptions = {},
): Promise<LocalRuntime> {
  const local = settings.local;
  const dataDir = resolve(local.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const homesDir = resolve(local.homesDir);
  const accounts = options.accounts ?? labAccountsForThisProcess();
  const cleanups: Array<() => Promise<void>> = [];
  // Before anything else touches the data dir: a second instance would reap this one's
  // labs as its own leftovers and the two would fight over every session.
  const lock = await lockDataDir(dataDir, { port: local.port, url: local.publicUrl });
  cleanups.push(() => lock.release());
  // JSON lines to <data dir>/logs/hubless.log, readable lines on a terminal (log-output.ts).
  const output =
    options.log || options.quiet
      ? undefined
      : openLocalLogOutput({ file: resolve(dataDir, 'logs', 'hubless.log') });
  if (output) cleanups.push(() => output.close());
  const log: Log =
    options.log ??
    (output ? new JsonLogger({ level: settings.logLevel, write: output.write }).log : () => undefined);

  try {
    await moveLegacyHomes(dataDir, homesDir);
    await secureDataDir(dataDir);
    let dynamo: SupervisedDynamoDb | undefined;
    let endpoint = options.dynamoEndpoint;
    if (!endpoint) {
      const namespaces = namespaceSupport();
      // Recorded, reaped after a crash of this process, restarted when it dies (dynamodb-supervisor.ts).
      dynamo = await superviseDynamoDbLocal({
        dataDir,
        log,
        isolation:
          'flags' in namespaces
            ? { socketPath: resolve(dataDir, 'dynamodb.sock'), ...namespaces }
            : undefined,
        onGiveUp: (message) => {
          log('error', message);
          options.onFatal?.(message);
        },
      });
      // Pushed first of the parts, so stopped last: after every lab's stop is recorded in it.
      const supervised = dynamo;
      cleanups.push(() => supervised.stop());
      endpoint = dynamo.endpoint;
      if ('unavailable' in namespaces)
        log('warn', 'DynamoDB Local is reachable from the network: it could not get a namespace of its own', {
          port: new URL(endpoint).port,
          reason: namespaces.unavailable,
        });
    }
    const { client, doc } = createLocalDynamoClients(endpoint, dynamo?.socketPath);
    await ensureTable(client, settings.tableName);

    const directory = new LocalDirectory({ dataDir });
    const firstAdmin = await ensureFirstAdmin(directory);

    const gatewayOrigin = `http://${local.host}:${local.port}`;
    const issuer = gatewayIssuer(local.publicUrl);
    const signer = await loadOrCreateIdentitySigner(dataDir, { issuer, clientId: GATEWAY_CLIENT_ID });
    // A route goes only to a lab this process started (see ProcessCompute.runs); set below.
    let routable: (sessionId: string, target: { host: string; port: number }, handle?: string) => boolean =
      () => true;
    const router = new GatewayRouter({
      maxRoutes: local.maxServers,
      trusts: (session, target) => routable(session.id, target, session.computeHandle),
    });
    const jupyter = options.jupyter ?? findJupyter();
    if (!options.compute) checkOwnerCheckDependencies(jupyter);

    // Task events flow compute -> handler -> core, exactly as EventBridge delivers them in AWS.
    let onTaskEvent: (event: TaskStateChangeEvent) => Promise<void> = async () => undefined;
    const deliver = (event: TaskStateChangeEvent) => onTaskEvent(event);
    let compute: Compute;
    if (options.compute) {
      compute = options.compute(deliver);
    } else {
      const runDir = resolve(dataDir, 'run');
      await mkdir(runDir, { recursive: true });
      await reapOrphans(runDir);
      const processes = new ProcessCompute({
        jupyter,
        // Labs under their own accounts read a root-owned copy beside the homes (see publishLabPackage).
        labPackageDir: accounts.isolated
          ? await publishLabPackage(LAB_PACKAGE_DIR, resolve(homesDir, '.hubless-lab'))
          : LAB_PACKAGE_DIR,
        runDir,
        labRuntimeRoot: accounts.isolated ? resolve(homesDir, '.hubless-run') : runDir,
        accounts,
        // Beside the homes like the lab package; no username starts with a dot.
        ...(local.sharedData ? { sharedDir: resolve(homesDir, '.hubless-shared') } : {}),
        onEvent: deliver,
        startTimeoutMs: settings.startTimeoutSeconds * 1000,
        log,
      });
      routable = (sessionId, target, handle) => processes.runs(sessionId, target, handle);
      // Last line of defence on shutdown: no lab outlives `npm start`, even one no session claims.
      cleanups.push(() => processes.close('hubless was shut down.'));
      compute = processes;
    }

    const eventFile = new LogEventSink({ path: resolve(dataDir, 'events.jsonl') });
    const events: EventSink = {
      async publish(event: LifecycleEvent) {
        log('info', `session ${event.type}`, { ...event });
        await eventFile.publish(event);
        await options.events?.publish(event);
      },
    };

    // Starts answer at once; launches run a few at a time, as the launcher Lambda does in AWS.
    let launchQueue: InProcessLaunchQueue | undefined;
    const {
      core: deps,
      portal: portalDeps,
      api: apiDeps,
      culler: cullerDeps,
    } = buildLocalDeps(
      {
        settings,
        doc,
        compute,
        router,
        homes: new DirHomes({ root: homesDir, accounts }),
        launches: (core) => {
          if (options.launchInRequest) return launchInRequest(() => core);
          launchQueue = new InProcessLaunchQueue({
            concurrency: options.launchConcurrency ?? LOCAL_LAUNCH_CONCURRENCY,
            launch: (sessionId) => launchSession(core, sessionId),
            log,
          });
          return launchQueue;
        },
        directory,
        signer,
        gatewayOrigin,
        endedSessionsFile: endedSessionsPath(homesDir),
        events,
        log,
        metrics: options.quiet
          ? discardMetrics
          : new EmfMetrics({ dimensions: { Stage: 'local' }, write: output?.fileOnly }),
        ...(options.clock ? { clock: options.clock } : {}),
      },
      jupyter.ui,
    );

    const launches = launchQueue;
    if (launches) cleanups.push(async () => launches.close());
    const taskEvents = makeTaskEventsHandler(deps);
    onTaskEvent = async (event) => {
      try {
        await taskEvents(event);
      } catch (error) {
        log('error', 'task event failed', { taskArn: event.detail.taskArn, error: String(error) });
      }
    };

    // Sessions the previous run left behind lost their processes with it.
    await markLeftoversLost(deps);

    const tls = await loadGatewayTls({
      publicUrl: local.publicUrl,
      dataDir,
      ...(local.tlsCert ? { certFile: local.tlsCert } : {}),
      ...(local.tlsKey ? { keyFile: local.tlsKey } : {}),
    });
    const machineClients = await new LocalMachineClients({ dataDir }).list();
    const ltiKeys = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
    const toolKey = await loadOrCreateLtiToolKey(dataDir);
    const lti: GatewayLti = {
      deps: {
        platforms: new LocalLtiPlatforms({ dataDir }),
        replay: new MemoryLtiReplayGuard(),
        toolUrl: local.publicUrl.replace(/\/+$/, ''),
        // One cached key set per platform JWKS URL (jose refetches on an unknown kid).
        keysFor: (platform) => {
          let keys = ltiKeys.get(platform.jwksUrl);
          if (!keys) {
            keys = createRemoteJWKSet(new URL(platform.jwksUrl), { timeoutDuration: 5_000 });
            ltiKeys.set(platform.jwksUrl, keys);
          }
          return keys;
        },
      },
      enter: (launch) => enterFromLti(deps, launch),
      toolJwks: toolKey.publicJwks,
      toolKey: toolKey.key,
    };
    const gateway = await startGateway({
      host: local.host,
      port: local.port,
      publicUrl: local.publicUrl,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      dataDir,
      directory,
      router,
      signer,
      endedSessionsFile: endedSessionsPath(homesDir),
      portal: makePortalHandler(portalDeps),
      api: makeApiHandler(apiDeps),
      lti,
      ...(local.upstream ? { upstream: local.upstream } : {}),
      extraClients: machineClients.map(({ clientId, clientSecret, scopes }) => ({
        clientId,
        clientSecret,
        scopes,
      })),
      report: log,
    });
    cleanups.push(() => gateway.close());

    // The culler on a timer, as EventBridge Scheduler runs it in AWS.
    // The culler's activity probe, like a route, goes only to a lab this process started:
    // a forged session's address is never contacted (it counts as a missed probe).
    const cull = makeCullerHandler({
      ...cullerDeps,
      probe: {
        probe: async (session) => {
          if (session.target && !routable(session.id, session.target, session.computeHandle))
            throw new LabUnreachableError(
              `Session ${session.id} names ${session.target.host}:${session.target.port}, where hubless started no server for it.`,
            );
          return cullerDeps.probe.probe(session);
        },
      },
    });
    const cullTimer = setInterval(() => {
      cull().catch((error: unknown) => log('error', 'culler run failed', { error: String(error) }));
    }, settings.cullEverySeconds * 1000);
    cullTimer.unref();
    cleanups.push(async () => clearInterval(cullTimer));

    let stopped = false;
    return {
      url: local.publicUrl,
      deps,
      router,
      directory,
      firstAdmin,
      isolation: isolationOf(accounts, Boolean(options.compute)),
      homesDir,
      dynamo,
      cull,
      ...(tls ? { tls } : {}),
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll(deps, 'hubless was shut down.');
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw error;
  }
}

function isolationOf(accounts: LabAccounts, customCompute: boolean): LocalRuntime['isolation'] {
  if (accounts.isolated && !customCompute)
    return {
      usersIsolated: true,
      notice:
        "Users are kept apart: each one's labs run as a locked system account of their own (hubless-<name>), " +
        'with a home only they can open; the data dir and DynamoDB Local are out of their reach.',
    };
  const me = userInfo();
  return {
    usersIsolated: false,
    notice:
      `Users are NOT kept apart: every lab runs as ${me.username} (uid ${me.uid}), so code in one user's ` +
      "notebook can read the others' files and hubless's data dir. Fine for one person or a group that " +
      'trusts each other; to serve a class, run hubless as root on Linux (each user then gets an account of their own).',
  };
}

async function markLeftoversLost(deps: CoreDeps): Promise<void> {
  for (const session of await listServers(deps, { states: ACTIVE_STATES })) {
    // A stop already under way only needs to see that its process is gone (advance polls
    // the new compute, which does not know it); anything else is stopped as lost.
    const ended =
      session.state === 'stopping'
        ? advance(deps, session)
        : stopSession(deps, session, {
            code: 'lost',
            message:
              'hubless ended without stopping this server (it was killed or crashed); ' +
              'the server was stopped when hubless started again. Your files are safe; start it again.',
          });
    await ended.catch(() => undefined);
  }
}

async function stopAll(deps: CoreDeps, message: string): Promise<void> {
  const sessions = await listServers(deps, { states: ACTIVE_STATES }).catch(() => []);
  await Promise.all(
    sessions.map((s) => stopSession(deps, s, { code: 'admin', message }).catch(() => undefined)),
  );
}
