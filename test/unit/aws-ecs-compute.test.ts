import '../support/aws-calls/checked.ts';
import {
  ClientException,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EcsCompute, type EcsComputeConfig, templateHash } from '../../functions/adapters/aws/ecs-compute.ts';
import { CapacityError, SpawnError, ThrottledError } from '../../functions/core/errors.ts';
import type { LaunchSpec } from '../../functions/core/ports.ts';

const ecsMock = mockClient(ECSClient);
const CLUSTER = 'arn:aws:ecs:eu-west-1:111122223333:cluster/hubless-dev';
const TASK_ARN = 'arn:aws:ecs:eu-west-1:111122223333:task/hubless-dev/abc123';
const TD_ARN = 'arn:aws:ecs:eu-west-1:111122223333:task-definition/hubless-dev-alice:1';

function config(overrides: Partial<EcsComputeConfig> = {}): EcsComputeConfig {
  return {
    ecs: new ECSClient({}),
    cluster: CLUSTER,
    stage: 'dev',
    image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/hubless-lab:1.0',
    fileSystemId: 'fs-0123',
    executionRoleArn: 'arn:aws:iam::111122223333:role/exec',
    taskRoleArn: 'arn:aws:iam::111122223333:role/lab',
    subnets: ['subnet-a', 'subnet-b'],
    securityGroups: ['sg-lab'],
    logGroup: '/hubless/dev/labs',
    region: 'eu-west-1',
    ...overrides,
  };
}

function spec(overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    sessionId: 'alice__n1',
    user: 'alice',
    server: '',
    profile: { name: 'small', description: 'Small', cpu: 1024, memory: 4096, spot: false, groups: [] },
    home: 'fsap-alice',
    baseUrl: '/user/alice/',
    env: {
      HUBLESS_JWKS_URL: 'https://example.org/jwks',
      HUBLESS_IDLE_TIMEOUT: '3600',
      HUBLESS_LAB_TOKEN_SHA256: 'a'.repeat(64),
    },
    ...overrides,
  };
}

function mockNewFamily() {
  ecsMock
    .on(DescribeTaskDefinitionCommand)
    .rejects(new ClientException({ message: 'Unable to describe task definition.', $metadata: {} }));
  ecsMock
    .on(RegisterTaskDefinitionCommand)
    .resolves({ taskDefinition: { taskDefinitionArn: TD_ARN, status: 'ACTIVE' } });
  ecsMock
    .on(RunTaskCommand)
    .resolves({ tasks: [{ taskArn: TASK_ARN, lastStatus: 'PROVISIONING' }], failures: [] });
}

