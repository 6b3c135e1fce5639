import { randomUUID } from 'node:crypto';
import type {
  AlbEvent,
  AlbResult,
  HttpApiEvent,
  HttpApiResult,
} from '../../functions/handlers/http-types.ts';
import { callerFunction, type Invocation } from './transport.ts';

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
  /** AWS calls of each function's last invocation (to know how many crash points it has). */
  lastCalls: Record<FunctionName, number>;
  /**
   * Crashes that are due: the next invocation of `fn` dies after its `afterCalls`-th AWS
   * call (no later call of it is sent; its own code may still unwind, but can change
   * nothing in AWS), and rejects with LambdaCrash as Lambda reports a runtime that exited.
   * With `when`, the crash waits for an invocation whose event it accepts.
   */
  crashNext(fn: FunctionName, afterCalls: number, when?: (event: unknown) => boolean): void;
  /**
   * Each invocation (of `functions`, default all but the probe) crashes with
   * `probability` after a random number of calls (0 to `maxCalls`). 0 turns it off.
   */
  crashRandomly(probability: number, maxCalls?: number, functions?: FunctionName[]): void;
  /** Forgets every crash still due (planned and random). */
  clearCrashes(): void;
  crashes: number;
  /** Planned crashes whose invocation ended before its crash point (it made fewer calls). */
  missedCrashes: number;
}

/** How Lambda reports an invocation whose runtime died (Runtime.ExitError). */
export class LambdaCrash extends Error {
  override name = 'Runtime.ExitError';
}

/**
 * `timeoutSeconds`: each function's timeout as the template sets it (the culler has
 * minutes, the HTTP handlers 29 s); an invocation that runs longer is ended as Lambda does.
 */
export async function loadLambdas(timeoutSeconds: (fn: FunctionName) => number): Promise<Lambdas> {
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
  const lastCalls = {
    portal: 0,
    api: 0,
    launcher: 0,
    'task-events': 0,
    culler: 0,
    'lab-probe': 0,
    'federated-sign-up': 0,
  };
  const due = new Map<FunctionName, Array<{ afterCalls: number; when?: (event: unknown) => boolean }>>();
  const random = {
    probability: 0,
    maxCalls: 12,
    functions: ['portal', 'api', 'launcher', 'task-events', 'culler'] as FunctionName[],
  };
  const lambdas = { crashes: 0, missedCrashes: 0 };
  const crashPoint = (fn: FunctionName, event: unknown): number | undefined => {
    const queue = due.get(fn) ?? [];
    const planned = queue[0];
    if (planned && (!planned.when || planned.when(event))) {
      queue.shift();
      return planned.afterCalls;
    }
    if (random.probability > 0 && random.functions.includes(fn) && Math.random() < random.probability)
      return Math.floor(Math.random() * (random.maxCalls + 1));
    return undefined;
  };
  const invoke = async (fn: FunctionName, event: unknown): Promise<unknown> => {
    invocations[fn] += 1;
    const started = performance.now();
    const deadline = Date.now() + timeoutSeconds(fn) * 1000;
    const context = {
      awsRequestId: randomUUID(),
      functionName: `hubless-${fn}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let crashed: (error: Error) => void = () => {};
    const crash = new Promise<never>((_, reject) => {
      crashed = reject;
    });
    const crashAfter = crashPoint(fn, event);
    let dead = false;
    const invocation: Invocation = {
      fn,
      calls: 0,
      ...(crashAfter === undefined ? {} : { crashAfter }),
      onCrash: () => {
        if (dead) return;
        dead = true;
        lambdas.crashes += 1;
        crashed(new LambdaCrash(`hubless-${fn} crashed after ${crashAfter} AWS calls (simulated)`));
      },
    };
    try {
      return await Promise.race([
        callerFunction.run(invocation, () => (entries[fn] as Entry).handler(event, context)),
        crash,
      ]);
    } finally {
      if (crashAfter !== undefined && !dead) lambdas.missedCrashes += 1;
      lastCalls[fn] = invocation.calls;
      durations[fn].push(performance.now() - started);
    }
  };
  return {
    lastCalls,
    crashNext: (fn, afterCalls, when) =>
      due.set(fn, [...(due.get(fn) ?? []), { afterCalls, ...(when ? { when } : {}) }]),
    clearCrashes: () => {
      due.clear();
      random.probability = 0;
    },
    crashRandomly: (probability, maxCalls = 12, functions = random.functions) =>
      Object.assign(random, { probability, maxCalls, functions }),
    get crashes() {
      return lambdas.crashes;
    },
    get missedCrashes() {
      return lambdas.missedCrashes;
    },
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
