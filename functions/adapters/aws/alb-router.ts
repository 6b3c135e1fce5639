import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  type Rule,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CapacityError, isHublessError, SpawnError } from '../../core/errors.ts';
import type { Log } from '../../core/log.ts';
import type { RouteEntry, RouteRecord, Router } from '../../core/ports.ts';
import { baseUrlFor, parseSessionId, type Session, type Target } from '../../core/session.ts';
import { JsonLogger } from '../log/json-logger.ts';
import { type AlbSlots, QUARANTINED, type Slot } from './alb-slots.ts';
import { ALB_AUTH, targetGroupName } from './names.ts';
import { type AwsCaller, awsCaller, awsErrorMessage, awsErrorName } from './retry.ts';

/** One load balancer of the pool: its HTTPS listener and the host name that points at it. */
export interface AlbPoolEntry {
  listenerArn: string;
  host: string;
  loadBalancerArn: string;
}

/** The ALB `authenticate-cognito` action's settings; cookie, scope and timeout default to ALB_AUTH. */
export interface CognitoAuthConfig {
  userPoolArn: string;
  userPoolClientId: string;
  /** The hosted UI domain prefix (not the full URL). */
  userPoolDomain: string;
  sessionCookieName?: string;
  scope?: string;
  sessionTimeoutSeconds?: number;
}

export interface AlbRouterConfig {
  elb: Pick<ElasticLoadBalancingV2Client, 'send'>;
  slots: AlbSlots;
  pool: AlbPoolEntry[];
  vpcId: string;
  stage: string;
  cognito: CognitoAuthConfig;
  /** Where a failed undo step is reported; default JSON lines on stdout/stderr. */
  log?: Log;
  /** Injectable for tests (the ready check's pacing). */
  now?: () => number;
}

/**
 * A target turns healthy only on an ALB health check, at most one per 5 s (the ALB's
 * shortest interval), so asking DescribeTargetHealth more often learns nothing: every
 * waiting user's progress page polls each second, and a class waiting would throttle ELB.
 */
export const READY_CHECK_INTERVAL_MS = 5_000;

/**
 * The paths under a lab's base URL that JupyterLab calls from script (XHR and WebSocket),
 * never as a page: the REST API (kernels' channels and the events socket included), the
 * lab's settings and workspaces, terminals. With three values and the host, the API
 * rule stays within ALB's 5 condition values and 5 wildcards per rule.
 */
export const LAB_SCRIPT_PATHS = ['api/*', 'lab/api/*', 'terminals/websocket/*'] as const;

const SESSION_TAG = 'hubless:session';
const USER_TAG = 'hubless:user';

/**
 * Routing on a pool of ALBs (docs/architecture.md section 6: 100 rules per ALB and two
 * rules per session, so one ALB carries at most 49 live sessions). A route is:
 *   a slot (listener, priority) claimed in DynamoDB -> a target group (ip, 8888, health
 *   check on the lab's /api) with the task's IP -> two listener rules (host = the ALB's
 *   host), both authenticating with Cognito and then forwarding:
 *   - the API rule, for the paths JupyterLab calls from script (LAB_SCRIPT_PATHS): a
 *     request whose ALB session has ended gets 401 (OnUnauthenticatedRequest "deny"),
 *     which the lab can show as "sign in again"; a 302 to Cognito would reach XHR and
 *     WebSocket code as a connection error, since neither can follow a sign-in;
 *   - the page rule, for everything else under the session's base URL: a page load
 *     without a session is sent to sign in and comes back.
 *
 * addRoute is idempotent (an existing route record whose rule exists is returned) and
 * all-or-nothing: a failed step undoes the earlier ones in reverse, so no slot, target
 * group or rule is orphaned. deleteRoute works from the route record, or from the slot
 * and the deterministic target group name when a crash left no record.
 *
 * The route record: { listenerArn, priority (the slot), rulePriority, targetGroupArn,
 * ruleArn (the page rule), apiRuleArn, host }. See rulePriority for how rule priorities
 * follow from the slot.
 */
export class AlbRouter implements Router {
  readonly #config: AlbRouterConfig;
  readonly #call: AwsCaller;
  readonly #log: Log;
  readonly #now: () => number;
  /** Target group -> when this instance last found it not healthy yet. */
  readonly #notReadyAt = new Map<string, number>();

