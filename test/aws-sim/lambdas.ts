import { randomUUID } from 'node:crypto';
import type {
  AlbEvent,
  AlbResult,
  HttpApiEvent,
  HttpApiResult,
} from '../../functions/handlers/http-types.ts';
import { callerFunction } from './transport.ts';

/**
 * The Lambdas, run from their real entry points (functions/lambda/*.ts) with the
 * real AWS wiring; only the SDK's transport is simulated. Each invocation runs inside
 * `callerFunction`, so every AWS call it makes is checked against that function's role.
 * Modules are imported lazily: the wiring reads process.env, which the deployment sets.
 */
export type FunctionName =
  | 'portal'
  | 'api'
  | 'launcher'
  | 'task-events'
  | 'culler'
  | 'lab-probe'
  | 'federated-sign-up';

interface Entry {
  handler: (event: unknown, context: unknown) => Promise<unknown>;
}

export interface Lambdas {
  portal(event: AlbEvent): Promise<AlbResult>;
  api(event: HttpApiEvent): Promise<HttpApiResult>;
  /** The launch queue's consumer (SQS event source, sqs.ts). */
  launcher(event: unknown): Promise<unknown>;
  taskEvents(event: unknown): Promise<unknown>;
  culler(): Promise<unknown>;
  /** The in-VPC probe the culler invokes (Lambda Invoke, answered by the account). */
  labProbe(event: unknown): Promise<unknown>;
  /** Cognito's pre sign-up trigger, deployed with `federation` (stacks/Identity.ts). */
  federatedSignUp(event: unknown): Promise<unknown>;
  invocations: Record<FunctionName, number>;
  durations: Record<FunctionName, number[]>;
}

const TIMEOUT_MS = 29_000;

export async function loadLambdas(): Promise<Lambdas> {
  const entries: Record<FunctionName, Entry> = {
    portal: (await import('../../functions/lambda/portal.ts')) as Entry,
    api: (await import('../../functions/lambda/api.ts')) as Entry,
    launcher: (await import('../../functions/lambda/launcher.ts')) as Entry,
    'task-events': (await import('../../functions/lambda/task-events.ts')) as Entry,
    culler: (await import('../../functions/lambda/culler.ts')) as Entry,
    'lab-probe': (await import('../../functions/lambda/lab-probe.ts')) as Entry,
    'federated-sign-up': (await import('../../functions/lambda/federated-sign-up.ts')) as Entry,
  };
  const invocations = {
    portal: 0,
    api: 0,
    launcher: 0,
    'task-events': 0,
    culler: 0,
    'lab-probe': 0,
    'federated-sign-up': 0,
  };
  const durations: Lambdas['durations'] = {
    portal: [],
    api: [],
    launcher: [],
    'task-events': [],
    culler: [],
    'lab-probe': [],
    'federated-sign-up': [],
  };
  const invoke = async (fn: FunctionName, event: unknown): Promise<unknown> => {
    invocations[fn] += 1;
    const started = performance.now();
    const deadline = Date.now() + TIMEOUT_MS;
    const context = {
      awsRequestId: randomUUID(),
      functionName: `hubless-${fn}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    try {
      return await callerFunction.run(fn, () => (entries[fn] as Entry).handler(event, context));
    } finally {
      durations[fn].push(performance.now() - started);
    }
  };
  return {
    portal: (event) => invoke('portal', event) as Promise<AlbResult>,
    api: (event) => invoke('api', event) as Promise<HttpApiResult>,
    launcher: (event) => invoke('launcher', event),
    taskEvents: (event) => invoke('task-events', event),
    culler: () => invoke('culler', { id: randomUUID() }),
    labProbe: (event) => invoke('lab-probe', event),
    federatedSignUp: (event) => invoke('federated-sign-up', event),
    invocations,
    durations,
  };
}
