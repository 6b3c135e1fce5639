import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LaunchSpec } from '../../functions/core/ports.ts';
import type { TaskStateChangeEvent } from '../../functions/core/task-event.ts';
import { FakeCompute } from '../../test/fakes/fake-compute.ts';
import { sleep } from './common.ts';

/**
 * A compute that waits like Fargate, scaled down in time: a task launch is accepted at
 * Fargate's launch rate (a bucket of `burst` launches refilled at `ratePerSecond`; an
 * over-rate RunTask is throttled and EcsCompute retries it, so here start() waits for a
 * token), then the task is RUNNING after a uniform `startMs` delay (Fargate's 30-60 s
 * divided by 100). Its target is a real HTTP server on 127.0.0.1 that answers every path
 * with 200, so the gateway's readiness probe through the route succeeds as for a lab.
 * Task state changes are reported as ECS-shaped events, like the real adapters.
 */
export interface FargateLikeOptions {
  burst: number;
  ratePerSecond: number;
  startMs: [number, number];
  target: { host: string; port: number };
  onEvent: (event: TaskStateChangeEvent) => Promise<void>;
}

/** The fake compute core's tests use, behind a launch-rate limiter. */
export class FargateLikeCompute extends FakeCompute {
  /** Milliseconds each start() waited for a launch token (the throttling retries). */
  readonly throttleWaits: number[] = [];
  readonly #options: FargateLikeOptions;
  #tokens: number;
  #refilledAt = performance.now();
  #queue: Promise<void> = Promise.resolve();

  constructor(options: FargateLikeOptions) {
    super({
      behaviour: { kind: 'normal', startMs: options.startMs },
      target: options.target,
      onEvent: options.onEvent,
    });
    this.#options = options;
    this.#tokens = options.burst;
  }

  /** Launches per user (servers per user); the benchmark checks each is exactly 1. */
  startsByUser(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const task of this.tasks.values()) counts.set(task.spec.user, (counts.get(task.spec.user) ?? 0) + 1);
    return counts;
  }

  override async start(spec: LaunchSpec): Promise<string> {
    this.throttleWaits.push(await this.#takeToken());
    return super.start(spec);
  }

  /** Waits its turn for a launch token; returns how long it waited. Launches are served in order. */
  #takeToken(): Promise<number> {
    const asked = performance.now();
    const turn = this.#queue.then(async () => {
      for (;;) {
        const now = performance.now();
        this.#tokens = Math.min(
          this.#options.burst,
          this.#tokens + ((now - this.#refilledAt) / 1000) * this.#options.ratePerSecond,
        );
        this.#refilledAt = now;
        if (this.#tokens >= 1) {
          this.#tokens -= 1;
          return;
        }
        await sleep(((1 - this.#tokens) / this.#options.ratePerSecond) * 1000);
      }
    });
    this.#queue = turn;
    return turn.then(() => performance.now() - asked);
  }
}

/** One tiny HTTP server standing in for every lab: 200 with a JSON body on any path. */
export async function startFakeLab(): Promise<{
  port: number;
  requests: () => number;
  close(): Promise<void>;
}> {
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"fake-lab"}');
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