  constructor(config: AlbRouterConfig) {
    if (config.pool.length === 0) throw new Error('AlbRouter needs at least one load balancer in its pool.');
    this.#config = config;
    this.#call = awsCaller('Elastic Load Balancing');
    this.#log = config.log ?? new JsonLogger().log;
    this.#now = config.now ?? Date.now;
  }

  /** The target group name of a session: deterministic, so a lost record can be found again. */
  targetGroupName(sessionId: string): string {
    return targetGroupName(this.#config.stage, sessionId);
  }

  async addRoute(session: Session, target: Target): Promise<RouteRecord> {
    const existing = await this.#existingRoute(session);
    if (existing) return existing;
    return this.#build(session, target, 0);
  }

  async #build(session: Session, target: Target, attempt: number): Promise<RouteRecord> {
    const { slots, pool } = this.#config;
    const listeners = pool.map((entry) => entry.listenerArn);
    const slot = await slots.allocate(session.id, listeners);
    if (!slot) {
      const total = pool.length * slots.capacityPerAlb;
      const all = pool.length === 1 ? 'The 1 load balancer is' : `All ${pool.length} load balancers are`;
      throw new CapacityError(
        `${all} full (${pool.length} x ${slots.capacityPerAlb} = ${total} live sessions). ` +
          'Raise albPoolSize in the stage configuration, or stop idle servers.',
      );
    }
    const entry = pool.find((candidate) => candidate.listenerArn === slot.listenerArn) ?? pool[0];
    if (!entry) throw new Error('unreachable: the pool is not empty');
    // The session already holds a finished route (its record was lost, say by a crash before the session was saved).
    if (slot.ruleArn && slot.targetGroupArn && slot.apiRuleArn) {
      const record = this.#record(slot, entry, slot.targetGroupArn, slot.ruleArn, slot.apiRuleArn);
      if (await this.#existingRoute({ ...session, route: record })) return record;
    }
    const baseUrl = baseUrlFor(session.user, session.server);
    const tags = [
      { Key: SESSION_TAG, Value: session.id },
      { Key: USER_TAG, Value: session.user },
    ];
    const undo: Array<() => Promise<void>> = [() => slots.release(slot)];
    try {
      const created = await this.#call('ELB CreateTargetGroup', () =>
        this.#config.elb.send(
          new CreateTargetGroupCommand({
            Name: this.targetGroupName(session.id),
            TargetType: 'ip',
            Protocol: 'HTTP',
            Port: target.port,
            VpcId: this.#config.vpcId,
            HealthCheckEnabled: true,
            HealthCheckProtocol: 'HTTP',
            HealthCheckPort: 'traffic-port',
            // Jupyter answers /api without a login; the lab's owner check lets it through.
            HealthCheckPath: `${baseUrl}api`,
            // ALB's minimum interval; the timeout must be shorter than the interval.
            HealthCheckIntervalSeconds: 5,
            HealthCheckTimeoutSeconds: 4,
            HealthyThresholdCount: 2,
            UnhealthyThresholdCount: 2,
            Matcher: { HttpCode: '200' },
            Tags: tags,
          }),
        ),
      );
      const targetGroupArn = created.TargetGroups?.[0]?.TargetGroupArn;
      if (!targetGroupArn)
        throw new SpawnError('The load balancer created no target group. Try starting again.');
      undo.push(() => this.#deleteTargetGroup(targetGroupArn));
      await this.#call('ELB ModifyTargetGroupAttributes', () =>
        this.#config.elb.send(
          new ModifyTargetGroupAttributesCommand({
            TargetGroupArn: targetGroupArn,
            // A stopped lab has nothing to drain; the default 300 s would hold the target group.
            Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '5' }],
          }),
        ),
      );
      await this.#call('ELB RegisterTargets', () =>
        this.#config.elb.send(
          new RegisterTargetsCommand({
            TargetGroupArn: targetGroupArn,
            Targets: [{ Id: target.host, Port: target.port }],
          }),
        ),
      );
      const host = { Field: 'host-header', HostHeaderConfig: { Values: [entry.host] } };
      const ruleArn = await this.#createRule(slot, {
        priority: this.rulePriority(slot),
        conditions: [host, { Field: 'path-pattern', PathPatternConfig: { Values: [`${baseUrl}*`] } }],
        onUnauthenticated: 'authenticate',
        targetGroupArn,
        tags,
      });
      undo.push(() => this.#deleteRule(ruleArn));
      const apiRuleArn = await this.#createRule(slot, {
        priority: this.apiRulePriority(slot),
        conditions: [
          host,
          {
            Field: 'path-pattern',
            PathPatternConfig: { Values: LAB_SCRIPT_PATHS.map((path) => `${baseUrl}${path}`) },
          },
        ],
        onUnauthenticated: 'deny',
        targetGroupArn,
        tags,
      });
      undo.push(() => this.#deleteRule(apiRuleArn));
      await slots.record(slot, { targetGroupArn, ruleArn, apiRuleArn });
      return this.#record(slot, entry, targetGroupArn, ruleArn, apiRuleArn);
    } catch (error) {
      const foreignRule = awsErrorName(error) === 'PriorityInUseException';
      if (foreignRule) undo[0] = () => slots.quarantine(slot);
      for (const step of undo.reverse()) {
        await step().catch((undoError: unknown) => {
          this.#log('error', 'could not undo a routing step; reconciliation will remove it', {
            sessionId: session.id,
            error: String(undoError),
          });
        });
      }
      // A rule hubless did not make holds this priority: the slot is now fenced off, try another once.
      if (foreignRule && attempt === 0) return this.#build(session, target, attempt + 1);
      throw translateElbError(error, entry);
    }
  }

  /** CreateRule, adopting the rule of an earlier attempt that crashed before recording it. */
  async #createRule(slot: Slot, rule: RuleSpec): Promise<string> {
    const { cognito } = this.#config;
    try {
      const created = await this.#call('ELB CreateRule', () =>
        this.#config.elb.send(
          new CreateRuleCommand({
            ListenerArn: slot.listenerArn,
            Priority: rule.priority,
            Conditions: rule.conditions,
            Actions: [
              {
                Type: 'authenticate-cognito',
                Order: 1,
                AuthenticateCognitoConfig: {
                  UserPoolArn: cognito.userPoolArn,
                  UserPoolClientId: cognito.userPoolClientId,
                  UserPoolDomain: cognito.userPoolDomain,
                  OnUnauthenticatedRequest: rule.onUnauthenticated,
                  // As on the portal rule (stacks/Routing.ts): one sign-in (and one sign-out)
                  // covers the portal and every lab.
                  SessionCookieName: cognito.sessionCookieName ?? ALB_AUTH.sessionCookie,
                  Scope: cognito.scope ?? ALB_AUTH.scopes.join(' '),
                  SessionTimeout: cognito.sessionTimeoutSeconds ?? ALB_AUTH.sessionTimeoutSeconds,
                },
              },
              { Type: 'forward', Order: 2, TargetGroupArn: rule.targetGroupArn },
            ],
            Tags: rule.tags,
          }),
        ),
      );
      const ruleArn = created.Rules?.[0]?.RuleArn;
      if (!ruleArn) throw new SpawnError('The load balancer created no rule. Try starting again.');
      return ruleArn;
    } catch (error) {
      if (awsErrorName(error) !== 'PriorityInUseException') throw error;
      const existing = (await this.#rules(slot.listenerArn)).find(
        (candidate) => candidate.Priority === String(rule.priority),
      );
      if (existing?.RuleArn && forwardsTo(existing, rule.targetGroupArn)) return existing.RuleArn;
      throw error;
    }
  }

  /** The session's route record if its rule still exists; the rule is what makes a route live. */
  async #existingRoute(session: Session): Promise<RouteRecord | undefined> {
    const ruleArn = session.route?.ruleArn;
    if (typeof ruleArn !== 'string' || !session.route) return undefined;
    try {
      const described = await this.#call('ELB DescribeRules', () =>
        this.#config.elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })),
      );
      return described.Rules?.some((rule) => rule.RuleArn === ruleArn) ? session.route : undefined;
    } catch (error) {
      if (awsErrorName(error) === 'RuleNotFoundException') return undefined;
      throw translateElbError(error);
    }
  }

  async isRouteReady(session: Session): Promise<boolean> {
    const targetGroupArn = session.route?.targetGroupArn;
    if (typeof targetGroupArn !== 'string') return false;
    const checkedAt = this.#notReadyAt.get(targetGroupArn);
    if (checkedAt !== undefined && this.#now() - checkedAt < READY_CHECK_INTERVAL_MS) return false;
    try {
      const health = await this.#call('ELB DescribeTargetHealth', () =>
        this.#config.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })),
      );
      const ready = (health.TargetHealthDescriptions ?? []).some(
        (description) => description.TargetHealth?.State === 'healthy',
      );
      this.#notReadyAt.delete(targetGroupArn);
      if (!ready) {
        this.#notReadyAt.set(targetGroupArn, this.#now());
        // Bounded: the oldest entries belong to sessions long since ready or gone.
        if (this.#notReadyAt.size > 10_000)
          this.#notReadyAt.delete(this.#notReadyAt.keys().next().value as string);
      }
      return ready;
    } catch (error) {
      if (awsErrorName(error) === 'TargetGroupNotFoundException') return false;
      throw translateElbError(error);
    }
  }

  async deleteRoute(sessionId: string, route: RouteRecord = {}): Promise<void> {
    const listeners = this.#config.pool.map((entry) => entry.listenerArn);
    let listenerArn = typeof route.listenerArn === 'string' ? route.listenerArn : undefined;
    let priority = typeof route.priority === 'number' ? route.priority : undefined;
    let targetGroupArn = typeof route.targetGroupArn === 'string' ? route.targetGroupArn : undefined;
    const ruleArns = new Set<string>();
    for (const arn of [route.ruleArn, route.apiRuleArn]) if (typeof arn === 'string') ruleArns.add(arn);
    // An incomplete record (a crash mid-way, or none at all): look in the slot table and by name.
    if (!listenerArn || priority === undefined || !targetGroupArn || ruleArns.size < 2) {
      const slot = await this.#config.slots.find(sessionId, listeners);
      listenerArn ??= slot?.listenerArn;
      priority ??= slot?.priority;
      targetGroupArn ??=
        slot?.targetGroupArn ?? (await this.#targetGroupByName(this.targetGroupName(sessionId)));
      for (const arn of [slot?.ruleArn, slot?.apiRuleArn]) if (arn) ruleArns.add(arn);
      // A crash between CreateRule and the slot's record: every rule forwarding to the group is the session's.
      if (ruleArns.size < 2 && targetGroupArn) {
        for (const listener of listenerArn ? [listenerArn] : listeners) {
          const found = (await this.#rules(listener)).filter((rule) =>
            forwardsTo(rule, targetGroupArn ?? ''),
          );
          for (const rule of found) if (rule.RuleArn) ruleArns.add(rule.RuleArn);
          if (found.length > 0) break;
        }
      }
    }
    // The rules first: a target group still used by a rule cannot be deleted.
    for (const ruleArn of ruleArns) await this.#deleteRule(ruleArn);
    if (targetGroupArn) await this.#deleteTargetGroup(targetGroupArn);
    if (listenerArn && priority !== undefined)
      await this.#config.slots.release({ listenerArn, priority, sessionId });
  }

  async listRoutes(): Promise<RouteEntry[]> {
    const entries: RouteEntry[] = [];
    for (const entry of this.#config.pool) {
      for (const slot of await this.#config.slots.list(entry.listenerArn)) {
        if (slot.sessionId === QUARANTINED) continue;
        entries.push({
          sessionId: slot.sessionId,
          route: this.#record(slot, entry, slot.targetGroupArn, slot.ruleArn, slot.apiRuleArn),
        });
      }
    }
    return entries;
  }

  /**
   * The page rule's priority for a slot. The ALB evaluates rules by ascending priority and
   * /user/alice/* also matches /user/alice/project/..., so every named server's rules must
   * come before every default server's: named servers take 2 x slot, default servers
   * 2 x (slot + capacity). The API rule sits just before its page rule (apiRulePriority),
   * so priorities are unique and no rule of one session falls between another's two.
   */
  rulePriority(slot: Pick<Slot, 'priority' | 'sessionId'>): number {
    let named = false;
    try {
      named = parseSessionId(slot.sessionId).server !== '';
    } catch {
      named = false;
    }
    return 2 * (named ? slot.priority : slot.priority + this.#config.slots.capacityPerAlb);
  }

  /** The API rule's priority: just before the session's page rule (see rulePriority). */
  apiRulePriority(slot: Pick<Slot, 'priority' | 'sessionId'>): number {
    return this.rulePriority(slot) - 1;
  }

  #record(
    slot: Slot,
    entry: AlbPoolEntry,
    targetGroupArn: string | undefined,
    ruleArn: string | undefined,
    apiRuleArn: string | undefined,
  ): RouteRecord {
    const route: RouteRecord = {
      listenerArn: slot.listenerArn,
      priority: slot.priority,
      rulePriority: this.rulePriority(slot),
      host: entry.host,
    };
    if (targetGroupArn) route.targetGroupArn = targetGroupArn;
    if (ruleArn) route.ruleArn = ruleArn;
    if (apiRuleArn) route.apiRuleArn = apiRuleArn;
    return route;
  }

  async #deleteRule(ruleArn: string): Promise<void> {
    try {
      await this.#call('ELB DeleteRule', () =>
        this.#config.elb.send(new DeleteRuleCommand({ RuleArn: ruleArn })),
      );
    } catch (error) {
      if (awsErrorName(error) !== 'RuleNotFoundException') throw error;
    }
  }

  async #deleteTargetGroup(targetGroupArn: string): Promise<void> {
    try {
      await this.#call('ELB DeleteTargetGroup', () =>
        this.#config.elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: targetGroupArn })),
      );
    } catch (error) {
      if (awsErrorName(error) !== 'TargetGroupNotFoundException') throw error;
    }
  }

  async #targetGroupByName(name: string): Promise<string | undefined> {
    try {
      const described = await this.#call('ELB DescribeTargetGroups', () =>
        this.#config.elb.send(new DescribeTargetGroupsCommand({ Names: [name] })),
      );
      return described.TargetGroups?.[0]?.TargetGroupArn;
    } catch (error) {
      if (awsErrorName(error) === 'TargetGroupNotFoundException') return undefined;
      throw translateElbError(error);
    }
  }

  async #rules(listenerArn: string): Promise<Rule[]> {
    const rules: Rule[] = [];
    let marker: string | undefined;
    do {
      const page = await this.#call('ELB DescribeRules', () =>
        this.#config.elb.send(new DescribeRulesCommand({ ListenerArn: listenerArn, Marker: marker })),
      );
      rules.push(...(page.Rules ?? []));
      marker = page.NextMarker;
    } while (marker);
    return rules;
  }
}

