import { createHash } from 'node:crypto';
import {
  type ContainerDefinition,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  type KeyValuePair,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { CapacityError, isHublessError, SpawnError } from '../../core/errors.ts';
import type { Compute, ComputeStatus, ComputeTask, LaunchSpec } from '../../core/ports.ts';
import { baseUrlFor, parseSessionId } from '../../core/session.ts';
import { SHARED_FOLDER, SHARED_WRITE_FOLDER } from '../../core/shared-data.ts';
import { LAB_PORT, type TaskStateDetail, taskStatusFromDetail } from '../../core/task-event.ts';
import { taskFamily, taskFamilyPrefix } from './names.ts';
import { type AwsCaller, awsCaller, awsErrorMessage, awsErrorName } from './retry.ts';

export const TEMPLATE_HASH_TAG = 'hubless:template-hash';
export const SESSION_TAG = 'hubless:session';
export const USER_TAG = 'hubless:user';
export const LAB_CONTAINER = 'lab';
/** Where the user's EFS access point is mounted: jupyter/docker-stacks' home. */
export const HOME_MOUNT = '/home/jovyan';
/** The class's shared data, read-only in every lab. */
export const SHARED_MOUNT = `${HOME_MOUNT}/${SHARED_FOLDER}`;
/** The same folder, writable, in the labs of course admins only (core/shared-data.ts). */
export const SHARED_WRITE_MOUNT = `${HOME_MOUNT}/${SHARED_WRITE_FOLDER}`;

/**
 * Environment keys that differ per session and so travel in RunTask container overrides
 * instead of the per-user task definition (putting them there would re-register a
 * revision on every start). HUBLESS_BASE_URL is also in the task definition (the default
 * server's URL) and overridden per session, so named servers share one definition.
 */
export const DEFAULT_SESSION_ENV_KEYS = [
  'HUBLESS_LAB_TOKEN_SHA256',
  'HUBLESS_SESSION_ID',
  'HUBLESS_SERVER',
  'HUBLESS_BASE_URL',
  // Course material differs per launch (core/content.ts).
  'HUBLESS_CONTENT_REPO',
  'HUBLESS_CONTENT_BRANCH',
  'HUBLESS_CONTENT_DIR',
];

export interface EcsComputeConfig {
  ecs: Pick<ECSClient, 'send'>;
  /** Cluster name or ARN. */
  cluster: string;
  stage: string;
  /** Default image; a profile's image wins. */
  image: string;
  fileSystemId: string;
  /** The shared data's access point on the same file system; absent: no shared folder. */
  sharedAccessPointId?: string;
  executionRoleArn: string;
  taskRoleArn: string;
  /** Subnets for the tasks' ENIs. */
  subnets: string[];
  /**
   * Whether each task gets a public IP: yes in public subnets (the default network, where a
   * task reaches the internet only through its own address; its security group admits only
   * the balancers and the probe), no behind NAT. Default false.
   */
  assignPublicIp?: boolean;
  /** The lab security group (accepts 8888 only from the ALB security group). */
  securityGroups: string[];
  logGroup: string;
  region: string;
  cpuArchitecture?: 'X86_64' | 'ARM64';
  sessionEnvKeys?: string[];
  /** How long a task ECS does not know yet counts as pending (DescribeTasks lags RunTask). */
  missingGraceMs?: number;
  now?: () => number;
}

/**
 * Compute on ECS Fargate. One task definition per user (family hubless-<stage>-<user>),
 * because RunTask overrides cannot change volumes and each user's EFS access point is a
 * volume. The definition is registered on first start and re-registered only when its
 * template (image, size, access point, roles, settings) changes: a hash of the template
 * lives in its `hubless:template-hash` tag.
 *
 * - start: RunTask with startedBy = session id (the task-event handler finds the session
 *   from it), returning the task ARN at once. Refusals: SpawnError with ECS's reason;
 *   no capacity: CapacityError; throttled past the budget: ThrottledError.
 * - poll: DescribeTasks mapped by core's taskStatusFromDetail. A task ECS does not return
 *   is `pending` for `missingGraceMs` after this process first saw the ARN (DescribeTasks
 *   is eventually consistent right after RunTask), then `exited` with code 'lost'.
 * - stop: StopTask; an already stopped or unknown task is success.
 * - list: tasks of this stage in the cluster (desired RUNNING or PENDING) whose startedBy
 *   is a session id.
 */
export class EcsCompute implements Compute {
  readonly #config: EcsComputeConfig;
  readonly #call: AwsCaller;
  readonly #now: () => number;
  readonly #firstSeen = new Map<string, number>();
  readonly #graceMs: number;

  constructor(config: EcsComputeConfig) {
    this.#config = config;
    this.#call = awsCaller('Amazon ECS');
    this.#now = config.now ?? Date.now;
    this.#graceMs = config.missingGraceMs ?? 60_000;
  }

  /** The task definition family of one user. */
  familyFor(user: string): string {
    return taskFamily(this.#config.stage, user);
  }

  async start(spec: LaunchSpec): Promise<string> {
    try {
      const taskDefinition = await this.#ensureTaskDefinition(spec);
      const sessionEnv = this.#sessionEnvironment(spec);
      const response = await this.#call('ECS RunTask', () =>
        this.#config.ecs.send(
          new RunTaskCommand({
            cluster: this.#config.cluster,
            taskDefinition,
            count: 1,
            // launchType stays unset: a capacity provider strategy picks Fargate or Fargate Spot.
            capacityProviderStrategy: [
              { capacityProvider: spec.profile.spot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 },
            ],
            networkConfiguration: {
              awsvpcConfiguration: {
                subnets: this.#config.subnets,
                securityGroups: this.#config.securityGroups,
                assignPublicIp: this.#config.assignPublicIp ? 'ENABLED' : 'DISABLED',
              },
            },
            startedBy: spec.sessionId,
            // One session, one task: a retried RunTask (SDK or ours) must not start a second one.
            clientToken: runTokenFor(spec.sessionId),
            enableExecuteCommand: false,
            overrides: { containerOverrides: [{ name: LAB_CONTAINER, environment: sessionEnv }] },
            tags: [
              { key: SESSION_TAG, value: spec.sessionId },
              { key: USER_TAG, value: spec.user },
            ],
          }),
        ),
      );
      const failure = response.failures?.[0];
      if (failure) throw runTaskFailure(failure.reason, failure.detail);
      const arn = response.tasks?.[0]?.taskArn;
      if (!arn) throw new SpawnError('ECS accepted the request but returned no task. Try starting again.');
      this.#firstSeen.set(arn, this.#now());
      return arn;
    } catch (error) {
      throw translateEcsError(error);
    }
  }

  async poll(handle: string): Promise<ComputeStatus> {
    const response = await this.#call('ECS DescribeTasks', () =>
      this.#config.ecs.send(new DescribeTasksCommand({ cluster: this.#config.cluster, tasks: [handle] })),
    );
    const task = response.tasks?.find((candidate) => candidate.taskArn === handle) ?? response.tasks?.[0];
    if (!task) {
      const firstSeen = this.#firstSeen.get(handle) ?? this.#now();
      if (!this.#firstSeen.has(handle)) this.#firstSeen.set(handle, firstSeen);
      if (this.#now() - firstSeen < this.#graceMs) {
        return { state: 'pending', message: 'The server was requested; waiting for ECS to report it.' };
      }
      this.#firstSeen.delete(handle);
      return {
        state: 'exited',
        code: 'lost',
        reason: 'ECS no longer knows this server; it has stopped. Start it again.',
      };
    }
    const status = taskStatusFromDetail(detailFromTask(task));
    if (status.state === 'exited') this.#firstSeen.delete(handle);
    return status;
  }

  async stop(handle: string, reason: string): Promise<void> {
    try {
      await this.#call('ECS StopTask', () =>
        this.#config.ecs.send(
          new StopTaskCommand({ cluster: this.#config.cluster, task: handle, reason: reason.slice(0, 255) }),
        ),
      );
    } catch (error) {
      // ECS answers InvalidParameterException for a task that is already stopped or gone.
      if (awsErrorName(error) === 'InvalidParameterException') return;
      throw error;
    } finally {
      this.#firstSeen.delete(handle);
    }
  }

  async list(): Promise<ComputeTask[]> {
    const arns: string[] = [];
    for (const desiredStatus of ['RUNNING', 'PENDING'] as const) {
      let nextToken: string | undefined;
      do {
        const page = await this.#call('ECS ListTasks', () =>
          this.#config.ecs.send(
            new ListTasksCommand({ cluster: this.#config.cluster, desiredStatus, nextToken }),
          ),
        );
        arns.push(...(page.taskArns ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    }
    const unique = [...new Set(arns)];
    const familyPrefix = `:task-definition/${taskFamilyPrefix(this.#config.stage)}`;
    const result: ComputeTask[] = [];
    for (let index = 0; index < unique.length; index += 100) {
      const batch = unique.slice(index, index + 100);
      const described = await this.#call('ECS DescribeTasks', () =>
        this.#config.ecs.send(new DescribeTasksCommand({ cluster: this.#config.cluster, tasks: batch })),
      );
      for (const task of described.tasks ?? []) {
        if (!task.taskArn || !task.startedBy || !task.taskDefinitionArn?.includes(familyPrefix)) continue;
        if (!isSessionId(task.startedBy)) continue;
        result.push({
          handle: task.taskArn,
          sessionId: task.startedBy,
          alive: task.lastStatus !== 'STOPPED',
        });
      }
    }
    return result;
  }

  /** The task definition this spec runs: the latest revision if its template matches, else a new one. */
  async #ensureTaskDefinition(spec: LaunchSpec): Promise<string> {
    const input = this.taskDefinitionFor(spec);
    const hash = templateHash(input);
    const family = input.family ?? this.familyFor(spec.user);
    try {
      const current = await this.#call('ECS DescribeTaskDefinition', () =>
        this.#config.ecs.send(
          new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] }),
        ),
      );
      const arn = current.taskDefinition?.taskDefinitionArn;
      const currentHash = current.tags?.find((tag) => tag.key === TEMPLATE_HASH_TAG)?.value;
      if (arn && currentHash === hash && current.taskDefinition?.status === 'ACTIVE') return arn;
    } catch (error) {
      // A family that was never registered is a ClientException ("Unable to describe task definition").
      if (awsErrorName(error) !== 'ClientException') throw error;
    }
    const registered = await this.#call('ECS RegisterTaskDefinition', () =>
      this.#config.ecs.send(
        new RegisterTaskDefinitionCommand({
          ...input,
          tags: [
            { key: TEMPLATE_HASH_TAG, value: hash },
            { key: USER_TAG, value: spec.user },
          ],
        }),
      ),
    );
    const arn = registered.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new SpawnError('ECS registered no task definition. Try starting again.');
    return arn;
  }

  /** The per-user task definition (without tags), exposed for tests and the docs. */
  taskDefinitionFor(spec: LaunchSpec): RegisterTaskDefinitionCommandInput {
    const config = this.#config;
    const sessionKeys = new Set(config.sessionEnvKeys ?? DEFAULT_SESSION_ENV_KEYS);
    const environment: KeyValuePair[] = [
      { name: 'HUBLESS_OWNER', value: spec.user },
      { name: 'HUBLESS_BASE_URL', value: baseUrlFor(spec.user, '') },
      ...Object.entries(spec.env)
        .filter(([name]) => !sessionKeys.has(name) && name !== 'HUBLESS_OWNER')
        .map(([name, value]) => ({ name, value })),
    ].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
    const container: ContainerDefinition = {
      name: LAB_CONTAINER,
      image: spec.profile.image ?? config.image,
      essential: true,
      portMappings: [{ containerPort: LAB_PORT, protocol: 'tcp' }],
      environment,
      mountPoints: [
        { sourceVolume: 'home', containerPath: HOME_MOUNT, readOnly: false },
        // Read-only is enforced by the mount: a lab's user (uid 1000, no capabilities) cannot remount it.
        ...(config.sharedAccessPointId
          ? [{ sourceVolume: 'shared', containerPath: SHARED_MOUNT, readOnly: true }]
          : []),
        ...(config.sharedAccessPointId && spec.sharedData === 'write'
          ? [{ sourceVolume: 'shared', containerPath: SHARED_WRITE_MOUNT, readOnly: false }]
          : []),
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': config.logGroup,
          'awslogs-region': config.region,
          'awslogs-stream-prefix': spec.user,
        },
      },
    };
    return {
      family: this.familyFor(spec.user),
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(spec.profile.cpu),
      memory: String(spec.profile.memory),
      executionRoleArn: config.executionRoleArn,
      taskRoleArn: config.taskRoleArn,
      runtimePlatform: {
        cpuArchitecture: config.cpuArchitecture ?? 'X86_64',
        operatingSystemFamily: 'LINUX',
      },
      containerDefinitions: [container],
      volumes: [
        {
          name: 'home',
          efsVolumeConfiguration: {
            fileSystemId: config.fileSystemId,
            rootDirectory: '/',
            transitEncryption: 'ENABLED',
            authorizationConfig: { accessPointId: spec.home, iam: 'ENABLED' },
          },
        },
        ...(config.sharedAccessPointId
          ? [
              {
                name: 'shared',
                efsVolumeConfiguration: {
                  fileSystemId: config.fileSystemId,
                  rootDirectory: '/',
                  transitEncryption: 'ENABLED' as const,
                  authorizationConfig: { accessPointId: config.sharedAccessPointId, iam: 'ENABLED' as const },
                },
              },
            ]
          : []),
      ],
    };
  }

  #sessionEnvironment(spec: LaunchSpec): KeyValuePair[] {
    const sessionKeys = new Set(this.#config.sessionEnvKeys ?? DEFAULT_SESSION_ENV_KEYS);
    const values: Record<string, string> = {
      HUBLESS_BASE_URL: spec.baseUrl,
      HUBLESS_SESSION_ID: spec.sessionId,
      HUBLESS_SERVER: spec.server,
    };
    for (const [name, value] of Object.entries(spec.env)) if (sessionKeys.has(name)) values[name] = value;
    return Object.entries(values).map(([name, value]) => ({ name, value }));
  }
}

