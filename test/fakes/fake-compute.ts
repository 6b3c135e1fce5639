import { SpawnError } from '../../functions/core/errors.ts';
import type { Compute, ComputeStatus, ComputeTask, LaunchSpec } from '../../functions/core/ports.ts';
import type { Target } from '../../functions/core/session.ts';
import type { TaskStateChangeEvent } from '../../functions/core/task-event.ts';

/**
 * A compute that fails on purpose (STYLE.md 6). Each start follows a behaviour:
 * - normal: running after `startMs`
 * - slow: like normal, with a long `startMs`
 * - never-starts: pending forever
 * - crashes-mid-start: exits with a crash after `startMs`
 * - refuses: start() throws (the platform said no)
 * Transitions run on timers and are also reported as ECS-shaped task events, like the
 * real adapters; tests can also drive them by hand with run/crash.
 */
export type FakeBehaviour =
  /** `startMs` as [low, high]: a uniform random delay, like real platforms. */
  | { kind: 'normal'; startMs?: number | [number, number] }
  | { kind: 'slow'; startMs: number }
  | { kind: 'never-starts' }
  | { kind: 'crashes-mid-start'; startMs?: number; exitCode?: number }
  | { kind: 'refuses'; error?: Error };

interface FakeTask {
  spec: LaunchSpec;
  status: ComputeStatus;
  version: number;
  timer?: NodeJS.Timeout;
}

export class FakeCompute implements Compute {
  readonly tasks = new Map<string, FakeTask>();
  readonly calls: { start: LaunchSpec[]; stop: string[] } = { start: [], stop: [] };
  private next = 1;
  private readonly behaviour: (spec: LaunchSpec) => FakeBehaviour;
  private readonly onEvent?: (event: TaskStateChangeEvent) => void | Promise<void>;
  private readonly target?: Target;

  constructor(
    options: {
      behaviour?: FakeBehaviour | ((spec: LaunchSpec) => FakeBehaviour);
      onEvent?: (event: TaskStateChangeEvent) => void | Promise<void>;
      /** Where every running task listens; by default a made-up 10.0.x.y:8888 per task. */
      target?: Target;
    } = {},
  ) {
    const behaviour = options.behaviour ?? { kind: 'normal', startMs: 0 };
    this.behaviour = typeof behaviour === 'function' ? behaviour : () => behaviour;
    this.onEvent = options.onEvent;
    this.target = options.target;
  }

  async start(spec: LaunchSpec): Promise<string> {
    this.calls.start.push(spec);
    const behaviour = this.behaviour(spec);
    if (behaviour.kind === 'refuses') {
      throw behaviour.error ?? new SpawnError('The platform refused to start the server (fake).');
    }
    const handle = `fake-task/${this.next++}`;
    const task: FakeTask = { spec, status: { state: 'pending' }, version: 1 };
    this.tasks.set(handle, task);
    if (behaviour.kind === 'normal' || behaviour.kind === 'slow') {
      const delay = Array.isArray(behaviour.startMs)
        ? behaviour.startMs[0] + Math.random() * (behaviour.startMs[1] - behaviour.startMs[0])
        : (behaviour.startMs ?? 0);
      task.timer = setTimeout(() => this.run(handle), delay);
    } else if (behaviour.kind === 'crashes-mid-start') {
      task.timer = setTimeout(() => this.crash(handle, behaviour.exitCode ?? 1), behaviour.startMs ?? 0);
    }
    return handle;
  }

  async poll(handle: string): Promise<ComputeStatus> {
    return (
      this.tasks.get(handle)?.status ?? {
        state: 'exited',
        code: 'lost',
        reason: 'The platform does not know this server.',
      }
    );
  }

  async stop(handle: string, reason: string): Promise<void> {
    this.calls.stop.push(handle);
    const task = this.tasks.get(handle);
    if (!task || task.status.state === 'exited') return;
    this.exit(handle, { state: 'exited', code: 'user', reason });
  }

  async list(): Promise<ComputeTask[]> {
    return [...this.tasks.entries()].map(([handle, task]) => ({
      handle,
      sessionId: task.spec.sessionId,
      alive: task.status.state !== 'exited',
    }));
  }

  /** Makes a pending task run (target 10.0.0.<n>:8888). */
  run(handle: string): void {
    const task = this.tasks.get(handle);
    if (task?.status.state !== 'pending') return;
    const n = Number(handle.split('/')[1]);
    task.status = {
      state: 'running',
      target: this.target ?? { host: `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`, port: 8888 },
    };
    this.emit(handle, task);
  }

  crash(handle: string, exitCode = 1): void {
    this.exit(handle, {
      state: 'exited',
      code: 'crashed',
      reason: `The server exited with exit code ${exitCode}.`,
      exitCode,
    });
  }

  private exit(handle: string, status: ComputeStatus): void {
    const task = this.tasks.get(handle);
    if (!task) return;
    clearTimeout(task.timer);
    task.status = status;
    this.emit(handle, task);
  }

  private emit(handle: string, task: FakeTask): void {
    if (!this.onEvent) return;
    task.version += 1;
    const status = task.status;
    const event: TaskStateChangeEvent = {
      'detail-type': 'ECS Task State Change',
      source: 'hubless.local',
      detail: {
        taskArn: handle,
        startedBy: task.spec.sessionId,
        version: task.version,
        lastStatus:
          status.state === 'running' ? 'RUNNING' : status.state === 'exited' ? 'STOPPED' : 'PENDING',
        stopCode:
          status.state === 'exited'
            ? status.code === 'user'
              ? 'UserInitiated'
              : 'EssentialContainerExited'
            : undefined,
        stoppedReason: status.state === 'exited' ? status.reason : undefined,
        containers: [
          {
            name: 'lab',
            exitCode: status.state === 'exited' ? (status.exitCode ?? 0) : undefined,
            networkBindings: status.state === 'running' ? [{ hostPort: status.target.port }] : undefined,
          },
        ],
        attachments:
          status.state === 'running'
            ? [{ type: 'eni', details: [{ name: 'privateIPv4Address', value: status.target.host }] }]
            : undefined,
      },
    };
    void Promise.resolve(this.onEvent(event)).catch(() => undefined);
  }

  /** Clears pending timers so a test ends cleanly. */
  dispose(): void {
    for (const task of this.tasks.values()) clearTimeout(task.timer);
  }
}
