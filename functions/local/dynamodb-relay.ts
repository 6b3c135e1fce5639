/**
 * Runs inside DynamoDB Local's own network namespace (see dynamodb-isolation.ts):
 *   node dynamodb-relay.ts <socket path> <port> -- <java command and arguments…>
 * brings the namespace's loopback up, starts DynamoDB Local on <port> there, and relays
 * every connection to the Unix socket (mode 0600, in the data dir) to that port. It is
 * the only way in: the port exists in no other namespace. It stops DynamoDB Local on
 * SIGTERM/SIGINT, and when the hubless process that started it is gone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const [socketPath, portText, separator, command, ...args] = process.argv.slice(2);
if (!socketPath || !portText || separator !== '--' || !command) {
  console.error('usage: dynamodb-relay.ts <socket path> <port> -- <command> [args…]');
  process.exit(2);
}
const port = Number(portText);

const lo = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8' });
if (lo.status !== 0) {
  console.error(`could not bring up the loopback of DynamoDB Local's namespace: ${lo.stderr || lo.error}`);
  process.exit(1);
}

// Files DynamoDB Local writes (its database) are the service account's alone.
process.umask(0o077);
const java = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });

rmSync(socketPath, { force: true });
const relay = createServer((client) => {
  const upstream = connect(port, '127.0.0.1');
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
relay.listen(socketPath, () => chmodSync(socketPath, 0o600));

const parent = process.ppid;
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  java.kill('SIGTERM');
  setTimeout(() => java.kill('SIGKILL'), 5_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// No orphan: when hubless dies without stopping us (kill -9), we are reparented.
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1_000).unref();

java.once('exit', (code, signal) => {
  relay.close();
  rmSync(socketPath, { force: true });
  process.exit(code ?? (signal ? 128 + 15 : 1));
});
java.once('error', (error) => {
  console.error(`could not run ${command}: ${error.message}`);
  rmSync(socketPath, { force: true });
  process.exit(1);
});
