import { AsyncLocalStorage } from 'node:async_hooks';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EFSClient } from '@aws-sdk/client-efs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * Installs the simulated account under the real AWS SDK clients. A middleware placed
 * just before the SDK's request signing answers every call of the services the
 * simulator handles, so everything above it runs for real: the command's serialization
 * and the SDK's retry strategy (a ThrottlingException from the simulator is retried by the SDK
 * exactly as one from AWS). DynamoDB calls pass through to DynamoDB Local.
 *
 * Which Lambda makes a call is known from an AsyncLocalStorage that the simulated Lambda
 * runtime (lambdas.ts) sets around each invocation: the IAM check needs it.
 */

/** One Lambda invocation: which function, the AWS calls it has made, and a crash to play. */
export interface Invocation {
  fn: string;
  /** AWS calls this invocation has sent so far (DynamoDB included). */
  calls: number;
  /** Crash once this many calls have been answered: no later call is sent. */
  crashAfter?: number;
  /** Called when the crash happens (the runtime ends the invocation). */
  onCrash?: () => void;
}

/** The invocation on whose behalf the current async context runs. */
export const callerFunction = new AsyncLocalStorage<Invocation>();

/** SDK client name -> the service name of the models and the IAM mapper. */
export const SERVICE_OF: Record<string, string> = {
  ECSClient: 'ecs',
  EFSClient: 'elasticfilesystem',
  ElasticLoadBalancingV2Client: 'elasticloadbalancingv2',
  CognitoIdentityProviderClient: 'cognito-idp',
  EventBridgeClient: 'eventbridge',
  SecretsManagerClient: 'secretsmanager',
  LambdaClient: 'lambda',
  SQSClient: 'sqs',
  DynamoDBClient: 'dynamodb',
  DynamoDBDocumentClient: 'dynamodb',
};

export interface SimCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
  /** The Lambda making it, or undefined for test code (setup, assertions). */
  fn: string | undefined;
}

export interface Transport {
  /**
   * Answers a call (resolves the output) or throws the AWS error. `passThrough` means the
   * call goes on to its real endpoint (DynamoDB Local) after `answer` has seen it.
   */
  answer(call: SimCall): Promise<Record<string, unknown> | typeof PASS_THROUGH>;
}

export const PASS_THROUGH = Symbol('pass-through');

let active: Transport | undefined;

/** Routes every SDK call of this process to `transport` until the returned function is called. */
export function installTransport(transport: Transport): () => void {
  patchClients();
  active = transport;
  return () => {
    if (active === transport) active = undefined;
  };
}

// biome-ignore lint/suspicious/noExplicitAny: middleware stacks are typed per client; this one is generic.
type Any = any;

const patchedStacks = new WeakSet<object>();
let patched = false;

function patchClients(): void {
  if (patched) return;
  patched = true;
  const clients = [
    ECSClient,
    EFSClient,
    ElasticLoadBalancingV2Client,
    CognitoIdentityProviderClient,
    EventBridgeClient,
    SecretsManagerClient,
    LambdaClient,
    SQSClient,
    DynamoDBClient,
  ];
  // The clients may come with different copies of the SDK core: patch each one's base class.
  for (const base of new Set(clients.map((client) => Object.getPrototypeOf(client.prototype))))
    patchSend(base);
}

function patchSend(base: Any): void {
  const original = base.send;
  base.send = function (this: Any, command: Any, ...rest: unknown[]) {
    const stack = this.middlewareStack;
    if (stack && !patchedStacks.has(stack)) {
      patchedStacks.add(stack);
      stack.addRelativeTo(
        (next: Any, context: Any) => async (args: Any) => {
          const service = SERVICE_OF[context.clientName];
          if (!active || !service) return next(args);
          const invocation = callerFunction.getStore();
          if (invocation) {
            if (invocation.crashAfter !== undefined && invocation.calls >= invocation.crashAfter) {
              // The process died here: this call and every later one of the invocation is
              // never sent. It fails rather than hangs, so a promise the module cached
              // (a secret, a key) is not left pending for the next invocation: a real
              // crash takes the module's state with it.
              invocation.onCrash?.();
              throw new Error(`${invocation.fn} crashed (simulated): no AWS call is sent after the crash`);
            }
            invocation.calls += 1;
          }
          const output = await active.answer({
            service,
            operation: String(context.commandName).replace(/Command$/, ''),
            input: args.input ?? {},
            fn: invocation?.fn,
          });
          if (output === PASS_THROUGH) return next(args);
          return { output: { $metadata: { httpStatusCode: 200 }, ...output }, response: {} };
        },
        // After the retry strategy, before SigV4: signing a request that never leaves the
        // process was the largest cost of the SDK's stack in a class run.
        { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'hublessSimulatedAws' },
      );
    }
    return original.call(this, command, ...rest);
  };
}
