import { createHash } from 'node:crypto';
import { awsError } from './errors.ts';

/**
 * Elastic Load Balancing v2 as hubless uses it, with the rules AWS enforces: target
 * group names unique in the region (an identical create returns the existing group),
 * 100 unique target groups per load balancer, 100 rules per listener, unique priorities
 * 1-50,000, at most 5 condition values and 5 wildcards per rule, 128 characters per
 * value, no deleting a target group a rule still uses. Target health is checked for
 * real: a background loop sends the health check request to each registered target
 * every interval (scaled by `timeScale`), and a target turns healthy after
 * HealthyThresholdCount passes in a row.
 */

export interface Condition {
  Field?: string;
  HostHeaderConfig?: { Values?: string[] };
  PathPatternConfig?: { Values?: string[] };
  Values?: string[];
}

export interface Action {
  Type: string;
  Order?: number;
  TargetGroupArn?: string;
  AuthenticateCognitoConfig?: Record<string, unknown>;
  /** Simulator-only: a Lambda target (the portal's rule). */
  lambda?: string;
}

export interface SimRule {
  RuleArn: string;
  listenerArn: string;
  Priority: string;
  Conditions: Condition[];
  Actions: Action[];
  IsDefault: boolean;
  tags: Array<{ Key?: string; Value?: string }>;
}

export interface TargetState {
  id: string;
  port: number;
  state: 'initial' | 'healthy' | 'unhealthy' | 'draining';
  passes: number;
  fails: number;
  nextCheckAt: number;
}

export interface SimTargetGroup {
  TargetGroupArn: string;
  TargetGroupName: string;
  settings: string;
  input: Record<string, unknown>;
  targets: Map<string, TargetState>;
  attributes: Record<string, string>;
}

export interface Balancer {
  loadBalancerArn: string;
  listenerArn: string;
  host: string;
}

export const LIMITS = {
  targetGroupsPerBalancer: 100,
  /** The default quota; an account may have it raised (the `rulesQuota` option). */
  rulesPerListener: 100,
  targetGroupsPerRegion: 3000,
  conditionValuesPerRule: 5,
  wildcardsPerRule: 5,
  conditionValueLength: 128,
};

/** Health checks: the simulator asks `check(ip, port, path)` whether the target answers 200. */
export type HealthProbe = (ip: string, port: number, path: string) => Promise<number>;

export class SimElb {
  readonly balancers: Balancer[];
  readonly rules = new Map<string, SimRule>();
  readonly targetGroups = new Map<string, SimTargetGroup>();
  readonly #region: string;
  readonly #account: string;
  readonly #probe: HealthProbe;
  readonly #timeScale: number;
  readonly #rulesQuota: number;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

