import '../support/aws-calls/checked.ts';
import {
  ClientException,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { EcsCompute } from '../../functions/adapters/aws/ecs-compute.ts';
import { describeComputeContract, launchSpec, TEST_PROFILE } from './compute.contract.ts';

/**
 * EcsCompute over a stateful stand-in for ECS: RunTask makes a task that the first
 * DescribeTasks right after it does not know (eventual consistency; any later call, or
 * a ListTasks, sees it), then walks PROVISIONING ->
 * PENDING -> RUNNING (with an ENI address) one step per DescribeTasks; the image "crash"
 * stops with exit code 1; StopTask stops with UserInitiated.
 */
const meta = { $metadata: {} };
const CLUSTER = 'arn:aws:ecs:eu-west-1:1:cluster/hubless-test';

function fakeEcs() {
  const definitions = new Map<
    string,
    { arn: string; tags: Array<{ key?: string; value?: string }>; input: RegisterTaskDefinitionCommandInput }
  >();
  const tasks = new Map<string, { task: Task; describes: number; crash: boolean; visible: boolean }>();
  let serial = 0;
  const mock = mockClient(ECSClient);
  mock.reset();
  mock.on(DescribeTaskDefinitionCommand).callsFake((input: { taskDefinition: string }) => {
    const found = definitions.get(input.taskDefinition);
    if (!found) throw new ClientException({ message: 'Unable to describe task definition.', ...meta });
    return { taskDefinition: { taskDefinitionArn: found.arn, status: 'ACTIVE' }, tags: found.tags };
  });
  mock.on(RegisterTaskDefinitionCommand).callsFake((input: RegisterTaskDefinitionCommandInput) => {
    const family = input.family ?? '';
    const arn = `arn:aws:ecs:eu-west-1:1:task-definition/${family}:${++serial}`;
    definitions.set(family, { arn, tags: input.tags ?? [], input });
    return { taskDefinition: { taskDefinitionArn: arn, status: 'ACTIVE' } };
  });
  mock.on(RunTaskCommand).callsFake((input: RunTaskCommandInput) => {
    const definition = [...definitions.values()].find((entry) => entry.arn === input.taskDefinition);
    if (!definition) throw new ClientException({ message: 'TaskDefinition not found.', ...meta });
    const taskArn = `arn:aws:ecs:eu-west-1:1:task/hubless-test/${(++serial).toString(16).padStart(32, '0')}`;
    const task: Task = {
      taskArn,
      clusterArn: CLUSTER,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      startedBy: input.startedBy,
      taskDefinitionArn: definition.arn,
    };
    tasks.set(taskArn, {
      task,
      describes: 0,
      crash: definition.input.containerDefinitions?.[0]?.image === 'crash',
      visible: false,
    });
    return { tasks: [{ ...task }], failures: [] };
  });
  mock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => {
    const found: Task[] = [];
    const failures: Array<{ arn: string; reason: string }> = [];
    for (const arn of input.tasks) {
      const entry = tasks.get(arn);
      if (!entry?.visible) {
        failures.push({ arn, reason: 'MISSING' });
        if (entry) entry.visible = true;
        continue;
      }
      entry.describes++;
      advance(entry);
      found.push({ ...entry.task });
    }
    return { tasks: found, failures };
  });
  mock.on(StopTaskCommand).callsFake((input: { task: string; reason?: string }) => {
    const entry = tasks.get(input.task);
    if (!entry)
      throw new InvalidParameterException({ message: 'The referenced task was not found.', ...meta });
    if (entry.task.lastStatus !== 'STOPPED') {
      entry.task = {
        ...entry.task,
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        stopCode: 'UserInitiated',
        stoppedReason: input.reason,
      };
    }
    return { task: entry.task };
  });
  mock.on(ListTasksCommand).callsFake((input: { desiredStatus?: string }) => {
    for (const entry of tasks.values()) entry.visible = true;
    return {
      taskArns: [...tasks.values()]
        .filter((entry) => entry.task.desiredStatus === input.desiredStatus)
        .map((entry) => entry.task.taskArn),
    };
  });

  function advance(entry: { task: Task; describes: number; crash: boolean; visible: boolean }) {
    const status = entry.task.lastStatus;
    if (status === 'STOPPED') return;
    if (status === 'PROVISIONING') entry.task.lastStatus = 'PENDING';
    else if (status === 'PENDING' && entry.crash) {
      entry.task = {
        ...entry.task,
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        containers: [{ name: 'lab', exitCode: 1 }],
      };
    } else if (status === 'PENDING') {
      entry.task.lastStatus = 'RUNNING';
      entry.task.attachments = [
        {
          type: 'ElasticNetworkInterface',
          status: 'ATTACHED',
          details: [{ name: 'privateIPv4Address', value: `10.0.1.${entry.describes}` }],
        },
      ];
    }
  }
}

describeComputeContract(
  'EcsCompute over a mocked ECS',
  () => {
    fakeEcs();
    const compute = new EcsCompute({
      ecs: new ECSClient({ region: 'eu-west-1' }),
      cluster: CLUSTER,
      stage: 'test',
      image: 'lab:latest',
      fileSystemId: 'fs-1',
      executionRoleArn: 'arn:aws:iam::1:role/exec',
      taskRoleArn: 'arn:aws:iam::1:role/lab',
      subnets: ['subnet-1'],
      securityGroups: ['sg-1'],
      logGroup: '/hubless/test',
      region: 'eu-west-1',
    });
    return {
      compute,
      spec: (user: string) => launchSpec(user, { home: `fsap-${user}` }),
      crashingSpec: (user: string) =>
        launchSpec(user, { home: `fsap-${user}`, profile: { ...TEST_PROFILE, image: 'crash' } }),
    };
  },
  {
    unknownMayBePending: true,
    unknownHandle: 'arn:aws:ecs:eu-west-1:1:task/hubless-test/ffffffffffffffffffffffffffffffff',
    pollIntervalMs: 1,
  },
);
