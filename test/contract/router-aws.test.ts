import '../support/aws-calls/checked.ts';
import {
  CreateRuleCommand,
  type CreateRuleCommandInput,
  CreateTargetGroupCommand,
  type CreateTargetGroupCommandInput,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DescribeRulesCommand,
  type DescribeRulesCommandInput,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  PriorityInUseException,
  RegisterTargetsCommand,
  ResourceInUseException,
  type Rule,
  RuleNotFoundException,
  TargetGroupNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { AlbRouter } from '../../functions/adapters/aws/alb-router.ts';
import { AlbSlots } from '../../functions/adapters/aws/alb-slots.ts';
import { useTestDynamo } from '../support/dynamodb.ts';
import { describeRouterContract, makeSession } from './router.contract.ts';

/**
 * AlbRouter over a stateful stand-in for the ELB API (target groups by name, rules with
 * unique priorities per listener, the errors ELB answers) and real slot writes on
 * DynamoDB Local.
 */
const meta = { $metadata: {} };
function fakeElb() {
  const targetGroups = new Map<string, { arn: string; name: string; healthy: boolean }>();
  const rules = new Map<string, Rule & { ListenerArn: string }>();
  let serial = 0;
  const mock = mockClient(ElasticLoadBalancingV2Client);
  mock.reset();
  mock.on(CreateTargetGroupCommand).callsFake((input: CreateTargetGroupCommandInput) => {
    const name = input.Name ?? '';
    const existing = [...targetGroups.values()].find((group) => group.name === name);
    const group = existing ?? {
      arn: `arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/${name}/${++serial}`,
      name,
      healthy: false,
    };
    targetGroups.set(group.arn, group);
    return { TargetGroups: [{ TargetGroupArn: group.arn, TargetGroupName: name }] };
  });
  mock.on(ModifyTargetGroupAttributesCommand).resolves({});
  mock.on(RegisterTargetsCommand).callsFake((input: { TargetGroupArn: string }) => {
    const group = targetGroups.get(input.TargetGroupArn);
    if (!group) throw new TargetGroupNotFoundException({ message: 'no such target group', ...meta });
    group.healthy = true;
    return {};
  });
  mock.on(CreateRuleCommand).callsFake((input: CreateRuleCommandInput) => {
    const clash = [...rules.values()].some(
      (rule) => rule.ListenerArn === input.ListenerArn && rule.Priority === String(input.Priority),
    );
    if (clash)
      throw new PriorityInUseException({
        message: `Priority '${input.Priority}' is currently in use`,
        ...meta,
      });
    const arn = `arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/x/${++serial}`;
    rules.set(arn, {
      RuleArn: arn,
      ListenerArn: input.ListenerArn ?? '',
      Priority: String(input.Priority),
      Actions: input.Actions,
      Conditions: input.Conditions,
    });
    return { Rules: [{ RuleArn: arn }] };
  });
  mock.on(DescribeRulesCommand).callsFake((input: DescribeRulesCommandInput) => {
    if (input.RuleArns) {
      const found = input.RuleArns.map((arn) => rules.get(arn));
      if (found.some((rule) => !rule))
        throw new RuleNotFoundException({ message: 'One or more rules not found', ...meta });
      return { Rules: found };
    }
    return { Rules: [...rules.values()].filter((rule) => rule.ListenerArn === input.ListenerArn) };
  });
  mock.on(DeleteRuleCommand).callsFake((input: { RuleArn: string }) => {
    if (!rules.delete(input.RuleArn))
      throw new RuleNotFoundException({ message: 'One or more rules not found', ...meta });
    return {};
  });
  mock.on(DeleteTargetGroupCommand).callsFake((input: { TargetGroupArn: string }) => {
    const used = [...rules.values()].some((rule) =>
      rule.Actions?.some((action) => action.TargetGroupArn === input.TargetGroupArn),
    );
    if (used)
      throw new ResourceInUseException({
        message: 'Target group is currently in use by a listener or a rule',
        ...meta,
      });
    targetGroups.delete(input.TargetGroupArn); // ELB: deleting a missing target group succeeds
    return {};
  });
  mock.on(DescribeTargetGroupsCommand).callsFake((input: { Names?: string[] }) => {
    const found = [...targetGroups.values()].filter((group) => input.Names?.includes(group.name));
    if (found.length === 0)
      throw new TargetGroupNotFoundException({ message: 'One or more target groups not found', ...meta });
    return {
      TargetGroups: found.map((group) => ({ TargetGroupArn: group.arn, TargetGroupName: group.name })),
    };
  });
  mock.on(DescribeTargetHealthCommand).callsFake((input: { TargetGroupArn: string }) => {
    const group = targetGroups.get(input.TargetGroupArn);
    if (!group) throw new TargetGroupNotFoundException({ message: 'no such target group', ...meta });
    return { TargetHealthDescriptions: [{ TargetHealth: { State: group.healthy ? 'healthy' : 'initial' } }] };
  });
  return { targetGroups, rules };
}

const dynamo = useTestDynamo();
let state = fakeElb();

async function makeRouter(capacity: number, poolSize = 1) {
  state = fakeElb();
  const slots = new AlbSlots({
    doc: dynamo.doc,
    tableName: await dynamo.freshTable(),
    capacityPerAlb: capacity,
  });
  return new AlbRouter({
    elb: new ElasticLoadBalancingV2Client({ region: 'eu-west-1' }),
    slots,
    pool: Array.from({ length: poolSize }, (_, index) => ({
      listenerArn: `arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/lb${index}/1/1`,
      host: `labs-${index + 1}.example.org`,
      loadBalancerArn: `arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/lb${index}/1`,
    })),
    vpcId: 'vpc-1',
    stage: 'test',
    cognito: {
      userPoolArn: 'arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_x',
      userPoolClientId: 'c',
      userPoolDomain: 'd',
    },
  });
}

describeRouterContract(
  'AlbRouter over a mocked ELB and DynamoDB Local',
  ({ capacity }) => makeRouter(capacity),
  {
    capacity: 3,
    probesTargetOverHttp: false,
  },
);

describe('AlbRouter over a mocked ELB and DynamoDB Local', () => {
  it('leaves no target group, rule or slot behind after delete', async () => {
    const router = await makeRouter(3, 2);
    const alice = makeSession('alice');
    const route = await router.addRoute(alice, { host: '10.0.0.5', port: 8888 });
    // The page rule and the API rule.
    expect(state.rules.size).toBe(2);
    expect(state.targetGroups.size).toBe(1);
    expect(await router.isRouteReady({ ...alice, route })).toBe(true);
    await router.deleteRoute(alice.id, route);
    expect(state.rules.size).toBe(0);
    expect(state.targetGroups.size).toBe(0);
    expect(await router.listRoutes()).toEqual([]);
  });

  it('cleans up a route whose record was lost, from the slot table alone', async () => {
    const router = await makeRouter(3);
    const bob = makeSession('bob', 'project');
    await router.addRoute(bob, { host: '10.0.0.6', port: 8888 });
    await router.deleteRoute(bob.id); // the session never saved its route record
    expect(state.rules.size).toBe(0);
    expect(state.targetGroups.size).toBe(0);
    expect(await router.listRoutes()).toEqual([]);
  });

  it('routes around a priority taken by a rule hubless did not make', async () => {
    const router = await makeRouter(3);
    state.rules.set('arn:foreign', {
      RuleArn: 'arn:foreign',
      ListenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/lb0/1/1',
      Priority: '1',
      Actions: [],
    });
    const route = await router.addRoute(makeSession('carol', 'x'), { host: '10.0.0.7', port: 8888 });
    expect(route.priority).not.toBe(1);
    expect(state.targetGroups.size).toBe(1);
    expect((await router.listRoutes()).map((entry) => entry.sessionId)).toEqual([
      makeSession('carol', 'x').id,
    ]);
  });
});
