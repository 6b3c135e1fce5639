/**
 * Benchmark: one culler run (idle sweep + reconciliation) over 1,000 and 10,000 ready
 * sessions stored in DynamoDB Local, with fake labs answering /api/status, /api/kernels
 * and /api/terminals from one local HTTP server (each session's target differs by its
 * base URL). Every tenth lab reports two hours without activity, so it is culled.
 *
 * The table also holds as many finished sessions as ready ones (a class's history).
 * Anchor, measured in the same run: what a Scan of that table costs, i.e. what a
 * culler without the state index would read each time (jupyterhub-idle-culler instead
 * lists every user through the hub's REST API).
 *
 * Run alone: `node bench/culler-sweep.ts [--sizes 1000,10000] [--concurrency 10]`.
 * Prints one JSON document to stdout. Needs Java (DynamoDB Local); no network.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoLeaseStore } from '../functions/adapters/dynamodb/lease-store.ts';
import { keyPrefix, TABLE_KEYS } from '../functions/adapters/dynamodb/schema.ts';
import { DynamoSessionStore, sessionKey } from '../functions/adapters/dynamodb/session-store.ts';
import { ensureTable } from '../functions/adapters/dynamodb/table.ts';
import { HttpActivityProbe } from '../functions/adapters/http/activity-probe.ts';
import { GatewayRouter } from '../functions/adapters/local/gateway-router.ts';
import { EmfMetrics } from '../functions/adapters/metrics/emf.ts';
import { DEFAULT_PROFILES } from '../functions/core/config.ts';
import type { CullerDeps } from '../functions/core/culling/ports.ts';
import { randomHex } from '../functions/core/ids.ts';
import { hmacLabTokens } from '../functions/core/lab-tokens.ts';
import type { Compute, ComputeStatus, ComputeTask } from '../functions/core/ports.ts';
import { systemClock } from '../functions/core/ports.ts';
import type { Session } from '../functions/core/session.ts';
import { cullServers } from '../functions/core/use-cases/cull.ts';
import { launchInRequest } from '../functions/core/use-cases/launch-session.ts';
import { createLocalDynamoClients, startDynamoDbLocal } from '../functions/local/dynamodb-local.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    concurrency: { type: 'string', default: '10' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const concurrency = Number(values.concurrency);
const IDLE_EVERY = 10;

/** Compute stand-in: every seeded task runs until stopped (the sweep's cost, not Jupyter's, is measured). */
class BenchCompute implements Compute {
  readonly alive = new Map<string, string>();
  async start(): Promise<string> {
    throw new Error('not used by the culler');
  }
  async poll(handle: string): Promise<ComputeStatus> {
    return this.alive.has(handle)
      ? { state: 'running', target: { host: '127.0.0.1', port: 1 } }
      : { state: 'exited', code: 'user', reason: 'stopped' };
  }
  async stop(handle: string): Promise<void> {
    this.alive.delete(handle);
  }
  async list(): Promise<ComputeTask[]> {
    return [...this.alive].map(([handle, sessionId]) => ({ handle, sessionId, alive: true }));
  }
}

/** One HTTP server for every fake lab: /user/u<n>/api/... */
async function startFakeLabs(): Promise<{
  port: number;
  requests: () => number;
  close: () => Promise<void>;
}> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const match = /^\/user\/u(\d+)\/api\/(status|kernels|terminals)/.exec(req.url ?? '');
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const idle = Number(match[1]) % IDLE_EVERY === 0;
    const last = new Date(Date.now() - (idle ? 2 * 3600_000 : 5_000)).toISOString();
    const body =
      match[2] === 'status'
        ? { last_activity: last, connections: 1, kernels: 1, started: last }
        : match[2] === 'kernels'
          ? [{ id: 'k', name: 'python3', last_activity: last, execution_state: 'idle', connections: 1 }]
          : [];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function itemFor(session: Session): Record<string, unknown> {
  return {
    ...sessionKey(session.user, session.server),
    [TABLE_KEYS.stateIndexPartitionKey]: `${keyPrefix.state}${session.state}`,
    [TABLE_KEYS.stateIndexSortKey]: `${session.updatedAt}#${session.id}`,
    ...session,
  };
}

