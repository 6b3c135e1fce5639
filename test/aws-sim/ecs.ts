import { createHash } from 'node:crypto';
import { awsError } from './errors.ts';

/**
 * ECS on Fargate as hubless uses it: task definitions by family and revision (with
 * tags), RunTask with capacity providers and client-token idempotency, Fargate's task
 * launch rate (a bucket of 100 that refills at 20 per second; beyond it RunTask answers
 * ThrottlingException), the task lifecycle PROVISIONING -> PENDING -> RUNNING ->
 * (DEACTIVATING ->) STOPPING -> DEPROVISIONING -> STOPPED with stop codes, and an "ECS
 * Task State Change" event for every status change, handed to `emit` (the account
 * delivers them to the task-event Lambda, late, twice or not at all when told to).
 */

export interface SimTask {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  startedBy?: string;
  lastStatus: string;
  desiredStatus: string;
  stopCode?: string;
  stoppedReason?: string;
  version: number;
  ip: string;
  capacityProvider: string;
  group?: string;
  environment: Record<string, string>;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  tags: Array<{ key?: string; value?: string }>;
}

export interface TaskDefinition {
  arn: string;
  family: string;
  revision: number;
  status: 'ACTIVE' | 'INACTIVE';
  input: Record<string, unknown>;
  tags: Array<{ key?: string; value?: string }>;
}

export interface EcsTiming {
  /** PROVISIONING -> PENDING (ENI attached). */
  provisionMs: number;
  /** PENDING -> RUNNING (image pulled, container started). */
  startMs: number;
  /** STOPPING -> STOPPED. */
  stopMs: number;
}

export interface EcsFaults {
  /** Probability that a RunTask answers a failure entry instead of a task. */
  runTaskFailure: number;
  runTaskFailureReasons: string[];
}

