import '../support/aws-calls/checked.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  InvalidConfigurationRequestException,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  TargetGroupNotFoundException,
  TooManyTargetGroupsException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type AlbPoolEntry,
  AlbRouter,
  READY_CHECK_INTERVAL_MS,
} from '../../functions/adapters/aws/alb-router.ts';
import { AlbSlots } from '../../functions/adapters/aws/alb-slots.ts';
import { CapacityError, SpawnError, ThrottledError } from '../../functions/core/errors.ts';
import type { Log } from '../../functions/core/log.ts';
import { newSessionId, type Session } from '../../functions/core/session.ts';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const docMock = mockClient(DynamoDBDocumentClient);
const TABLE = 'hubless-test';
const POOL: AlbPoolEntry[] = [
  { listenerArn: 'arn:listener/a', host: 'labs-1.example.org', loadBalancerArn: 'arn:lb/a' },
  { listenerArn: 'arn:listener/b', host: 'labs-2.example.org', loadBalancerArn: 'arn:lb/b' },
];
const TG_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/hl-x/1';
const RULE_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/a/1/2/3';
const API_RULE_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/a/1/2/4';
const target = { host: '10.0.3.17', port: 8888 };

function session(user: string, server = '', route?: Session['route']): Session {
  const time = '2025-01-01T00:00:00.000Z';
  return {
    id: newSessionId(user, server, 'n1'),
    user,
    server,
    profile: 'small',
    state: 'running',
    version: 3,
    createdAt: time,
    updatedAt: time,
    events: [],
    route,
  };
}

function router(capacityPerAlb = 95, log?: Log, now?: () => number) {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const slots = new AlbSlots({
    doc,
    tableName: TABLE,
    capacityPerAlb,
    random: () => 0,
  });
  return new AlbRouter({
    elb: new ElasticLoadBalancingV2Client({ region: 'eu-west-1' }),
    slots,
    pool: POOL,
    vpcId: 'vpc-1',
    stage: 'dev',
    cognito: {
      userPoolArn: 'arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_abc',
      userPoolClientId: 'client-1',
      userPoolDomain: 'hubless-dev',
    },
    log,
    ...(now ? { now } : {}),
  });
}

/** Slot rows as the Query returns them. */
function slotRows(listenerArn: string, priorities: number[], sessionId = 'someone_x_n') {
  return priorities.map((priority) => ({
    pk: `SLOT#${listenerArn}`,
    sk: `PRIORITY#${String(priority).padStart(5, '0')}`,
    listenerArn,
    priority,
    sessionId,
  }));
}

function conditionFailed(): Error {
  return Object.assign(new Error('The conditional request failed'), {
    name: 'ConditionalCheckFailedException',
  });
}

function mockHappyElb() {
  elbMock.on(CreateTargetGroupCommand).resolves({ TargetGroups: [{ TargetGroupArn: TG_ARN }] });
  elbMock.on(ModifyTargetGroupAttributesCommand).resolves({});
  elbMock.on(RegisterTargetsCommand).resolves({});
  // The page rule first, then the API rule.
  elbMock
    .on(CreateRuleCommand)
    .resolvesOnce({ Rules: [{ RuleArn: RULE_ARN }] })
    .resolves({ Rules: [{ RuleArn: API_RULE_ARN }] });
  elbMock.on(DeleteRuleCommand).resolves({});
  elbMock.on(DeleteTargetGroupCommand).resolves({});
}