async function batchWrite(
  doc: DynamoDBDocumentClient,
  tableName: string,
  items: Record<string, unknown>[],
): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let requests = batches[next++]!.map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const result = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function main(): Promise<void> {
  const local = await startDynamoDbLocal();
  const labs = await startFakeLabs();
  const { client, doc } = createLocalDynamoClients(local.endpoint);
  // Ask DynamoDB for the capacity every read consumed, and add it up.
  const consumed = { queryUnits: 0, queries: 0, writes: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      if (context.commandName === 'PutCommand' || context.commandName === 'PutItemCommand') consumed.writes++;
      if (context.commandName === 'QueryCommand') input.ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      if (context.commandName === 'QueryCommand') {
        consumed.queries++;
        consumed.queryUnits +=
          (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity
            ?.CapacityUnits ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'benchConsumedCapacity' },
  );

  const runs: Record<string, unknown>[] = [];
  try {
    for (const size of sizes) {
      const tableName = `bench-culler-${size}-${randomHex(4)}`;
      await ensureTable(client, tableName);
      const compute = new BenchCompute();
      const router = new GatewayRouter({ maxRoutes: size + 10 });
      const now = new Date();
      const readyAt = new Date(now.getTime() - 3 * 3600_000).toISOString();
      const seeded: Record<string, unknown>[] = [];
      for (let n = 0; n < size; n++) {
        const user = `u${n}`;
        const id = `${user}__${randomHex(6)}`;
        const handle = `bench-task/${n}`;
        const base = { user, server: '', profile: 'standard', version: 3, createdAt: readyAt, events: [] };
        const ready: Session = {
          ...base,
          id,
          state: 'ready',
          updatedAt: readyAt,
          readyAt,
          lastActivity: n % IDLE_EVERY === 0 ? readyAt : new Date(now.getTime() - 5_000).toISOString(),
          computeHandle: handle,
          target: { host: '127.0.0.1', port: labs.port },
        };
        // A finished session of another server of the same user: history the sweep must not read.
        const old: Session = {
          ...base,
          id: `${user}_old_${randomHex(6)}`,
          server: 'old',
          state: 'stopped',
          updatedAt: readyAt,
          stoppedAt: readyAt,
        };
        seeded.push(itemFor(ready), itemFor(old));
        compute.alive.set(handle, id);
        await router.addRoute(ready, ready.target!);
      }
      const seedStart = performance.now();
      await batchWrite(doc, tableName, seeded);
      const seedMs = Math.round(performance.now() - seedStart);

      const metricLines: string[] = [];
      const store = new DynamoSessionStore({ client: doc, tableName });
      const labTokens = hmacLabTokens(async () => randomHex(32));
      const deps: CullerDeps = {
        // The sweep starts nothing.
        launches: launchInRequest(() => deps),
        store,
        compute,
        router,
        homes: { ensure: async (user) => user },
        directory: {
          get: async () => undefined,
          list: async () => [],
          upsert: async () => Promise.reject(new Error('unused')),
          disable: async () => undefined,
          enable: async () => undefined,
          resetPassword: async () => Promise.reject(new Error('unused')),
        },
        events: { publish: async () => undefined },
        clock: systemClock,
        settings: {
          idleTimeoutSeconds: 3600,
          maxAgeSeconds: 0,
          startTimeoutSeconds: 180,
          profiles: DEFAULT_PROFILES,
        },
        labEnvironment: () => ({}),
        labTokens,
        randomId: randomHex,
        probe: new HttpActivityProbe({ labTokens }),
        lease: new DynamoLeaseStore({ client: doc, tableName }),
        metrics: new EmfMetrics({ write: (line) => metricLines.push(line) }),
        culling: { concurrency },
      };

      consumed.queryUnits = 0;
      consumed.queries = 0;
      consumed.writes = 0;
      const requestsBefore = labs.requests();
      const started = performance.now();
      const run = await cullServers(deps);
      const durationMs = Math.round(performance.now() - started);
      if ('skipped' in run) throw new Error('lease held');
      const sweepQueries = { ...consumed };

      const scanStart = performance.now();
      let scanUnits = 0;
      let scanned = 0;
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: tableName,
            ReturnConsumedCapacity: 'TOTAL',
            ExclusiveStartKey: startKey as never,
          }),
        );
        scanUnits += page.ConsumedCapacity?.CapacityUnits ?? 0;
        scanned += page.Count ?? 0;
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      const scanMs = Math.round(performance.now() - scanStart);

      runs.push({
        readySessions: size,
        finishedSessionsInTable: size,
        concurrency,
        seedMs,
        sweep: {
          durationMs,
          itemsRead: run.itemsRead,
          queries: sweepQueries.queries,
          readCapacityUnits: sweepQueries.queryUnits,
          writes: sweepQueries.writes,
          labsProbed: run.checked,
          labRequests: labs.requests() - requestsBefore,
          probesPerSecond: Math.round((run.checked / durationMs) * 1000),
          culledIdle: run.culled.idle,
          kept: run.kept,
          errors: run.errors,
          metricLines: metricLines.length,
        },
        anchor: {
          name: 'full table Scan (no state index)',
          itemsRead: scanned,
          readCapacityUnits: scanUnits,
          durationMs: scanMs,
        },
      });
    }
  } finally {
    client.destroy();
    await labs.close();
    await local.stop();
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'culler-sweep', node: process.version, runs }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `culler-sweep bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