/** One listener rule of a route: where it sits, what it matches, what an expired session gets. */
interface RuleSpec {
  priority: number;
  conditions: RuleCondition[];
  onUnauthenticated: 'authenticate' | 'deny';
  targetGroupArn: string;
  tags: Array<{ Key: string; Value: string }>;
}

function forwardsTo(rule: Rule, targetGroupArn: string): boolean {
  return (rule.Actions ?? []).some(
    (action) =>
      action.TargetGroupArn === targetGroupArn ||
      action.ForwardConfig?.TargetGroups?.some((group) => group.TargetGroupArn === targetGroupArn),
  );
}

function translateElbError(error: unknown, entry?: AlbPoolEntry): unknown {
  if (isHublessError(error)) return error;
  const name = awsErrorName(error);
  const where = entry ? ` on ${entry.host}` : '';
  switch (name) {
    case 'TooManyTargetGroupsException':
      return new CapacityError(
        'The AWS account has reached its quota of target groups. Stop idle servers, or request a higher ' +
          '"Target groups per Region" quota for Elastic Load Balancing.',
      );
    case 'TooManyUniqueTargetGroupsPerLoadBalancerException':
    case 'TooManyRulesException':
    case 'TooManyTargetsException':
    case 'TooManyRegistrationsForTargetIdException':
      return new CapacityError(
        `The load balancer${where} has no room for another server (${name}). ` +
          'Lower capacityPerAlb or raise albPoolSize in the stage configuration, or stop idle servers.',
      );
    case 'PriorityInUseException':
      return new SpawnError(
        `The load balancer${where} has rules hubless did not create at the priorities it uses. ` +
          'Remove them, or give hubless a listener of its own.',
        { cause: error },
      );
    default:
      return new SpawnError(
        `The server started but could not be routed (${name ?? 'error'}: ${awsErrorMessage(error)}).`,
        {
          cause: error,
        },
      );
  }
}