describe('AlbRouter', () => {
  beforeEach(() => {
    elbMock.reset();
    docMock.reset();
    docMock.on(QueryCommand).resolves({ Items: [] });
    docMock.on(PutCommand).resolves({});
    docMock.on(UpdateCommand).resolves({});
    docMock.on(DeleteCommand).resolves({});
  });

  describe('addRoute', () => {
    it('claims a slot, then builds target group, target and two authenticated rules at that slot', async () => {
      mockHappyElb();
      const alice = session('alice', 'project');
      const route = await router().addRoute(alice, target);

      expect(route).toEqual({
        listenerArn: 'arn:listener/a',
        priority: 1,
        rulePriority: 2,
        targetGroupArn: TG_ARN,
        ruleArn: RULE_ARN,
        apiRuleArn: API_RULE_ARN,
        host: 'labs-1.example.org',
      });

      const put = docMock.commandCalls(PutCommand)[0]?.args[0].input;
      expect(put).toMatchObject({
        TableName: TABLE,
        Item: { pk: 'SLOT#arn:listener/a', sk: 'PRIORITY#00001', sessionId: alice.id, priority: 1 },
        ConditionExpression: 'attribute_not_exists(pk)',
      });

      const tg = elbMock.commandCalls(CreateTargetGroupCommand)[0]?.args[0].input;
      expect(tg).toEqual({
        Name: expect.stringMatching(/^hl-[0-9a-f]{29}$/),
        TargetType: 'ip',
        Protocol: 'HTTP',
        Port: 8888,
        VpcId: 'vpc-1',
        HealthCheckEnabled: true,
        HealthCheckProtocol: 'HTTP',
        HealthCheckPort: 'traffic-port',
        HealthCheckPath: '/user/alice/project/api',
        HealthCheckIntervalSeconds: 5,
        HealthCheckTimeoutSeconds: 4,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 2,
        Matcher: { HttpCode: '200' },
        Tags: [
          { Key: 'hubless:session', Value: alice.id },
          { Key: 'hubless:user', Value: 'alice' },
        ],
      });
      expect(tg?.Name?.length).toBeLessThanOrEqual(32);
      expect(elbMock.commandCalls(ModifyTargetGroupAttributesCommand)[0]?.args[0].input).toEqual({
        TargetGroupArn: TG_ARN,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '5' }],
      });
      expect(elbMock.commandCalls(RegisterTargetsCommand)[0]?.args[0].input).toEqual({
        TargetGroupArn: TG_ARN,
        Targets: [{ Id: '10.0.3.17', Port: 8888 }],
      });
      const cognito = {
        UserPoolArn: 'arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_abc',
        UserPoolClientId: 'client-1',
        UserPoolDomain: 'hubless-dev',
        SessionCookieName: 'AWSELBAuthSessionCookie',
        Scope: 'openid email profile',
        SessionTimeout: 43_200,
      };
      const tags = [
        { Key: 'hubless:session', Value: alice.id },
        { Key: 'hubless:user', Value: 'alice' },
      ];
      const host = { Field: 'host-header', HostHeaderConfig: { Values: ['labs-1.example.org'] } };
      // The page rule: a page load without an ALB session is sent to sign in.
      expect(elbMock.commandCalls(CreateRuleCommand)[0]?.args[0].input).toEqual({
        ListenerArn: 'arn:listener/a',
        Priority: 2,
        Conditions: [
          host,
          { Field: 'path-pattern', PathPatternConfig: { Values: ['/user/alice/project/*'] } },
        ],
        Actions: [
          {
            Type: 'authenticate-cognito',
            Order: 1,
            AuthenticateCognitoConfig: { ...cognito, OnUnauthenticatedRequest: 'authenticate' },
          },
          { Type: 'forward', Order: 2, TargetGroupArn: TG_ARN },
        ],
        Tags: tags,
      });
      // The API rule, just before it: JupyterLab's XHR and WebSocket paths get 401, not a redirect
      // that script code sees as a connection error; same cookie, scope and timeout.
      expect(elbMock.commandCalls(CreateRuleCommand)[1]?.args[0].input).toEqual({
        ListenerArn: 'arn:listener/a',
        Priority: 1,
        Conditions: [
          host,
          {
            Field: 'path-pattern',
            PathPatternConfig: {
              Values: [
                '/user/alice/project/api/*',
                '/user/alice/project/lab/api/*',
                '/user/alice/project/terminals/websocket/*',
              ],
            },
          },
        ],
        Actions: [
          {
            Type: 'authenticate-cognito',
            Order: 1,
            AuthenticateCognitoConfig: { ...cognito, OnUnauthenticatedRequest: 'deny' },
          },
          { Type: 'forward', Order: 2, TargetGroupArn: TG_ARN },
        ],
        Tags: tags,
      });
      // The slot remembers what was built, so the route can be found without the session.
      expect(docMock.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
        Key: { pk: 'SLOT#arn:listener/a', sk: 'PRIORITY#00001' },
        ExpressionAttributeValues: {
          ':tg': TG_ARN,
          ':rule': RULE_ARN,
          ':apiRule': API_RULE_ARN,
          ':session': alice.id,
        },
      });
    });

    it("puts a default server's rule after every named server's, since /user/alice/* also matches /user/alice/project/", async () => {
      mockHappyElb();
      const route = await router().addRoute(session('alice'), target);
      expect(route).toMatchObject({ priority: 1, rulePriority: 192 });
      expect(elbMock.commandCalls(CreateRuleCommand)[0]?.args[0].input.Priority).toBe(192);
      expect(elbMock.commandCalls(CreateRuleCommand)[1]?.args[0].input.Priority).toBe(191);
      expect(elbMock.commandCalls(CreateRuleCommand)[0]?.args[0].input.Conditions?.[1]).toEqual({
        Field: 'path-pattern',
        PathPatternConfig: { Values: ['/user/alice/*'] },
      });
    });

    it('skips priorities others hold and moves on when it loses a race for one', async () => {
      mockHappyElb();
      const taken = [1, 2, 4];
      docMock.on(QueryCommand).callsFake(() => ({ Items: slotRows('arn:listener/a', taken) }));
      docMock.on(PutCommand).callsFake((input: { Item: { priority: number } }) => {
        if (input.Item.priority === 3) {
          taken.push(3); // another session got there first
          throw conditionFailed();
        }
        return {};
      });
      const route = await router().addRoute(session('bob', 'x'), target);
      expect(route.priority).toBe(5);
      expect(docMock.commandCalls(PutCommand).map((call) => call.args[0].input.Item?.priority)).toEqual([
        3, 5,
      ]);
    });

    it('uses the next load balancer when the first is full', async () => {
      mockHappyElb();
      docMock
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'SLOT#arn:listener/a' } })
        .resolves({ Items: slotRows('arn:listener/a', [1, 2, 3]) });
      const route = await router(3).addRoute(session('carol', 'x'), target);
      expect(route).toMatchObject({ listenerArn: 'arn:listener/b', priority: 1, host: 'labs-2.example.org' });
      expect(elbMock.commandCalls(CreateRuleCommand)[0]?.args[0].input.Conditions?.[0]).toEqual({
        Field: 'host-header',
        HostHeaderConfig: { Values: ['labs-2.example.org'] },
      });
    });

    it('refuses with a capacity error that says how to raise it when the whole pool is full', async () => {
      docMock
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'SLOT#arn:listener/a' } })
        .resolves({ Items: slotRows('arn:listener/a', [1, 2]) });
      docMock
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'SLOT#arn:listener/b' } })
        .resolves({ Items: slotRows('arn:listener/b', [1, 2]) });
      const error = await router(2)
        .addRoute(session('dave'), target)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CapacityError);
      expect((error as Error).message).toBe(
        'All 2 load balancers are full (2 x 2 = 4 live sessions). Raise albPoolSize in the stage configuration, or stop idle servers.',
      );
      expect(elbMock.calls()).toHaveLength(0);
    });

    it('undoes everything when CreateRule fails after CreateTargetGroup', async () => {
      mockHappyElb();
      elbMock
        .on(CreateRuleCommand)
        .rejects(new InvalidConfigurationRequestException({ message: 'bad cognito domain', $metadata: {} }));
      const eve = session('eve');
      const error = await router()
        .addRoute(eve, target)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(SpawnError);
      expect(elbMock.commandCalls(DeleteTargetGroupCommand)[0]?.args[0].input).toEqual({
        TargetGroupArn: TG_ARN,
      });
      expect(elbMock.commandCalls(DeleteRuleCommand)).toHaveLength(0);
      expect(docMock.commandCalls(DeleteCommand)[0]?.args[0].input).toEqual({
        TableName: TABLE,
        Key: { pk: 'SLOT#arn:listener/a', sk: 'PRIORITY#00001' },
        ConditionExpression: 'sessionId = :session',
        ExpressionAttributeValues: { ':session': eve.id },
      });
      expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
    });

    it('undoes the page rule too when the API rule fails', async () => {
      mockHappyElb();
      elbMock
        .on(CreateRuleCommand)
        .resolvesOnce({ Rules: [{ RuleArn: RULE_ARN }] })
        .rejects(new InvalidConfigurationRequestException({ message: 'too many rules', $metadata: {} }));
      const error = await router()
        .addRoute(session('erin'), target)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpawnError);
      expect(
        elbMock
          .calls()
          .map((call) => call.args[0].constructor.name)
          .slice(-2),
      ).toEqual(['DeleteRuleCommand', 'DeleteTargetGroupCommand']);
      expect(elbMock.commandCalls(DeleteRuleCommand)[0]?.args[0].input).toEqual({ RuleArn: RULE_ARN });
      expect(docMock.commandCalls(DeleteCommand)).toHaveLength(1);
      expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
    });

    it('logs an undo step that fails as a structured error line naming the session', async () => {
      mockHappyElb();
      elbMock
        .on(CreateRuleCommand)
        .rejects(new InvalidConfigurationRequestException({ message: 'bad cognito domain', $metadata: {} }))
        .on(DeleteTargetGroupCommand)
        .rejects(new Error('ELB unreachable'));
      const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
      const grace = session('grace');
      await router(95, (level, message, fields) => lines.push([level, message, fields]))
        .addRoute(grace, target)
        .catch(() => undefined);
      expect(lines).toEqual([
        [
          'error',
          'could not undo a routing step; reconciliation will remove it',
          { sessionId: grace.id, error: 'Error: ELB unreachable' },
        ],
      ]);
    });

    it('reports the account target group quota as a capacity error and frees the slot', async () => {
      elbMock
        .on(CreateTargetGroupCommand)
        .rejects(new TooManyTargetGroupsException({ message: 'too many', $metadata: {} }));
      const error = await router()
        .addRoute(session('frank'), target)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CapacityError);
      expect((error as Error).message).toMatch(/Target groups per Region/);
      expect(docMock.commandCalls(DeleteCommand)).toHaveLength(1);
    });

    it('does not retry a throttled CreateTargetGroup itself (the client does) and says what to do', async () => {
      mockHappyElb();
      elbMock
        .on(CreateTargetGroupCommand)
        .rejects(
          Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { attempts: 5 } }),
        );
      const error = await router()
        .addRoute(session('gina'), target)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ThrottledError);
      expect((error as Error).message).toMatch(/CreateTargetGroup \(5 attempts\).*Elastic Load Balancing/);
      expect(elbMock.commandCalls(CreateTargetGroupCommand)).toHaveLength(1);
    });

    it('returns the existing route when its rule still exists', async () => {
      const existing = {
        listenerArn: 'arn:listener/a',
        priority: 7,
        targetGroupArn: TG_ARN,
        ruleArn: RULE_ARN,
        host: 'labs-1.example.org',
      };
      elbMock
        .on(DescribeRulesCommand, { RuleArns: [RULE_ARN] })
        .resolves({ Rules: [{ RuleArn: RULE_ARN, Priority: '7' }] });
      expect(await router().addRoute(session('hal', '', existing), target)).toEqual(existing);
      expect(elbMock.commandCalls(CreateTargetGroupCommand)).toHaveLength(0);
      expect(docMock.commandCalls(PutCommand)).toHaveLength(0);
    });
  });

  describe('isRouteReady', () => {
    const routed = (tg = TG_ARN) =>
      session('ivy', '', {
        listenerArn: 'arn:listener/a',
        priority: 1,
        targetGroupArn: tg,
        ruleArn: RULE_ARN,
      });

    it('is true once the target is healthy', async () => {
      elbMock
        .on(DescribeTargetHealthCommand, { TargetGroupArn: TG_ARN })
        .resolves({ TargetHealthDescriptions: [{ TargetHealth: { State: 'healthy' } }] });
      expect(await router().isRouteReady(routed())).toBe(true);
    });

    it('is false while the target is still being checked, and without a route', async () => {
      elbMock
        .on(DescribeTargetHealthCommand)
        .resolves({ TargetHealthDescriptions: [{ TargetHealth: { State: 'initial' } }] });
      expect(await router().isRouteReady(routed())).toBe(false);
      expect(await router().isRouteReady(session('ivy'))).toBe(false);
    });

    it('asks ELB at most once per health-check interval per session, however often progress polls', async () => {
      let now = 1_000_000;
      let state = 'initial';
      elbMock
        .on(DescribeTargetHealthCommand)
        .callsFake(async () => ({ TargetHealthDescriptions: [{ TargetHealth: { State: state } }] }));
      const paced = router(95, undefined, () => now);
      // A waiting user's progress page polls every second: 10 polls in 4.5 s.
      for (let i = 0; i < 10; i++, now += 450) expect(await paced.isRouteReady(routed())).toBe(false);
      expect(elbMock.commandCalls(DescribeTargetHealthCommand)).toHaveLength(1);
      // Another session is asked about on its own.
      await paced.isRouteReady(routed('arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/hl-y/2'));
      expect(elbMock.commandCalls(DescribeTargetHealthCommand)).toHaveLength(2);
      // After the interval ELB is asked again, and a healthy answer is not held back.
      now += READY_CHECK_INTERVAL_MS;
      state = 'healthy';
      expect(await paced.isRouteReady(routed())).toBe(true);
      expect(await paced.isRouteReady(routed())).toBe(true);
      expect(elbMock.commandCalls(DescribeTargetHealthCommand)).toHaveLength(4);
    });
  });

  describe('deleteRoute', () => {
    it('deletes the rule, then the target group, then frees the slot', async () => {
      mockHappyElb();
      const jack = session('jack', '', {
        listenerArn: 'arn:listener/b',
        priority: 12,
        targetGroupArn: TG_ARN,
        ruleArn: RULE_ARN,
        apiRuleArn: API_RULE_ARN,
        host: 'labs-2.example.org',
      });
      await router().deleteRoute(jack.id, jack.route);
      expect(elbMock.calls().map((call) => call.args[0].constructor.name)).toEqual([
        'DeleteRuleCommand',
        'DeleteRuleCommand',
        'DeleteTargetGroupCommand',
      ]);
      expect(elbMock.commandCalls(DeleteRuleCommand).map((call) => call.args[0].input.RuleArn)).toEqual([
        RULE_ARN,
        API_RULE_ARN,
      ]);
      expect(docMock.commandCalls(DeleteCommand)[0]?.args[0].input.Key).toEqual({
        pk: 'SLOT#arn:listener/b',
        sk: 'PRIORITY#00012',
      });
      expect(docMock.commandCalls(QueryCommand)).toHaveLength(0);
    });

    it('finds what a crash left behind from the slot table and the target group name', async () => {
      mockHappyElb();
      const kim = session('kim');
      docMock
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'SLOT#arn:listener/a' } })
        .resolves({ Items: slotRows('arn:listener/a', [30], kim.id) });
      elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: TG_ARN }] });
      elbMock.on(DescribeRulesCommand, { ListenerArn: 'arn:listener/a' }).resolves({
        Rules: [
          {
            RuleArn: 'arn:other-rule',
            Priority: '29',
            Actions: [{ Type: 'forward', TargetGroupArn: 'arn:other-tg' }],
          },
          {
            RuleArn: API_RULE_ARN,
            Priority: '59',
            Actions: [{ Type: 'authenticate-cognito' }, { Type: 'forward', TargetGroupArn: TG_ARN }],
          },
          {
            RuleArn: RULE_ARN,
            Priority: '60',
            Actions: [{ Type: 'authenticate-cognito' }, { Type: 'forward', TargetGroupArn: TG_ARN }],
          },
        ],
      });
      await router().deleteRoute(kim.id, kim.route);
      expect(elbMock.commandCalls(DescribeTargetGroupsCommand)[0]?.args[0].input).toEqual({
        Names: [router().targetGroupName(kim.id)],
      });
      // Both of the session's rules, found by the target group they forward to.
      expect(elbMock.commandCalls(DeleteRuleCommand).map((call) => call.args[0].input.RuleArn)).toEqual([
        API_RULE_ARN,
        RULE_ARN,
      ]);
      expect(elbMock.commandCalls(DeleteTargetGroupCommand)[0]?.args[0].input).toEqual({
        TargetGroupArn: TG_ARN,
      });
      expect(docMock.commandCalls(DeleteCommand)[0]?.args[0].input.Key).toEqual({
        pk: 'SLOT#arn:listener/a',
        sk: 'PRIORITY#00030',
      });
    });

    it('succeeds when nothing is left', async () => {
      elbMock
        .on(DescribeTargetGroupsCommand)
        .rejects(new TargetGroupNotFoundException({ message: 'none', $metadata: {} }));
      await expect(router().deleteRoute(session('lou').id)).resolves.toBeUndefined();
      expect(elbMock.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);
      expect(docMock.commandCalls(DeleteCommand)).toHaveLength(0);
    });
  });

  describe('listRoutes', () => {
    it('lists the slots of every load balancer with what was built on them', async () => {
      docMock.on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'SLOT#arn:listener/a' } }).resolves({
        Items: [
          { ...slotRows('arn:listener/a', [3], 'max__n1')[0], targetGroupArn: TG_ARN, ruleArn: RULE_ARN },
        ],
      });
      docMock
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'SLOT#arn:listener/b' } })
        .resolves({ Items: slotRows('arn:listener/b', [1], 'ned_lab_n1') });
      expect(await router().listRoutes()).toEqual([
        {
          sessionId: 'max__n1',
          route: {
            listenerArn: 'arn:listener/a',
            priority: 3,
            rulePriority: 196,
            host: 'labs-1.example.org',
            targetGroupArn: TG_ARN,
            ruleArn: RULE_ARN,
          },
        },
        {
          sessionId: 'ned_lab_n1',
          route: { listenerArn: 'arn:listener/b', priority: 1, rulePriority: 2, host: 'labs-2.example.org' },
        },
      ]);
    });
  });
});