export class SimEcs {
  readonly tasks = new Map<string, SimTask>();
  readonly definitions = new Map<string, TaskDefinition[]>();
  readonly faults: EcsFaults = { runTaskFailure: 0, runTaskFailureReasons: ['RESOURCE:ENI'] };
  /** Fargate's launch rate: a bucket of `burst` tokens refilled at `perSecond`. */
  readonly launchRate = { burst: 100, perSecond: 20 };
  launchesThrottled = 0;
  readonly #region: string;
  readonly #account: string;
  readonly #clusterArn: string;
  readonly #timing: EcsTiming;
  readonly #tokens = new Map<string, string>();
  readonly #emit: (task: SimTask) => void;
  readonly #onRunning: (task: SimTask) => Promise<void>;
  readonly #onStopped: (task: SimTask) => void;
  #bucket: number;
  #refilledAt = Date.now();
  #nextIp = 16 * 256 + 5;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: {
    region: string;
    account: string;
    clusterArn: string;
    timing: EcsTiming;
    emit: (task: SimTask) => void;
    /** Starts the task's lab (resolves when it listens). */
    onRunning: (task: SimTask) => Promise<void>;
    onStopped: (task: SimTask) => void;
  }) {
    this.#region = options.region;
    this.#account = options.account;
    this.#clusterArn = options.clusterArn;
    this.#timing = options.timing;
    this.#emit = options.emit;
    this.#onRunning = options.onRunning;
    this.#onStopped = options.onStopped;
    this.#bucket = this.launchRate.burst;
  }

  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }

  /** Tasks not yet STOPPED. */
  liveTasks(): SimTask[] {
    return [...this.tasks.values()].filter((task) => task.lastStatus !== 'STOPPED');
  }

  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'DescribeTaskDefinition':
        return this.#describeTaskDefinition(input);
      case 'RegisterTaskDefinition':
        return this.#register(input);
      case 'RunTask':
        return this.#runTask(input);
      case 'DescribeTasks': {
        this.#cluster(input.cluster);
        const arns = (input.tasks as string[]) ?? [];
        if (arns.length > 100) throw awsError('InvalidParameterException', 'Tasks cannot be more than 100');
        return {
          tasks: arns.flatMap((arn) =>
            this.tasks.has(arn) ? [describe(this.tasks.get(arn) as SimTask)] : [],
          ),
          failures: arns.filter((arn) => !this.tasks.has(arn)).map((arn) => ({ arn, reason: 'MISSING' })),
        };
      }
      case 'StopTask': {
        this.#cluster(input.cluster);
        const task = this.tasks.get(String(input.task));
        if (!task) throw awsError('InvalidParameterException', 'The referenced task was not found.');
        this.stop(task, 'UserInitiated', String(input.reason ?? 'Task stopped by user'));
        return { task: describe(task) };
      }
      case 'ListTasks': {
        this.#cluster(input.cluster);
        const desired = input.desiredStatus as string | undefined;
        const all = [...this.tasks.values()]
          .filter((task) =>
            desired
              ? task.desiredStatus === desired
              : task.desiredStatus === 'RUNNING' || task.lastStatus !== 'STOPPED',
          )
          .filter((task) => !input.startedBy || task.startedBy === input.startedBy)
          .map((task) => task.taskArn);
        const size = Math.min(Number(input.maxResults ?? 100), 100);
        const from = Number(input.nextToken ?? 0);
        return {
          taskArns: all.slice(from, from + size),
          ...(from + size < all.length ? { nextToken: String(from + size) } : {}),
        };
      }
      default:
        throw awsError('UnsupportedOperation', `The simulator does not implement ECS ${operation}`);
    }
  }

  /** Stops a task the way ECS does, with `stopCode` (SpotInterruption for an interruption). */
  stop(task: SimTask, stopCode: string, reason: string): void {
    if (task.desiredStatus === 'STOPPED') return;
    task.desiredStatus = 'STOPPED';
    task.stopCode = stopCode;
    task.stoppedReason = reason.slice(0, 255);
    const wasRunning = task.lastStatus === 'RUNNING';
    this.#status(task, wasRunning ? 'DEACTIVATING' : 'STOPPING');
    this.#later(this.#timing.stopMs, () => {
      this.#status(task, 'DEPROVISIONING');
      this.#onStopped(task);
      this.#later(this.#timing.stopMs / 2, () => {
        task.stoppedAt = Date.now();
        this.#status(task, 'STOPPED');
      });
    });
  }

  #describeTaskDefinition(input: Record<string, unknown>): Record<string, unknown> {
    const definition = this.#resolve(String(input.taskDefinition));
    if (!definition) throw awsError('ClientException', 'Unable to describe task definition.');
    return {
      taskDefinition: {
        ...definition.input,
        taskDefinitionArn: definition.arn,
        revision: definition.revision,
        status: definition.status,
      },
      ...((input.include as string[] | undefined)?.includes('TAGS') ? { tags: definition.tags } : {}),
    };
  }

  #resolve(reference: string): TaskDefinition | undefined {
    const name = reference.includes(':task-definition/')
      ? (reference.split(':task-definition/')[1] ?? '')
      : reference;
    const [family = '', revision] = name.split(':');
    const revisions = this.definitions.get(family) ?? [];
    if (revision) return revisions.find((definition) => definition.revision === Number(revision));
    return revisions.filter((definition) => definition.status === 'ACTIVE').at(-1);
  }

  #register(input: Record<string, unknown>): Record<string, unknown> {
    const family = String(input.family);
    const revisions = this.definitions.get(family) ?? [];
    const revision = (revisions.at(-1)?.revision ?? 0) + 1;
    const { tags, ...rest } = input;
    const definition: TaskDefinition = {
      arn: `arn:aws:ecs:${this.#region}:${this.#account}:task-definition/${family}:${revision}`,
      family,
      revision,
      status: 'ACTIVE',
      input: rest,
      tags: (tags as TaskDefinition['tags']) ?? [],
    };
    this.definitions.set(family, [...revisions, definition]);
    return {
      taskDefinition: { ...rest, taskDefinitionArn: definition.arn, revision, status: 'ACTIVE' },
      tags,
    };
  }

  #runTask(input: Record<string, unknown>): Record<string, unknown> {
    this.#cluster(input.cluster);
    const token = input.clientToken as string | undefined;
    const earlier = token ? this.#tokens.get(token) : undefined;
    if (earlier) return { tasks: [describe(this.tasks.get(earlier) as SimTask)], failures: [] };
    const definition = this.#resolve(String(input.taskDefinition));
    if (!definition) throw awsError('ClientException', 'TaskDefinition not found.');
    const strategy = (input.capacityProviderStrategy as Array<{ capacityProvider: string }>) ?? [];
    const provider = strategy[0]?.capacityProvider ?? (input.launchType === 'FARGATE' ? 'FARGATE' : '');
    if (!['FARGATE', 'FARGATE_SPOT'].includes(provider))
      throw awsError(
        'InvalidParameterException',
        `The capacity provider ${provider} is not associated with the cluster.`,
      );
    const arch = (definition.input.runtimePlatform as { cpuArchitecture?: string } | undefined)
      ?.cpuArchitecture;
    if (provider === 'FARGATE_SPOT' && arch === 'ARM64')
      throw awsError(
        'PlatformTaskDefinitionIncompatibilityException',
        'Fargate Spot does not support ARM64 tasks.',
      );
    this.#refill();
    if (this.#bucket < 1) {
      this.launchesThrottled += 1;
      throw awsError('ThrottlingException', 'Rate exceeded');
    }
    this.#bucket -= 1;
    if (this.faults.runTaskFailure > 0 && Math.random() < this.faults.runTaskFailure) {
      const reasons = this.faults.runTaskFailureReasons;
      const reason = reasons[Math.floor(Math.random() * reasons.length)] ?? 'RESOURCE:ENI';
      return {
        tasks: [],
        failures: [
          {
            reason,
            detail: reason.startsWith('RESOURCE')
              ? undefined
              : 'Capacity is unavailable at this time. Please try again later or in a different availability zone',
          },
        ],
      };
    }
    const clusterName = this.#clusterArn.split('/').pop();
    const id = createHash('sha256').update(`task:${Math.random()}`).digest('hex').slice(0, 32);
    const container = definition.input.containerDefinitions as Array<{
      environment?: Array<{ name: string; value: string }>;
    }>;
    const overrides =
      (
        input.overrides as {
          containerOverrides?: Array<{ environment?: Array<{ name: string; value: string }> }>;
        }
      )?.containerOverrides?.[0]?.environment ?? [];
    const environment = Object.fromEntries(
      [...(container[0]?.environment ?? []), ...overrides].map(({ name, value }) => [name, value]),
    );
    const n = this.#nextIp++;
    const task: SimTask = {
      taskArn: `arn:aws:ecs:${this.#region}:${this.#account}:task/${clusterName}/${id}`,
      clusterArn: this.#clusterArn,
      taskDefinitionArn: definition.arn,
      startedBy: input.startedBy as string | undefined,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      version: 1,
      ip: `10.40.${(n >> 8) & 255}.${n & 255}`,
      capacityProvider: provider,
      environment,
      createdAt: Date.now(),
      tags: (input.tags as SimTask['tags']) ?? [],
    };
    this.tasks.set(task.taskArn, task);
    if (token) this.#tokens.set(token, task.taskArn);
    this.#emit(task);
    this.#later(this.#timing.provisionMs, () => {
      if (task.desiredStatus === 'STOPPED') return;
      this.#status(task, 'PENDING');
      this.#later(this.#timing.startMs, () => {
        if (task.desiredStatus === 'STOPPED') return;
        void this.#onRunning(task).then(() => {
          if (task.desiredStatus === 'STOPPED') return;
          task.startedAt = Date.now();
          this.#status(task, 'RUNNING');
        });
      });
    });
    return { tasks: [describe(task)], failures: [] };
  }

  #refill(): void {
    const now = Date.now();
    this.#bucket = Math.min(
      this.launchRate.burst,
      this.#bucket + ((now - this.#refilledAt) / 1000) * this.launchRate.perSecond,
    );
    this.#refilledAt = now;
  }

  #cluster(cluster: unknown): void {
    const name = String(cluster ?? 'default');
    if (name !== this.#clusterArn && name !== this.#clusterArn.split('/').pop())
      throw awsError('ClusterNotFoundException', 'Cluster not found.');
  }

  #status(task: SimTask, status: string): void {
    task.lastStatus = status;
    task.version += 1;
    this.#emit(task);
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }
}

