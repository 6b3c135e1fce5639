import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { Deployment, type DeploymentOptions, type Json } from './deployment.ts';
import type { IamRequest } from './requests.ts';

/**
 * The IAM side of a synthesized app: which identity policies each Lambda's role carries,
 * evaluated with an IAM policy simulator (@cloud-copilot/iam-simulate). That package is
 * AGPL-3.0-or-later: it is a test-time devDependency only, imported from test/ and never
 * bundled into anything hubless deploys.
 */

export interface FunctionPolicies {
  /** The handler's name: `portal` for handler `portal.handler`. */
  name: string;
  logicalId: string;
  stack: string;
  roleArn: string;
  /** Resolved environment variables, as the function sees them. */
  environment: Record<string, string>;
  /** The function's timeout (Lambda's default, 3 s, when the template sets none). */
  timeoutSeconds: number;
  /** Resolved inline identity policies of the function's role. */
  policies: Array<{ name: string; document: Json }>;
  /** AWS managed policies attached to the role (by ARN); not evaluated (see `check`). */
  managedPolicyArns: string[];
}

export interface CheckRequest {
  fn: string;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

export interface Decision {
  allowed: boolean;
  /** The simulator's verdict: Allowed, ImplicitlyDenied or ExplicitlyDenied. */
  result: string;
  /** "<fn> may not <action> on <resource> (ImplicitlyDenied)": names the function, action and ARN. */
  message: string;
}

/**
 * Actions whose resource types the IAM data lists wrongly, so the simulator's input check
 * would refuse a correct ARN. elasticloadbalancing:AddTags: the data merges Classic and
 * v2 load balancers under one prefix and keeps only Classic's `loadbalancer` type, while
 * the ELBv2 reference lists target groups, listeners and rules (ELB API reference, AddTags).
 */
const DATA_GAPS = new Set(['elasticloadbalancing:AddTags']);

/** Statements SST or CDK add to every function that no adapter call is meant to use. */
const PLATFORM_ACTIONS = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);

export class IamModel {
  readonly deployment: Deployment;
  readonly functions: Map<string, FunctionPolicies>;

  constructor(deployment: Deployment, functions: FunctionPolicies[]) {
    this.deployment = deployment;
    this.functions = new Map(functions.map((fn) => [fn.name, fn]));
  }

  function(name: string): FunctionPolicies {
    const fn = this.functions.get(name);
    if (!fn)
      throw new Error(
        `No function "${name}" in the template (have: ${[...this.functions.keys()].join(', ')})`,
      );
    return fn;
  }

  /**
   * Evaluates one request against the function's identity policies. Only the inline
   * policies hubless writes are evaluated; AWS managed policies on the role
   * (AWSLambdaBasicExecutionRole, AWSLambdaVPCAccessExecutionRole) grant logs and ENI
   * actions that no adapter calls. Throws when the simulator refuses the request itself
   * (an unknown action, an ARN of the wrong resource type, a context key the action does
   * not take): that is a bug in the mapping, not a denial.
   */
  async check(request: CheckRequest): Promise<Decision> {
    const fn = this.function(request.fn);
    const simulation: Simulation = {
      request: {
        principal: fn.roleArn,
        action: request.action,
        resource: { resource: request.resource, accountId: this.deployment.account },
        contextVariables: {
          'aws:PrincipalArn': fn.roleArn,
          'aws:PrincipalAccount': this.deployment.account,
          'aws:RequestedRegion': this.deployment.region,
          ...(request.context ?? {}),
        },
      },
      identityPolicies: fn.policies.map(({ name, document }) => ({ name, policy: document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    };
    let result: string;
    const response = await runSimulation(simulation, {});
    if (response.resultType !== 'error') {
      result = String(response.overallResult);
    } else if (DATA_GAPS.has(request.action)) {
      // The same evaluation without the simulator's own input validation (see DATA_GAPS).
      result = String(runUnsafeSimulation(simulation, {}));
    } else {
      throw new Error(
        `The IAM simulator refused ${request.action} on ${request.resource}: ${JSON.stringify(response.errors)}`,
      );
    }
    const allowed = result === 'Allowed';
    const context = Object.entries(request.context ?? {})
      .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('|') : value}`)
      .join(', ');
    return {
      allowed,
      result,
      message: `${fn.name} ${allowed ? 'may' : 'may not'} ${request.action} on ${request.resource}${context ? ` [${context}]` : ''} (${result})`,
    };
  }

  /** check() for a mapped request, with its reason in the message. */
  async checkRequest(fn: string, request: IamRequest): Promise<Decision> {
    const decision = await this.check({ fn, ...request });
    return { ...decision, message: `${decision.message}: ${request.why}` };
  }

  /** Every action the function's inline policies allow, less the platform's own (X-Ray). */
  grantedActions(fn: string): string[] {
    const actions = new Set<string>();
    for (const { document } of this.function(fn).policies) {
      for (const statement of [document.Statement].flat()) {
        if (statement?.Effect !== 'Allow') continue;
        for (const action of [statement.Action].flat()) if (typeof action === 'string') actions.add(action);
      }
    }
    return [...actions].filter((action) => !PLATFORM_ACTIONS.has(action)).sort();
  }

  /** Granted actions that none of `used` (actions of evaluated requests) needs. */
  unusedActions(fn: string, used: Iterable<string>): string[] {
    const seen = new Set([...used].map((action) => action.toLowerCase()));
    return this.grantedActions(fn).filter((action) => !seen.has(action.toLowerCase()));
  }
}

/**
 * Builds the model from templates: `stacks` maps each CloudFormation stack name to its
 * template JSON. A function is any AWS::Lambda::Function whose environment has
 * HUBLESS_STAGE (SST's own helper functions are skipped).
 */
export function loadIamModel(stacks: Record<string, Json>, options: DeploymentOptions): IamModel {
  const deployment = new Deployment(stacks, options);
  const functions: FunctionPolicies[] = [];
  for (const stack of deployment.stackNames) {
    const resources = deployment.resources(stack);
    for (const [logicalId, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const variables = resource.Properties?.Environment?.Variables;
      if (!variables?.HUBLESS_STAGE) continue;
      const roleId = resource.Properties?.Role?.['Fn::GetAtt']?.[0] as string | undefined;
      if (!roleId) throw new Error(`${stack}/${logicalId} has no role of its own`);
      const role = resources[roleId];
      const policies: FunctionPolicies['policies'] = [];
      for (const inline of role?.Properties?.Policies ?? [])
        policies.push({
          name: inline.PolicyName,
          document: deployment.resolve(stack, inline.PolicyDocument),
        });
      for (const [policyId, policy] of Object.entries(resources)) {
        if (policy.Type !== 'AWS::IAM::Policy') continue;
        const roles = (policy.Properties?.Roles ?? []) as Json[];
        if (!roles.some((entry) => entry?.Ref === roleId)) continue;
        policies.push({
          name: policyId,
          document: deployment.resolve(stack, policy.Properties?.PolicyDocument),
        });
      }
      const handler = String(resource.Properties?.Handler ?? logicalId);
      functions.push({
        name: (handler.split('/').pop() ?? handler).replace(/\.[^.]+$/, ''),
        logicalId,
        stack,
        roleArn: deployment.physical(stack, roleId).attributes.Arn as string,
        environment: deployment.resolve(stack, variables),
        timeoutSeconds: Number(resource.Properties?.Timeout ?? 3),
        policies,
        managedPolicyArns: deployment.resolve(stack, role?.Properties?.ManagedPolicyArns ?? []),
      });
    }
  }
  return new IamModel(deployment, functions);
}
