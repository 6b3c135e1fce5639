import { createHash } from 'node:crypto';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminSetUserPasswordCommand,
  AdminUpdateUserAttributesCommand,
  type AttributeType,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  GroupExistsException,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  ResourceNotFoundException,
  UserNotFoundException,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  ClientException,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { CreateAccessPointCommand, DescribeAccessPointsCommand, EFSClient } from '@aws-sdk/client-efs';
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';

/**
 * Just enough of an AWS account for the IAM scenarios to walk every use case: it
 * remembers what was created and answers like the service (ids in AWS's shapes, a task
 * that runs with an IP, healthy targets, Cognito's exceptions). It decides nothing about
 * permissions: test/support/aws-iam does, from the template. DynamoDB is DynamoDB Local.
 */
export function fakeAwsAccount(options: { account: string; region: string }) {
  const { account, region } = options;
  const id = (label: string, length: number) =>
    createHash('sha256').update(`${label}:${Math.random()}`).digest('hex').slice(0, length);
  const meta = { $metadata: {} };

  const ecs = mockClient(ECSClient);
  const definitions = new Map<string, { arn: string; tags: Array<{ key?: string; value?: string }> }>();
  const tasks = new Map<string, Task>();
  ecs.on(DescribeTaskDefinitionCommand).callsFake(({ taskDefinition }) => {
    const known = definitions.get(String(taskDefinition).split(':')[0] ?? '');
    if (!known) throw new ClientException({ message: 'Unable to describe task definition.', ...meta });
    return { taskDefinition: { taskDefinitionArn: known.arn, status: 'ACTIVE' }, tags: known.tags };
  });
  ecs.on(RegisterTaskDefinitionCommand).callsFake(({ family, tags }) => {
    const revision =
      (definitions.has(family) ? Number(definitions.get(family)?.arn.split(':').pop()) : 0) + 1;
    const arn = `arn:aws:ecs:${region}:${account}:task-definition/${family}:${revision}`;
    definitions.set(family, { arn, tags: tags ?? [] });
    return { taskDefinition: { taskDefinitionArn: arn, status: 'ACTIVE' } };
  });
  ecs.on(RunTaskCommand).callsFake(({ cluster, taskDefinition, startedBy }) => {
    const clusterName = String(cluster).split('/').pop();
    const taskArn = `arn:aws:ecs:${region}:${account}:task/${clusterName}/${id('task', 32)}`;
    tasks.set(taskArn, {
      taskArn,
      clusterArn: cluster,
      taskDefinitionArn: taskDefinition,
      startedBy,
      // Provisioning until the test says the task runs (runTasks), as Fargate takes its 30-60 s.
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      containers: [{ name: 'lab', lastStatus: 'PENDING' }],
      attachments: [
        {
          type: 'ElasticNetworkInterface',
          status: 'ATTACHED',
          details: [{ name: 'privateIPv4Address', value: '10.40.16.5' }],
        },
      ],
    });
    return { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] };
  });
  ecs.on(DescribeTasksCommand).callsFake(({ tasks: arns }) => ({
    tasks: (arns ?? []).flatMap((arn: string) => (tasks.has(arn) ? [tasks.get(arn)] : [])),
    failures: [],
  }));
  ecs.on(StopTaskCommand).callsFake(({ task }) => {
    const found = tasks.get(task);
    if (found)
      Object.assign(found, { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'UserInitiated' });
    return { task: found };
  });
  ecs.on(ListTasksCommand).callsFake(({ desiredStatus }) => ({
    taskArns: [...tasks.values()].filter((t) => t.desiredStatus === desiredStatus).map((t) => t.taskArn),
  }));

  const efs = mockClient(EFSClient);
  const points = new Map<string, { AccessPointId: string; Tags: Array<{ Key: string; Value: string }> }>();
  efs.on(DescribeAccessPointsCommand).callsFake(({ AccessPointId }) => {
    const all = [...points.values()].map((point) => ({ ...point, LifeCycleState: 'available' }));
    return { AccessPoints: AccessPointId ? all.filter((p) => p.AccessPointId === AccessPointId) : all };
  });
  efs.on(CreateAccessPointCommand).callsFake(({ Tags }) => {
    const AccessPointId = `fsap-${id('ap', 17)}`;
    points.set(AccessPointId, { AccessPointId, Tags: Tags ?? [] });
    return { AccessPointId, LifeCycleState: 'creating' };
  });

  const elb = mockClient(ElasticLoadBalancingV2Client);
  const rules = new Map<string, Rule>();
  const groups = new Map<string, string>();
  elb.on(CreateTargetGroupCommand).callsFake(({ Name }) => {
    const TargetGroupArn = `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/${Name}/${id('tg', 16)}`;
    groups.set(Name, TargetGroupArn);
    return { TargetGroups: [{ TargetGroupArn, TargetGroupName: Name }] };
  });
  elb.on(ModifyTargetGroupAttributesCommand).resolves({});
  elb.on(RegisterTargetsCommand).resolves({});
  elb.on(CreateRuleCommand).callsFake(({ ListenerArn, Priority, Actions }) => {
    const RuleArn = `${String(ListenerArn).replace(':listener/', ':listener-rule/')}/${id('rule', 16)}`;
    const rule = { RuleArn, Priority: String(Priority), Actions };
    rules.set(RuleArn, rule);
    return { Rules: [rule] };
  });
  elb.on(DescribeRulesCommand).callsFake(({ RuleArns }) => ({
    Rules: RuleArns
      ? RuleArns.flatMap((arn: string) => (rules.has(arn) ? [rules.get(arn)] : []))
      : [...rules.values()],
  }));
  elb.on(DescribeTargetHealthCommand).resolves({
    TargetHealthDescriptions: [
      { Target: { Id: '10.40.16.5', Port: 8888 }, TargetHealth: { State: 'healthy' } },
    ],
  });
  elb.on(DescribeTargetGroupsCommand).callsFake(({ Names }) => ({
    TargetGroups: (Names ?? []).flatMap((name: string) =>
      groups.has(name) ? [{ TargetGroupArn: groups.get(name), TargetGroupName: name }] : [],
    ),
  }));
  elb.on(DeleteRuleCommand).callsFake(({ RuleArn }) => {
    rules.delete(RuleArn);
    return {};
  });
  elb.on(DeleteTargetGroupCommand).resolves({});

  const cognito = mockClient(CognitoIdentityProviderClient);
  const users = new Map<string, { attributes: AttributeType[]; enabled: boolean; groups: Set<string> }>();
  const poolGroups = new Set<string>(['admin']);
  const user = (name: string) => {
    const found = users.get(name);
    if (!found) throw new UserNotFoundException({ message: 'User does not exist.', ...meta });
    return found;
  };
  cognito.on(AdminGetUserCommand).callsFake(({ Username }) => {
    const found = user(Username);
    return {
      Username,
      UserAttributes: found.attributes,
      Enabled: found.enabled,
      UserCreateDate: new Date(0),
    };
  });
  cognito.on(AdminListGroupsForUserCommand).callsFake(({ Username }) => ({
    Groups: [...user(Username).groups].map((GroupName) => ({ GroupName })),
  }));
  cognito.on(AdminCreateUserCommand).callsFake(({ Username, UserAttributes }) => {
    if (users.has(Username))
      throw new UsernameExistsException({ message: 'User account already exists.', ...meta });
    users.set(Username, { attributes: UserAttributes ?? [], enabled: true, groups: new Set() });
    return { User: { Username, UserStatus: 'FORCE_CHANGE_PASSWORD' } };
  });
  cognito.on(AdminSetUserPasswordCommand).resolves({});
  cognito.on(AdminUpdateUserAttributesCommand).resolves({});
  cognito.on(AdminDisableUserCommand).callsFake(({ Username }) => {
    user(Username).enabled = false;
    return {};
  });
  cognito.on(AdminEnableUserCommand).callsFake(({ Username }) => {
    user(Username).enabled = true;
    return {};
  });
  cognito.on(AdminAddUserToGroupCommand).callsFake(({ Username, GroupName }) => {
    if (!poolGroups.has(GroupName))
      throw new ResourceNotFoundException({ message: 'Group not found.', ...meta });
    user(Username).groups.add(GroupName);
    return {};
  });
  cognito.on(AdminRemoveUserFromGroupCommand).callsFake(({ Username, GroupName }) => {
    user(Username).groups.delete(GroupName);
    return {};
  });
  cognito.on(CreateGroupCommand).callsFake(({ GroupName }) => {
    if (poolGroups.has(GroupName)) throw new GroupExistsException({ message: 'Group exists.', ...meta });
    poolGroups.add(GroupName);
    return { Group: { GroupName } };
  });
  cognito
    .on(ListGroupsCommand)
    .callsFake(() => ({ Groups: [...poolGroups].map((GroupName) => ({ GroupName })) }));
  cognito.on(ListUsersInGroupCommand).callsFake(({ GroupName }) => ({
    Users: [...users.entries()]
      .filter(([, u]) => u.groups.has(GroupName))
      .map(([Username]) => ({ Username })),
  }));
  cognito.on(ListUsersCommand).callsFake(() => ({
    Users: [...users.entries()].map(([Username, u]) => ({
      Username,
      Attributes: u.attributes,
      Enabled: u.enabled,
    })),
  }));

  const events = mockClient(EventBridgeClient);
  events.on(PutEventsCommand).callsFake(({ Entries }) => ({
    FailedEntryCount: 0,
    Entries: (Entries ?? []).map(() => ({ EventId: id('event', 36) })),
  }));

  // The lab token key the stack generates: 64 letters and digits.
  const secrets = mockClient(SecretsManagerClient);
  const labTokenKey = id('lab-token-key', 64);
  secrets.on(GetSecretValueCommand).callsFake(({ SecretId }) => ({
    ARN: SecretId,
    Name: String(SecretId).split(':secret:')[1],
    SecretString: labTokenKey,
    VersionId: '01234567-89ab-cdef-0123-456789abcdef',
  }));
  // The activity probe function: every lab it is asked about has been idle since 2020.
  const lambda = mockClient(LambdaClient);
  lambda.on(InvokeCommand).callsFake(({ Payload }) => {
    const { probes } = JSON.parse(new TextDecoder().decode(Payload)) as { probes: unknown[] };
    const idle = { lastActivity: '2020-01-01T00:00:00.000Z', connections: 0, kernels: [], terminals: 0 };
    const results = probes.map(() => ({ activity: idle }));
    return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ results })) };
  });

  // The launch queue: messages wait here until the test hands them to the launcher, as SQS's event source would.
  const sqs = mockClient(SQSClient);
  const queued: Array<{ messageId: string; body: string }> = [];
  sqs.on(SendMessageCommand).callsFake(({ MessageBody }) => {
    const messageId = id('message', 36);
    queued.push({ messageId, body: String(MessageBody) });
    return {
      MessageId: messageId,
      MD5OfMessageBody: createHash('md5').update(String(MessageBody)).digest('hex'),
    };
  });

  return {
    /** The queued launches as the SQS event source delivers them (first delivery), and the queue emptied. */
    takeLaunches() {
      return {
        Records: queued
          .splice(0)
          .map((message) => ({ ...message, attributes: { ApproximateReceiveCount: '1' } })),
      };
    },
    /** Every provisioning task reaches RUNNING with its lab container up. */
    runTasks() {
      for (const task of tasks.values()) {
        if (task.lastStatus !== 'PROVISIONING') continue;
        task.lastStatus = 'RUNNING';
        task.containers = [{ name: 'lab', lastStatus: 'RUNNING' }];
      }
    },
    /** Adds a user to the pool directly (what an operator's first admin looks like). */
    addUser(name: string, groupNames: string[] = []) {
      for (const group of groupNames) poolGroups.add(group);
      users.set(name, { attributes: [], enabled: true, groups: new Set(groupNames) });
    },
    restore() {
      for (const mock of [ecs, efs, elb, cognito, events, secrets, lambda, sqs]) mock.restore();
    },
  };
}
