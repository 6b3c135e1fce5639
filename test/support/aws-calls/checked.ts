/**
 * Import this module (for its side effect) in every test that drives an AWS adapter:
 *
 *   import '../support/aws-calls/checked.ts';
 *
 * Every SDK call the test makes, whether answered by aws-sdk-client-mock or sent to a
 * real endpoint (DynamoDB Local), is recorded with its service, operation and input, and
 * after each test every input is validated against AWS's published service model
 * (test/support/aws-models). A request AWS would refuse fails the test that sent it,
 * with the member and the rule it breaks. test/aws-checks/coverage.test.ts makes sure
 * no adapter test forgets the import.
 *
 * `recordedCalls()` returns the calls of the current file so far (the IAM suite reuses them).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EFSClient } from '@aws-sdk/client-efs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, afterEach, expect } from 'vitest';
import type { AwsCall } from '../aws-iam/requests.ts';
import { validateInput } from '../aws-models/index.ts';

/** SDK client class name -> aws-sdk v2 model name. */
const CLIENTS: Record<string, string> = {
  ECSClient: 'ecs',
  EFSClient: 'elasticfilesystem',
  ElasticLoadBalancingV2Client: 'elasticloadbalancingv2',
  CognitoIdentityProviderClient: 'cognito-idp',
  EventBridgeClient: 'eventbridge',
  LambdaClient: 'lambda',
  DynamoDBClient: 'dynamodb',
  DynamoDBDocumentClient: 'dynamodb',
  SecretsManagerClient: 'secretsmanager',
  SQSClient: 'sqs',
};
const CLASSES = [
  ECSClient,
  EFSClient,
  ElasticLoadBalancingV2Client,
  CognitoIdentityProviderClient,
  EventBridgeClient,
  LambdaClient,
  DynamoDBClient,
  DynamoDBDocumentClient,
  SecretsManagerClient,
  SQSClient,
];

interface Recorded extends AwsCall {
  checked: boolean;
}

const calls: Recorded[] = [];

export function recordedCalls(): AwsCall[] {
  collectMockedCalls();
  return calls.map(({ service, operation, input }) => ({ service, operation, input }));
}

/** Totals for the closing note: calls recorded and inputs validated in this file. */
export function recordedTotals(): { calls: number; validated: number } {
  return { calls: calls.length, validated: calls.filter((call) => call.checked).length };
}

// biome-ignore lint/suspicious/noExplicitAny: SDK commands are recorded generically.
type Command = any;

/** The low-level operation and input of a command; document-client commands are marshalled as they would be sent. */
function describe(service: string, command: Command): AwsCall {
  const inner = command.clientCommand;
  if (inner) {
    const input: Record<string, unknown> = { ...command.input };
    for (const key of ['Item', 'Key', 'ExpressionAttributeValues', 'ExclusiveStartKey']) {
      if (input[key] && typeof input[key] === 'object')
        input[key] = marshall(input[key] as Record<string, unknown>, { removeUndefinedValues: true });
    }
    return { service, operation: inner.constructor.name.replace(/Command$/, ''), input };
  }
  return { service, operation: command.constructor.name.replace(/Command$/, ''), input: command.input ?? {} };
}

// Calls answered by aws-sdk-client-mock: it stubs `send` on the client class's prototype.
const seenStubCalls = new WeakMap<object, number>();
function collectMockedCalls(): void {
  for (const client of CLASSES) {
    const send = Object.hasOwn(client.prototype, 'send') ? (client.prototype as Command).send : undefined;
    if (!send || typeof send.getCalls !== 'function') continue;
    const all = send.getCalls() as Array<{ args: Command[] }>;
    const from = (seenStubCalls.get(send) ?? 0) <= all.length ? (seenStubCalls.get(send) ?? 0) : 0;
    for (const call of all.slice(from))
      calls.push({ ...describe(CLIENTS[client.name] as string, call.args[0]), checked: false });
    seenStubCalls.set(send, all.length);
  }
}

// Calls sent for real (DynamoDB Local): a build-step middleware sees the input as serialized.
const recordingStacks = new WeakSet<object>();
for (const base of new Set(CLASSES.map((client) => Object.getPrototypeOf(client.prototype)))) {
  const original = base.send;
  if (original.hublessRecording) continue;
  const patched = function (this: Command, command: Command, ...rest: unknown[]) {
    const stack = this.middlewareStack;
    if (stack && !recordingStacks.has(stack)) {
      recordingStacks.add(stack);
      stack.add(
        (next: Command, context: Command) => async (args: Command) => {
          const service = CLIENTS[context.clientName];
          if (service)
            calls.push({
              service,
              operation: String(context.commandName).replace(/Command$/, ''),
              input: args.input,
              checked: false,
            });
          return next(args);
        },
        { step: 'build', name: 'hublessRecordAwsCall' },
      );
    }
    return original.call(this, command, ...rest);
  };
  patched.hublessRecording = true;
  base.send = patched;
}

let testFile = '';

afterEach(() => {
  testFile ||= expect.getState().testPath ?? '';
  collectMockedCalls();
  const problems: string[] = [];
  for (const call of calls) {
    if (call.checked) continue;
    call.checked = true;
    for (const problem of validateInput(call.service, call.operation, call.input))
      problems.push(`${call.service} ${call.operation}: ${problem}`);
  }
  const unique = [...new Set(problems)];
  if (unique.length > 0) {
    const what = unique.length === 1 ? 'this request' : 'these requests';
    throw new Error(`AWS would refuse ${what} (service model):\n  ${unique.join('\n  ')}`);
  }
});

// The calls of this file, for the closing figures (test-artifacts/aws-calls/<file>.json).
afterAll(() => {
  if (!testFile) return;
  const dir = 'test-artifacts/aws-calls';
  mkdirSync(dir, { recursive: true });
  const operations: Record<string, number> = {};
  for (const call of calls) {
    const key = `${call.service}:${call.operation}`;
    operations[key] = (operations[key] ?? 0) + 1;
  }
  writeFileSync(
    path.join(dir, `${path.basename(testFile)}.json`),
    JSON.stringify(
      { file: path.relative(process.cwd(), testFile), ...recordedTotals(), operations },
      null,
      2,
    ),
  );
});
