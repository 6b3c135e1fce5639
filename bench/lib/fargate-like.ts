import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Compute, ComputeStatus, ComputeTask, LaunchSpec } from '../../functions/core/ports.ts';
import type { TaskStateChangeEvent } from '../../functions/core/task-event.ts';
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

interface Task {
  spec: LaunchSpec;
  status: ComputeStatus;
  version: number;
  timer?: NodeJS.Timeout;
}

export class FargateLikeCompute implements Compute {
  readonly tasks = new Map<string, Task>();
  /** Milliseconds each start() waited for a launch token (the throttling retries). */
  readonly throttleWaits: number[] = [];
  readonly #options: FargateLikeOptions;
  #tokens: number;
  #refilledAt = performance.now();
  #queue: Promise<void> = Promise.resolve();
  #next = 1;

  constructor(options: FargateLikeOptions) {
    this.#options = options;
    this.#tokens = options.burst;
  }

  /** Launches per user (servers per user); the benchmark checks each is exactly 1. */
  startsByUser(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const task of this.tasks.values()) counts.set(task.spec.user, (counts.get(task.spec.user) ?? 0) + 1);
    return counts;
  }

  async start(spec: LaunchSpec): Promise<string> {
    const waited = await this.#takeToken();
    this.throttleWaits.push(waited);
    const handle = `arn:aws:ecs:local:000000000000:task/bench/${this.#next++}`;
    const task: Task = {
      spec,
      status: { state: 'pending', message: 'The server is provisioning.' },
      version: 1,
    };
    this.tasks.set(handle, task);
    const [low, high] = this.#options.startMs;
    task.timer = setTimeout(
      () => {
        task.status = { state: 'running', target: this.#options.target };
        this.#emit(handle, task);
      },
      low + Math.random() * (high - low),
    );
    return handle;
  }

  async poll(handle: string): Promise<ComputeStatus> {
    return (
      this.tasks.get(handle)?.status ?? {
        state: 'exited',
        code: 'lost',
        reason: 'The platform does not know this task.',
      }
    );
  }

  async stop(handle: string, reason: string): Promise<void> {
    const task = this.tasks.get(handle);
    if (!task || task.status.state === 'exited') return;
    clearTimeout(task.timer);
    task.status = { state: 'exited', code: 'user', reason };
    this.#emit(handle, task);
  }

  async list(): Promise<ComputeTask[]> {
    return [...this.tasks].map(([handle, task]) => ({
      handle,
      sessionId: task.spec.sessionId,
      alive: task.status.state !== 'exited',
    }));
  }

  dispose(): void {
    for (const task of this.tasks.values()) clearTimeout(task.timer);
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

  #emit(handle: string, task: Task): void {
    task.version += 1;
    const status = task.status;
    const event: TaskStateChangeEvent = {
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      detail: {
        taskArn: handle,
        startedBy: task.spec.sessionId,
        version: task.version,
        lastStatus:
          status.state === 'running' ? 'RUNNING' : status.state === 'exited' ? 'STOPPED' : 'PENDING',
        stopCode: status.state === 'exited' ? 'UserInitiated' : undefined,
        stoppedReason: status.state === 'exited' ? status.reason : undefined,
        containers: [
          {
            name: 'lab',
            networkBindings: status.state === 'running' ? [{ hostPort: status.target.port }] : undefined,
          },
        ],
        attachments:
          status.state === 'running'
            ? [{ type: 'eni', details: [{ name: 'privateIPv4Address', value: status.target.host }] }]
            : undefined,
      },
    };
    void this.#options.onEvent(event).catch(() => undefined);
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