/** The template hash: stable JSON of everything that would change the definition. */
export function templateHash(input: RegisterTaskDefinitionCommandInput): string {
  return createHash('sha256').update(stableJson(input)).digest('hex').slice(0, 32);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${stableJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function runTokenFor(sessionId: string): string {
  return createHash('sha256').update(`runtask:${sessionId}`).digest('hex').slice(0, 64);
}

function isSessionId(value: string): boolean {
  try {
    parseSessionId(value);
    return true;
  } catch {
    return false;
  }
}

/** The subset of an ECS Task that core's mapping reads (the same shape as the state-change event). */
export function detailFromTask(task: Task): TaskStateDetail {
  return {
    taskArn: task.taskArn ?? '',
    clusterArn: task.clusterArn,
    lastStatus: task.lastStatus ?? 'PROVISIONING',
    desiredStatus: task.desiredStatus,
    startedBy: task.startedBy,
    stopCode: task.stopCode,
    stoppedReason: task.stoppedReason,
    version: task.version,
    containers: task.containers?.map((container) => ({
      name: container.name,
      lastStatus: container.lastStatus,
      exitCode: container.exitCode,
      reason: container.reason,
    })),
    attachments: task.attachments?.map((attachment) => ({
      type: attachment.type,
      status: attachment.status,
      details: (attachment.details ?? []).flatMap((entry) =>
        entry.name !== undefined && entry.value !== undefined
          ? [{ name: entry.name, value: entry.value }]
          : [],
      ),
    })),
  };
}

const CAPACITY_REASONS = /capacity|RESOURCE:|insufficient|limit|quota/i;

/** RunTask's reason when the lab subnets have no free address for the task's network interface. */
const NO_ADDRESS_REASON = /RESOURCE:ENI/i;

/** A RunTask failure entry: capacity-ish reasons are CapacityError, everything else SpawnError. */
function runTaskFailure(reason: string | undefined, detail: string | undefined): Error {
  const text = [reason, detail].filter(Boolean).join(': ') || 'no reason given';
  // A smaller or non-Spot profile needs an address just the same: the advice is the operator's.
  if (NO_ADDRESS_REASON.test(text)) {
    return new CapacityError(
      `The deployment's lab subnets have no free network address for this server right now (${text}). Try again when other servers have stopped; an operator can give the subnets more addresses.`,
    );
  }
  if (CAPACITY_REASONS.test(text)) {
    return new CapacityError(
      `AWS has no Fargate capacity for this server right now (${text}). Try again in a few minutes, or choose a smaller or non-Spot profile.`,
    );
  }
  return new SpawnError(`ECS could not start the server: ${text}.`);
}

const CONFIG_ERRORS = new Set([
  'ClientException',
  'InvalidParameterException',
  'ClusterNotFoundException',
  'PlatformUnknownException',
  'PlatformTaskDefinitionIncompatibilityException',
  'AccessDeniedException',
  'UnsupportedFeatureException',
]);

function translateEcsError(error: unknown): unknown {
  if (isHublessError(error)) return error;
  const name = awsErrorName(error);
  if (name === 'LimitExceededException') {
    return new CapacityError(
      'The ECS account quota for tasks is reached. Stop idle servers, or request a higher Fargate quota.',
    );
  }
  if (name && CONFIG_ERRORS.has(name)) {
    return new SpawnError(`ECS refused to start the server (${name}: ${awsErrorMessage(error)}).`, {
      cause: error,
    });
  }
  return error;
}
