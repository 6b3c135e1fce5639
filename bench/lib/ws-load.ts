/**
 * A WebSocket load generator for Jupyter kernel channels, run as its own process so the
 * load does not share an event loop with what it measures. Each of `--connections`
 * sockets sends kernel_info_request on the shell channel and waits for its reply, over
 * and over, for `--duration` seconds. Prints one JSON document:
 * { roundTrips, errors, mean, p50, p99, perSecond } (latencies in ms).
 *
 * `node bench/lib/ws-load.ts --url ws://... --connections 32 --duration 5 --headers '{"cookie":"..."}'`
 */

import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { shellMessage } from '../../test/support/jupyter-kernel.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    headers: { type: 'string', default: '{}' },
  },
});
const url = values.url ?? '';
const connections = Number(values.connections);
const durationMs = Number(values.duration) * 1000;
const headers = JSON.parse(values.headers) as Record<string, string>;

function message(session: string, msgId: string): string {
  return shellMessage('kernel_info_request', msgId, {}, session);
}

async function open(): Promise<WebSocket> {
  // Node's WebSocket (undici) takes extra headers: the session cookie or the identity header.
  const socket = new WebSocket(url, { headers } as unknown as string[]);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener(
      'error',
      (event) => reject(new Error(`WebSocket error: ${(event as ErrorEvent).message ?? 'unknown'}`)),
      { once: true },
    );
  });
  return socket;
}

async function worker(socket: WebSocket, until: number, latencies: number[]): Promise<number> {
  const session = randomUUID();
  let errors = 0;
  let waiting: { msgId: string; resolve: () => void } | undefined;
  socket.addEventListener('message', (event) => {
    const reply = JSON.parse(String(event.data)) as { msg_type: string; parent_header?: { msg_id?: string } };
    if (waiting && reply.msg_type === 'kernel_info_reply' && reply.parent_header?.msg_id === waiting.msgId)
      waiting.resolve();
  });
  while (performance.now() < until) {
    const msgId = randomUUID();
    const sent = performance.now();
    const answered = new Promise<void>((resolve) => {
      waiting = { msgId, resolve };
    });
    socket.send(message(session, msgId));
    const timedOut = await Promise.race([
      answered.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), 10_000)),
    ]);
    if (timedOut) {
      errors++;
      break;
    }
    latencies.push(performance.now() - sent);
  }
  return errors;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const sockets = await Promise.all(Array.from({ length: connections }, open));
const latencies: number[] = [];
// Half a second of warm-up, not counted.
await Promise.all(sockets.map((socket) => worker(socket, performance.now() + 500, [])));
const started = performance.now();
const errors = (
  await Promise.all(sockets.map((socket) => worker(socket, started + durationMs, latencies)))
).reduce((a, b) => a + b, 0);
const elapsed = performance.now() - started;
for (const socket of sockets) socket.close();
process.stdout.write(
  `${JSON.stringify({ roundTrips: latencies.length, errors, mean: latencies.reduce((a, b) => a + b, 0) / latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: (latencies.length / elapsed) * 1000 })}\n`,
);
process.exit(0);