  constructor(options: {
    region: string;
    account: string;
    balancers: Balancer[];
    probe: HealthProbe;
    timeScale: number;
    /** Rules per listener this account may have (Service Quotas); default LIMITS.rulesPerListener. */
    rulesQuota?: number;
    portal: { priority: number; lambda: string; cognito: Record<string, unknown> };
  }) {
    this.#region = options.region;
    this.#account = options.account;
    this.balancers = options.balancers;
    this.#probe = options.probe;
    this.#timeScale = options.timeScale;
    this.#rulesQuota = options.rulesQuota ?? LIMITS.rulesPerListener;
    for (const balancer of this.balancers) {
      // The template's catch-all portal rule, one per listener (stacks/Routing.ts).
      this.#addRule({
        listenerArn: balancer.listenerArn,
        Priority: String(options.portal.priority),
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
        Actions: [
          { Type: 'authenticate-cognito', Order: 1, AuthenticateCognitoConfig: options.portal.cognito },
          { Type: 'forward', Order: 2, lambda: options.portal.lambda },
        ],
        IsDefault: false,
        tags: [],
      });
    }
    this.#timer = setInterval(() => void this.#healthChecks(), 50);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Rules of a listener in evaluation order (ascending priority). */
  rulesOf(listenerArn: string): SimRule[] {
    return [...this.rules.values()]
      .filter((rule) => rule.listenerArn === listenerArn)
      .sort((a, b) => Number(a.Priority) - Number(b.Priority));
  }

  /** Session rules and target groups (the template's portal rules excluded). */
  sessionRules(): SimRule[] {
    return [...this.rules.values()].filter((rule) => rule.Actions.every((action) => !action.lambda));
  }

  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'CreateTargetGroup':
        return this.#createTargetGroup(input);
      case 'ModifyTargetGroupAttributes': {
        const group = this.#group(String(input.TargetGroupArn));
        for (const { Key, Value } of (input.Attributes as Array<{ Key: string; Value: string }>) ?? [])
          group.attributes[Key] = Value;
        return { Attributes: Object.entries(group.attributes).map(([Key, Value]) => ({ Key, Value })) };
      }
      case 'RegisterTargets': {
        const group = this.#group(String(input.TargetGroupArn));
        for (const target of (input.Targets as Array<{ Id: string; Port?: number }>) ?? []) {
          const port = target.Port ?? Number(group.input.Port);
          group.targets.set(`${target.Id}:${port}`, {
            id: target.Id,
            port,
            state: 'initial',
            passes: 0,
            fails: 0,
            nextCheckAt: Date.now(),
          });
        }
        return {};
      }
      case 'CreateRule':
        return this.#createRule(input);
      case 'DescribeRules':
        return this.#describeRules(input);
      case 'DeleteRule': {
        const rule = this.rules.get(String(input.RuleArn));
        if (!rule) throw awsError('RuleNotFoundException', 'One or more rules not found');
        this.rules.delete(rule.RuleArn);
        return {};
      }
      case 'DescribeTargetHealth': {
        const group = this.#group(String(input.TargetGroupArn));
        return {
          TargetHealthDescriptions: [...group.targets.values()].map((target) => ({
            Target: { Id: target.id, Port: target.port },
            HealthCheckPort: String(target.port),
            TargetHealth: {
              State: target.state,
              ...(target.state === 'initial'
                ? { Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' }
                : {}),
            },
          })),
        };
      }
      case 'DeleteTargetGroup': {
        const arn = String(input.TargetGroupArn);
        const group = this.targetGroups.get(arn);
        if (!group) return {};
        const user = [...this.rules.values()].find((rule) =>
          rule.Actions.some((action) => action.TargetGroupArn === arn),
        );
        if (user)
          throw awsError(
            'ResourceInUseException',
            `Target group '${arn}' is currently in use by a listener or a rule`,
          );
        this.targetGroups.delete(arn);
        return {};
      }
      case 'DescribeTargetGroups': {
        const names = (input.Names as string[] | undefined) ?? [];
        const found = [...this.targetGroups.values()].filter(
          (group) => names.length === 0 || names.includes(group.TargetGroupName),
        );
        if (names.length > 0 && found.length < names.length)
          throw awsError('TargetGroupNotFoundException', 'One or more target groups not found');
        return { TargetGroups: found.map((group) => this.#describeGroup(group)) };
      }
      case 'AddTags':
        return {};
      default:
        throw awsError('UnsupportedOperation', `The simulator does not implement ELBv2 ${operation}`);
    }
  }

  #createTargetGroup(input: Record<string, unknown>): Record<string, unknown> {
    const name = String(input.Name);
    const { Tags: _tags, ...rest } = input;
    const settings = JSON.stringify(rest);
    const existing = [...this.targetGroups.values()].find((group) => group.TargetGroupName === name);
    if (existing) {
      // "If you attempt to create multiple target groups with the same settings, each call succeeds."
      if (existing.settings === settings) return { TargetGroups: [this.#describeGroup(existing)] };
      throw awsError('DuplicateTargetGroupNameException', 'A target group with the same name exists');
    }
    if (this.targetGroups.size >= LIMITS.targetGroupsPerRegion)
      throw awsError(
        'TooManyTargetGroupsException',
        'You have reached the limit on the number of target groups',
      );
    const arn = `arn:aws:elasticloadbalancing:${this.#region}:${this.#account}:targetgroup/${name}/${hex(`tg:${name}:${Math.random()}`, 16)}`;
    const group: SimTargetGroup = {
      TargetGroupArn: arn,
      TargetGroupName: name,
      settings,
      input,
      targets: new Map(),
      attributes: { 'deregistration_delay.timeout_seconds': '300' },
    };
    this.targetGroups.set(arn, group);
    return { TargetGroups: [this.#describeGroup(group)] };
  }

  #describeGroup(group: SimTargetGroup): Record<string, unknown> {
    const lbs = new Set(
      [...this.rules.values()]
        .filter((rule) => rule.Actions.some((action) => action.TargetGroupArn === group.TargetGroupArn))
        .map((rule) => this.balancers.find((b) => b.listenerArn === rule.listenerArn)?.loadBalancerArn),
    );
    return {
      TargetGroupArn: group.TargetGroupArn,
      TargetGroupName: group.TargetGroupName,
      Protocol: group.input.Protocol,
      Port: group.input.Port,
      TargetType: group.input.TargetType,
      LoadBalancerArns: [...lbs].filter(Boolean),
    };
  }

  #createRule(input: Record<string, unknown>): Record<string, unknown> {
    const listenerArn = String(input.ListenerArn);
    const balancer = this.balancers.find((b) => b.listenerArn === listenerArn);
    if (!balancer) throw awsError('ListenerNotFoundException', 'One or more listeners not found');
    const priority = Number(input.Priority);
    if (!Number.isInteger(priority) || priority < 1 || priority > 50_000)
      throw awsError('ValidationError', `Priority '${input.Priority}' must be between 1 and 50000`);
    const existing = this.rulesOf(listenerArn);
    if (existing.some((rule) => Number(rule.Priority) === priority))
      throw awsError('PriorityInUseException', `Priority '${priority}' is currently in use`);
    if (existing.length >= this.#rulesQuota)
      throw awsError(
        'TooManyRulesException',
        'You have reached the limit on the number of rules per listener',
      );
    const conditions = (input.Conditions as Condition[]) ?? [];
    const values = conditions.flatMap(conditionValues);
    if (values.length > LIMITS.conditionValuesPerRule)
      throw awsError('TooManyConditionValuesException', 'A rule can have at most 5 condition values');
    if (values.join('').replace(/[^*?]/g, '').length > LIMITS.wildcardsPerRule)
      throw awsError('ValidationError', 'A rule can have at most 5 wildcards');
    const long = values.find((value) => value.length > LIMITS.conditionValueLength);
    if (long) throw awsError('ValidationError', `Condition value '${long}' is longer than 128 characters`);
    const actions = (input.Actions as Action[]) ?? [];
    for (const action of actions) {
      if (action.TargetGroupArn && !this.targetGroups.has(action.TargetGroupArn))
        throw awsError('TargetGroupNotFoundException', 'One or more target groups not found');
    }
    const groups = new Set(
      [...existing.flatMap((rule) => rule.Actions), ...actions].map(
        (action) => action.TargetGroupArn ?? action.lambda,
      ),
    );
    groups.delete(undefined);
    if (groups.size > LIMITS.targetGroupsPerBalancer)
      throw awsError(
        'TooManyUniqueTargetGroupsPerLoadBalancerException',
        `You have reached the limit on the number of unique target groups per load balancer (${LIMITS.targetGroupsPerBalancer})`,
      );
    const rule = this.#addRule({
      listenerArn,
      Priority: String(priority),
      Conditions: conditions,
      Actions: actions,
      IsDefault: false,
      tags: (input.Tags as SimRule['tags']) ?? [],
    });
    return { Rules: [publicRule(rule)] };
  }

  #addRule(rule: Omit<SimRule, 'RuleArn'>): SimRule {
    const arn = `${rule.listenerArn.replace(':listener/', ':listener-rule/')}/${hex(`rule:${Math.random()}`, 16)}`;
    const full = { ...rule, RuleArn: arn };
    this.rules.set(arn, full);
    return full;
  }

  #describeRules(input: Record<string, unknown>): Record<string, unknown> {
    const arns = input.RuleArns as string[] | undefined;
    if (arns) {
      const found = arns.map((arn) => this.rules.get(arn));
      if (found.some((rule) => !rule)) throw awsError('RuleNotFoundException', 'One or more rules not found');
      return { Rules: found.map((rule) => publicRule(rule as SimRule)) };
    }
    const listenerArn = String(input.ListenerArn);
    if (!this.balancers.some((b) => b.listenerArn === listenerArn))
      throw awsError('ListenerNotFoundException', 'One or more listeners not found');
    const all = this.rulesOf(listenerArn);
    const size = Number(input.PageSize ?? 400);
    const from = Number(input.Marker ?? 0);
    const page = all.slice(from, from + size);
    return {
      Rules: page.map(publicRule),
      ...(from + size < all.length ? { NextMarker: String(from + size) } : {}),
    };
  }

  #group(arn: string): SimTargetGroup {
    const group = this.targetGroups.get(arn);
    if (!group) throw awsError('TargetGroupNotFoundException', 'One or more target groups not found');
    return group;
  }

  /** One round: every target whose next check is due gets its health check request. */
  async #healthChecks(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const now = Date.now();
      const due: Array<Promise<void>> = [];
      for (const group of this.targetGroups.values()) {
        const interval = Number(group.input.HealthCheckIntervalSeconds ?? 30) * 1000 * this.#timeScale;
        const healthy = Number(group.input.HealthyThresholdCount ?? 5);
        const unhealthy = Number(group.input.UnhealthyThresholdCount ?? 2);
        const path = String(group.input.HealthCheckPath ?? '/');
        for (const target of group.targets.values()) {
          if (target.nextCheckAt > now) continue;
          target.nextCheckAt = now + interval;
          due.push(
            this.#probe(target.id, target.port, path)
              .catch(() => 0)
              .then((status) => {
                if (status === Number((group.input.Matcher as { HttpCode?: string })?.HttpCode ?? 200)) {
                  target.passes += 1;
                  target.fails = 0;
                  if (target.passes >= healthy) target.state = 'healthy';
                } else {
                  target.fails += 1;
                  target.passes = 0;
                  if (target.fails >= unhealthy) target.state = 'unhealthy';
                }
              }),
          );
        }
      }
      await Promise.all(due);
    } finally {
      this.#checking = false;
    }
  }
}

function conditionValues(condition: Condition): string[] {
  return [
    ...(condition.HostHeaderConfig?.Values ?? []),
    ...(condition.PathPatternConfig?.Values ?? []),
    ...(condition.Values ?? []),
  ];
}

function publicRule(rule: SimRule): Record<string, unknown> {
  return {
    RuleArn: rule.RuleArn,
    Priority: rule.Priority,
    Conditions: rule.Conditions,
    Actions: rule.Actions.map(({ lambda: _lambda, ...action }) => action),
    IsDefault: rule.IsDefault,
  };
}

/** ALB's wildcard match: `*` any run of characters, `?` one; hosts case-insensitively. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, caseInsensitive ? 'i' : '').test(value);
}

/** Does `rule` match a request for host and path? All conditions must; any value of each. */
export function ruleMatches(rule: SimRule, host: string, path: string): boolean {
  return rule.Conditions.every((condition) => {
    if (condition.Field === 'host-header')
      return conditionValues(condition).some((value) => wildcardMatch(value, host, true));
    if (condition.Field === 'path-pattern')
      return conditionValues(condition).some((value) => wildcardMatch(value, path, false));
    return false;
  });
}

function hex(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}
