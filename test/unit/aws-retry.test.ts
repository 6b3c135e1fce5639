import '../support/aws-calls/checked.ts';
import { Readable } from 'node:stream';
import { ECSClient } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { EcsCompute } from '../../functions/adapters/aws/ecs-compute.ts';
import { awsCaller, DeadlineRetryStrategy, InvocationDeadline } from '../../functions/adapters/aws/retry.ts';
import { ThrottledError } from '../../functions/core/errors.ts';
import { invocationDeadline } from '../../functions/lambda/middleware.ts';
import { AWS_MAX_ATTEMPTS, awsRetryConfig } from '../../functions/wiring/aws.ts';

/**
 * One retry strategy, configured once in wiring on every SDK client and bounded by the
 * Lambda's remaining time. These tests drive a real ECS client (its own retry middleware)
 * against an HTTP handler that answers every request as a throttled ECS does.
 */
function throttledEcs(retry: { maxAttempts: number; retryStrategy: DeadlineRetryStrategy }) {
  const requests: number[] = [];
  const client = new ECSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    ...retry,
    requestHandler: {
      handle: async () => {
        requests.push(Date.now());
        return {
          response: {
            statusCode: 400,
            headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'r' },
            body: Readable.from([
              Buffer.from(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' })),
            ]),
          },
        };
      },
    },
  });
  const compute = new EcsCompute({
    ecs: client,
    cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/hubless-test',
    stage: 'test',
    image: 'lab:1',
    fileSystemId: 'fs-0123456789abcdef0',
    executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
    taskRoleArn: 'arn:aws:iam::123456789012:role/task',
    subnets: ['subnet-0123456789abcdef0'],
    securityGroups: ['sg-0123456789abcdef0'],
    logGroup: 'labs',
    region: 'us-east-1',
  });
  return { client, compute, requests };
}

const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/hubless-test/0123456789abcdef0123456789abcdef';

describe('the retry strategy of every AWS client (wiring)', () => {
  it('tries a throttled call at most AWS_MAX_ATTEMPTS times in all, then the adapter says what to do', async () => {
    // Before: the adapter's own loop wrapped the client's three attempts, so one call was
    // tried 3 x N times. Now the client's strategy is the only loop.
    const deadline = new InvocationDeadline();
    const { compute, requests } = throttledEcs(awsRetryConfig(deadline, () => 0));
    const error = await compute.stop(TASK, 'test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as Error).message).toMatch(new RegExp(`StopTask \\(${AWS_MAX_ATTEMPTS} attempts`));
    expect(requests).toHaveLength(AWS_MAX_ATTEMPTS);
  });

  it('stops retrying before the invocation’s deadline instead of waiting past it', async () => {
    const deadline = new InvocationDeadline(1_000);
    // 1.7 s left, 1 s kept for the answer: 700 ms for retries. With full jitter at its top
    // (random = 1) the waits would be 500 ms, then 1 s: the second would end past the deadline.
    deadline.start(1_700);
    const end = deadline.get();
    const { compute, requests } = throttledEcs(awsRetryConfig(deadline, () => 1));
    await expect(compute.stop(TASK, 'test')).rejects.toBeInstanceOf(ThrottledError);
    expect(requests).toHaveLength(2);
    expect(Date.now()).toBeLessThan(end);
  });

  it('makes a single attempt when the deadline has already come', async () => {
    const deadline = new InvocationDeadline(1_000);
    deadline.start(500);
    const { compute, requests } = throttledEcs(awsRetryConfig(deadline, () => 1));
    await expect(compute.stop(TASK, 'test')).rejects.toBeInstanceOf(ThrottledError);
    expect(requests).toHaveLength(1);
  });
});

describe('DeadlineRetryStrategy', () => {
  const info = (errorType: string) => ({ errorType });

  it('never retries client errors (a bad request stays bad)', async () => {
    const strategy = new DeadlineRetryStrategy({ maxAttempts: 5, deadline: () => Infinity });
    const first = await strategy.acquireInitialRetryToken('');
    await expect(strategy.refreshRetryTokenForRetry(first, info('CLIENT_ERROR'))).rejects.toThrow();
  });

  it('backs off exponentially with full jitter, throttling from a larger base', async () => {
    const strategy = new DeadlineRetryStrategy({ maxAttempts: 5, deadline: () => Infinity, random: () => 1 });
    let token = await strategy.acquireInitialRetryToken('');
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      token = await strategy.refreshRetryTokenForRetry(token, info('THROTTLING'));
      waits.push(token.getRetryDelay());
    }
    expect(waits).toEqual([500, 1000, 2000, 4000]);
    await expect(strategy.refreshRetryTokenForRetry(token, info('THROTTLING'))).rejects.toThrow(/attempts/);
    const transient = await strategy.refreshRetryTokenForRetry(
      await strategy.acquireInitialRetryToken(''),
      info('TRANSIENT'),
    );
    expect(transient.getRetryDelay()).toBe(100);
  });
});

describe('invocationDeadline middleware', () => {
  it('sets the deadline from the Lambda context’s remaining time, and clears it after', async () => {
    const deadline = new InvocationDeadline(1_000);
    const middleware = invocationDeadline(deadline);
    const before = Date.now();
    await middleware.before?.({
      event: {},
      context: { awsRequestId: 'r', getRemainingTimeInMillis: () => 29_000 },
    } as never);
    expect(deadline.get()).toBeGreaterThanOrEqual(before + 28_000);
    expect(deadline.get()).toBeLessThanOrEqual(Date.now() + 28_000);
    await middleware.after?.({} as never);
    expect(deadline.get()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('awsCaller', () => {
  it('passes other errors through unchanged', async () => {
    const call = awsCaller('Amazon ECS');
    const refused = Object.assign(new Error('no'), { name: 'AccessDeniedException' });
    await expect(call('RunTask', () => Promise.reject(refused))).rejects.toBe(refused);
  });
});