/** A task as DescribeTasks and the state-change event show it. */
export function describe(task: SimTask): Record<string, unknown> {
  const running = ['RUNNING', 'DEACTIVATING', 'STOPPING'].includes(task.lastStatus) && task.startedAt;
  return {
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    taskDefinitionArn: task.taskDefinitionArn,
    startedBy: task.startedBy,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    version: task.version,
    capacityProviderName: task.capacityProvider,
    launchType: 'FARGATE',
    ...(task.stopCode ? { stopCode: task.stopCode, stoppedReason: task.stoppedReason } : {}),
    createdAt: new Date(task.createdAt),
    ...(task.startedAt ? { startedAt: new Date(task.startedAt) } : {}),
    ...(task.stoppedAt ? { stoppedAt: new Date(task.stoppedAt) } : {}),
    containers: [
      {
        name: 'lab',
        lastStatus: running ? 'RUNNING' : task.lastStatus === 'STOPPED' ? 'STOPPED' : 'PENDING',
        ...(task.lastStatus === 'STOPPED' ? { exitCode: task.stopCode === 'UserInitiated' ? 143 : 0 } : {}),
      },
    ],
    attachments:
      task.lastStatus === 'PROVISIONING'
        ? [{ type: 'ElasticNetworkInterface', status: 'PRECREATED', details: [] }]
        : [
            {
              type: 'ElasticNetworkInterface',
              status: task.lastStatus === 'STOPPED' ? 'DELETED' : 'ATTACHED',
              details: [{ name: 'privateIPv4Address', value: task.ip }],
            },
          ],
    tags: task.tags,
  };
}