describe('EcsCompute', () => {
  beforeEach(() => ecsMock.reset());

  describe('start', () => {
    it('registers a task definition for a new user with the EFS home, encrypted in transit', async () => {
      mockNewFamily();
      const compute = new EcsCompute(config());
      await compute.start(spec());

      const registered = ecsMock.commandCalls(RegisterTaskDefinitionCommand);
      expect(registered).toHaveLength(1);
      const input = registered[0]?.args[0].input;
      expect(input).toMatchObject({
        family: 'hubless-dev-alice',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '1024',
        memory: '4096',
        executionRoleArn: 'arn:aws:iam::111122223333:role/exec',
        taskRoleArn: 'arn:aws:iam::111122223333:role/lab',
        runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
        volumes: [
          {
            name: 'home',
            efsVolumeConfiguration: {
              fileSystemId: 'fs-0123',
              rootDirectory: '/',
              transitEncryption: 'ENABLED',
              authorizationConfig: { accessPointId: 'fsap-alice', iam: 'ENABLED' },
            },
          },
        ],
      });
      expect(input?.containerDefinitions).toEqual([
        {
          name: 'lab',
          image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/hubless-lab:1.0',
          essential: true,
          portMappings: [{ containerPort: 8888, protocol: 'tcp' }],
          environment: [
            { name: 'HUBLESS_BASE_URL', value: '/user/alice/' },
            { name: 'HUBLESS_IDLE_TIMEOUT', value: '3600' },
            { name: 'HUBLESS_JWKS_URL', value: 'https://example.org/jwks' },
            { name: 'HUBLESS_OWNER', value: 'alice' },
          ],
          mountPoints: [{ sourceVolume: 'home', containerPath: '/home/jovyan', readOnly: false }],
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': '/hubless/dev/labs',
              'awslogs-region': 'eu-west-1',
              'awslogs-stream-prefix': 'alice',
            },
          },
        },
      ]);
      if (!input) throw new Error('no RegisterTaskDefinition call');
      const { tags, ...template } = input;
      expect(tags).toEqual([
        { key: 'hubless:template-hash', value: templateHash(template) },
        { key: 'hubless:user', value: 'alice' },
      ]);
    });

    it('gives the task a public address when it runs in public subnets (the default network, no NAT gateway)', async () => {
      mockNewFamily();
      await new EcsCompute(config({ assignPublicIp: true })).start(spec());
      const run = ecsMock.commandCalls(RunTaskCommand)[0]?.args[0].input;
      expect(run?.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('ENABLED');
    });

    it('runs the task privately on Fargate, started by the session, with per-session values as overrides', async () => {
      mockNewFamily();
      const handle = await new EcsCompute(config()).start(spec());
      expect(handle).toBe(TASK_ARN);

      const run = ecsMock.commandCalls(RunTaskCommand)[0]?.args[0].input;
      expect(run).toMatchObject({
        cluster: CLUSTER,
        taskDefinition: TD_ARN,
        count: 1,
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: ['subnet-a', 'subnet-b'],
            securityGroups: ['sg-lab'],
            assignPublicIp: 'DISABLED',
          },
        },
        startedBy: 'alice__n1',
        enableExecuteCommand: false,
        overrides: {
          containerOverrides: [
            {
              name: 'lab',
              environment: [
                { name: 'HUBLESS_BASE_URL', value: '/user/alice/' },
                { name: 'HUBLESS_SESSION_ID', value: 'alice__n1' },
                { name: 'HUBLESS_SERVER', value: '' },
                { name: 'HUBLESS_LAB_TOKEN_SHA256', value: 'a'.repeat(64) },
              ],
            },
          ],
        },
        tags: [
          { key: 'hubless:session', value: 'alice__n1' },
          { key: 'hubless:user', value: 'alice' },
        ],
      });
      expect(run?.launchType).toBeUndefined();
      expect(run?.clientToken).toMatch(/^[0-9a-f]{64}$/);
      // The lab token is per session: never baked into the task definition.
      expect(
        JSON.stringify(ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input),
      ).not.toContain('secret-per-session');
    });

    it('uses Fargate Spot for a spot profile and the profile image', async () => {
      mockNewFamily();
      const profile = {
        name: 'gpu-ish',
        description: '',
        cpu: 4096,
        memory: 16384,
        spot: true,
        groups: [],
        image: 'lab:big',
      };
      await new EcsCompute(config()).start(spec({ profile }));
      expect(ecsMock.commandCalls(RunTaskCommand)[0]?.args[0].input.capacityProviderStrategy).toEqual([
        { capacityProvider: 'FARGATE_SPOT', weight: 1 },
      ]);
      expect(
        ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input.containerDefinitions?.[0]
          ?.image,
      ).toBe('lab:big');
    });

    it('reuses the latest task definition when its template hash matches', async () => {
      const compute = new EcsCompute(config());
      const { tags: _ignored, ...template } = compute.taskDefinitionFor(spec());
      ecsMock
        .on(DescribeTaskDefinitionCommand, { taskDefinition: 'hubless-dev-alice', include: ['TAGS'] })
        .resolves({
          taskDefinition: { taskDefinitionArn: TD_ARN, status: 'ACTIVE' },
          tags: [{ key: 'hubless:template-hash', value: templateHash(template) }],
        });
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN }] });
      await compute.start(
        spec({ sessionId: 'alice_project_n2', server: 'project', baseUrl: '/user/alice/project/' }),
      );
      expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
      expect(ecsMock.commandCalls(RunTaskCommand)[0]?.args[0].input.taskDefinition).toBe(TD_ARN);
    });

    it('carries course material in the overrides, so a launch with another repository reuses the definition', async () => {
      const compute = new EcsCompute(config());
      const { tags: _ignored, ...template } = compute.taskDefinitionFor(spec());
      ecsMock.on(DescribeTaskDefinitionCommand).resolves({
        taskDefinition: { taskDefinitionArn: TD_ARN, status: 'ACTIVE' },
        tags: [{ key: 'hubless:template-hash', value: templateHash(template) }],
      });
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN }] });
      const content = {
        HUBLESS_CONTENT_REPO: 'https://github.com/org/intro.git',
        HUBLESS_CONTENT_BRANCH: 'main',
        HUBLESS_CONTENT_DIR: 'intro',
      };
      await compute.start(spec({ env: { ...spec().env, ...content } }));
      expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
      const overrides = ecsMock.commandCalls(RunTaskCommand)[0]?.args[0].input.overrides;
      expect(overrides?.containerOverrides?.[0]?.environment).toEqual(
        expect.arrayContaining(Object.entries(content).map(([name, value]) => ({ name, value }))),
      );
    });

    it('mounts the shared data read-only in every lab, and writable at a separate path for course admins', async () => {
      const compute = new EcsCompute(config({ sharedAccessPointId: 'fsap-0123456789abcdef0' }));
      const student = compute.taskDefinitionFor(spec({ sharedData: 'read' }));
      expect(student.containerDefinitions?.[0]?.mountPoints).toEqual([
        { sourceVolume: 'home', containerPath: '/home/jovyan', readOnly: false },
        { sourceVolume: 'shared', containerPath: '/home/jovyan/shared', readOnly: true },
      ]);
      expect(student.volumes?.[1]).toEqual({
        name: 'shared',
        efsVolumeConfiguration: {
          fileSystemId: 'fs-0123',
          rootDirectory: '/',
          transitEncryption: 'ENABLED',
          authorizationConfig: { accessPointId: 'fsap-0123456789abcdef0', iam: 'ENABLED' },
        },
      });
      const teacher = compute.taskDefinitionFor(spec({ sharedData: 'write' }));
      expect(teacher.containerDefinitions?.[0]?.mountPoints).toContainEqual({
        sourceVolume: 'shared',
        containerPath: '/home/jovyan/shared-write',
        readOnly: false,
      });
      // Without shared data on the stage, no lab mounts it, whatever the user's groups.
      const plain = new EcsCompute(config()).taskDefinitionFor(spec({ sharedData: 'write' }));
      expect(plain.volumes).toHaveLength(1);
    });

    it('re-registers when the access point (or anything in the template) changed', async () => {
      const compute = new EcsCompute(config());
      const { tags: _ignored, ...template } = compute.taskDefinitionFor(spec());
      ecsMock.on(DescribeTaskDefinitionCommand).resolves({
        taskDefinition: { taskDefinitionArn: TD_ARN, status: 'ACTIVE' },
        tags: [{ key: 'hubless:template-hash', value: templateHash(template) }],
      });
      ecsMock
        .on(RegisterTaskDefinitionCommand)
        .resolves({ taskDefinition: { taskDefinitionArn: `${TD_ARN.slice(0, -1)}2` } });
      ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN }] });
      await compute.start(spec({ home: 'fsap-recreated' }));
      expect(ecsMock.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(1);
      expect(ecsMock.commandCalls(RunTaskCommand)[0]?.args[0].input.taskDefinition).toMatch(/:2$/);
    });

    it('turns a RunTask failure into a SpawnError carrying the reason', async () => {
      mockNewFamily();
      ecsMock
        .on(RunTaskCommand)
        .resolves({ tasks: [], failures: [{ arn: 'x', reason: 'MISSING', detail: 'image not found' }] });
      const error = await new EcsCompute(config()).start(spec()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpawnError);
      expect((error as Error).message).toBe('ECS could not start the server: MISSING: image not found.');
    });

    it('turns a capacity failure into a CapacityError', async () => {
      mockNewFamily();
      ecsMock.on(RunTaskCommand).resolves({
        failures: [
          {
            reason:
              'Capacity is unavailable at this time. Please try again later or in a different availability zone',
          },
        ],
      });
      await expect(new EcsCompute(config()).start(spec())).rejects.toBeInstanceOf(CapacityError);
    });

    it('says the subnets are out of addresses, not that a smaller profile would help, on RESOURCE:ENI', async () => {
      mockNewFamily();
      ecsMock.on(RunTaskCommand).resolves({ failures: [{ reason: 'RESOURCE:ENI' }] });
      const error = await new EcsCompute(config()).start(spec()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CapacityError);
      expect((error as Error).message).toMatch(/no free network address/);
      expect((error as Error).message).not.toMatch(/smaller or non-Spot profile/);
    });

    it('turns a refused request into a SpawnError', async () => {
      mockNewFamily();
      ecsMock
        .on(RunTaskCommand)
        .rejects(
          new InvalidParameterException({ message: 'No Container Instances were found', $metadata: {} }),
        );
      await expect(new EcsCompute(config()).start(spec())).rejects.toThrow(SpawnError);
    });

    it('leaves retrying a throttled RunTask to the client, and turns what outlasts it into a ThrottledError', async () => {
      mockNewFamily();
      ecsMock
        .on(RunTaskCommand)
        .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      await expect(new EcsCompute(config()).start(spec())).rejects.toThrow(ThrottledError);
      expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(1);
    });
  });

  describe('poll', () => {
    function describeReturns(task: Record<string, unknown>) {
      ecsMock
        .on(DescribeTasksCommand, { cluster: CLUSTER, tasks: [TASK_ARN] })
        .resolves({ tasks: [{ taskArn: TASK_ARN, ...task }] });
    }

    it.each(['PROVISIONING', 'PENDING', 'ACTIVATING'])('reports %s as pending', async (lastStatus) => {
      describeReturns({ lastStatus });
      expect((await new EcsCompute(config()).poll(TASK_ARN)).state).toBe('pending');
    });

    it('reports RUNNING with a private IP as running on port 8888', async () => {
      describeReturns({
        lastStatus: 'RUNNING',
        attachments: [
          {
            type: 'ElasticNetworkInterface',
            status: 'ATTACHED',
            details: [{ name: 'privateIPv4Address', value: '10.0.3.17' }],
          },
        ],
      });
      expect(await new EcsCompute(config()).poll(TASK_ARN)).toEqual({
        state: 'running',
        target: { host: '10.0.3.17', port: 8888 },
      });
    });

    it('reports RUNNING without an address yet as pending', async () => {
      describeReturns({ lastStatus: 'RUNNING', attachments: [] });
      expect((await new EcsCompute(config()).poll(TASK_ARN)).state).toBe('pending');
    });

    it('reports STOPPED with the stop code, reason and exit code', async () => {
      describeReturns({
        lastStatus: 'STOPPED',
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        containers: [{ name: 'lab', exitCode: 137 }],
      });
      expect(await new EcsCompute(config()).poll(TASK_ARN)).toEqual({
        state: 'exited',
        code: 'crashed',
        reason: 'The server exited with exit code 137: Essential container in task exited.',
        exitCode: 137,
      });
    });

    it('reports a Spot interruption as such', async () => {
      describeReturns({ lastStatus: 'STOPPED', stopCode: 'SpotInterruption' });
      expect(await new EcsCompute(config()).poll(TASK_ARN)).toMatchObject({
        state: 'exited',
        code: 'spot-interruption',
      });
    });

    it('says pending for a task ECS does not know yet right after RunTask, and lost after the grace window', async () => {
      let now = 1_000_000;
      mockNewFamily();
      ecsMock
        .on(DescribeTasksCommand)
        .resolves({ tasks: [], failures: [{ arn: TASK_ARN, reason: 'MISSING' }] });
      const compute = new EcsCompute(config({ now: () => now, missingGraceMs: 60_000 }));
      await compute.start(spec());
      now += 5_000;
      expect((await compute.poll(TASK_ARN)).state).toBe('pending');
      now += 56_000;
      expect(await compute.poll(TASK_ARN)).toMatchObject({ state: 'exited', code: 'lost' });
    });

    it('gives a handle it first sees in poll the same grace window', async () => {
      let now = 0;
      ecsMock
        .on(DescribeTasksCommand)
        .resolves({ tasks: [], failures: [{ arn: TASK_ARN, reason: 'MISSING' }] });
      const compute = new EcsCompute(config({ now: () => now }));
      expect((await compute.poll(TASK_ARN)).state).toBe('pending');
      now += 59_000;
      expect((await compute.poll(TASK_ARN)).state).toBe('pending');
      now += 2_000;
      expect((await compute.poll(TASK_ARN)).state).toBe('exited');
    });
  });

  describe('stop', () => {
    it('stops the task with the reason', async () => {
      ecsMock.on(StopTaskCommand).resolves({});
      await new EcsCompute(config()).stop(TASK_ARN, 'Stopped by its owner');
      expect(ecsMock.commandCalls(StopTaskCommand)[0]?.args[0].input).toEqual({
        cluster: CLUSTER,
        task: TASK_ARN,
        reason: 'Stopped by its owner',
      });
    });

    it('succeeds for a task that is already stopped or gone', async () => {
      ecsMock
        .on(StopTaskCommand)
        .rejects(
          new InvalidParameterException({ message: 'The referenced task was not found.', $metadata: {} }),
        );
      await expect(new EcsCompute(config()).stop(TASK_ARN, 'idle')).resolves.toBeUndefined();
    });
  });

  describe('list', () => {
    it('lists running and pending hubless tasks of this stage, described in batches of 100', async () => {
      const arns = Array.from({ length: 150 }, (_, index) => `arn:aws:ecs:eu-west-1:1:task/c/t${index}`);
      ecsMock
        .on(ListTasksCommand, { desiredStatus: 'RUNNING', nextToken: undefined })
        .resolves({ taskArns: arns.slice(0, 100), nextToken: 'p2' });
      ecsMock
        .on(ListTasksCommand, { desiredStatus: 'RUNNING', nextToken: 'p2' })
        .resolves({ taskArns: arns.slice(100, 140) });
      ecsMock.on(ListTasksCommand, { desiredStatus: 'PENDING' }).resolves({ taskArns: arns.slice(140) });
      ecsMock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
        tasks: input.tasks.map((taskArn) => {
          const index = Number(taskArn.split('/t')[1]);
          const family =
            index === 7 ? 'hubless-prod-zed' : index === 8 ? 'other-app' : `hubless-dev-u${index}`;
          return {
            taskArn,
            lastStatus: index === 9 ? 'STOPPED' : 'RUNNING',
            startedBy: index === 10 ? 'ecs-svc/123' : `u${index}__n${index}`,
            taskDefinitionArn: `arn:aws:ecs:eu-west-1:1:task-definition/${family}:3`,
          };
        }),
      }));

      const tasks = await new EcsCompute(config()).list();
      const batches = ecsMock
        .commandCalls(DescribeTasksCommand)
        .map((call) => call.args[0].input.tasks?.length);
      expect(batches).toEqual([100, 50]);
      // 150 tasks, less another stage (7), another app (8), and a non-session startedBy (10).
      expect(tasks).toHaveLength(147);
      expect(tasks.find((task) => task.handle.endsWith('/t9'))).toEqual({
        handle: arns[9],
        sessionId: 'u9__n9',
        alive: false,
      });
      expect(tasks.find((task) => task.handle.endsWith('/t0'))).toEqual({
        handle: arns[0],
        sessionId: 'u0__n0',
        alive: true,
      });
    });
  });
});
