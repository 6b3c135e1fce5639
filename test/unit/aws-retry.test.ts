import { describe, expect, it } from 'vitest';
import { retrier, withRetries } from '../../functions/adapters/aws/retry.ts';
import { ThrottledError } from '../../functions/core/errors.ts';

function awsError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...extra });
}

/** A clock that moves only when the code under test sleeps. */
function fakeTime(start = 1_000_000) {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
  };
}

describe('withRetries', () => {
  it('retries throttling until the call succeeds', async () => {
    const time = fakeTime();
    const failures = [
      'ThrottlingException',
      'TooManyRequestsException',
      'RequestLimitExceeded',
      'ProvisionedThroughputExceededException',
    ];
    let calls = 0;
    const result = await withRetries(
      async () => {
        const failure = failures[calls++];
        if (failure) throw awsError(failure);
        return 'ok';
      },
      {
        deadline: time.now() + 60_000,
        baseMs: 100,
        maxMs: 1_000,
        sleep: time.sleep,
        now: time.now,
        random: () => 1,
      },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(5);
    // Exponential caps, full jitter at its maximum (random = 1): 100, 200, 400, 800.
    expect(time.sleeps).toEqual([100, 200, 400, 800]);
  });

  it('treats errors the SDK marks as throttling as throttling', async () => {
    const time = fakeTime();
    let calls = 0;
    await withRetries(
      async () => {
        if (calls++ === 0) throw awsError('SlowDown', { $retryable: { throttling: true } });
        return 1;
      },
      { deadline: time.now() + 10_000, baseMs: 10, maxMs: 100, sleep: time.sleep, now: time.now },
    );
    expect(calls).toBe(2);
  });

  it('spreads waits with full jitter below the cap', async () => {
    const time = fakeTime();
    let calls = 0;
    await withRetries(
      async () => {
        if (calls++ < 3) throw awsError('ThrottlingException');
        return 1;
      },
      {
        deadline: time.now() + 10_000,
        baseMs: 1_000,
        maxMs: 5_000,
        sleep: time.sleep,
        now: time.now,
        random: () => 0.5,
      },
    );
    expect(time.sleeps).toEqual([500, 1_000, 2_000]);
  });

  it('gives up at the deadline with a ThrottledError that says what to do', async () => {
    const time = fakeTime();
    let calls = 0;
    const error = await withRetries(
      async () => {
        calls++;
        throw awsError('ThrottlingException');
      },
      {
        deadline: time.now() + 3_000,
        baseMs: 500,
        maxMs: 1_000,
        sleep: time.sleep,
        now: time.now,
        random: () => 1,
        operation: 'ECS RunTask',
        service: 'Amazon ECS',
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).status).toBe(503);
    expect((error as ThrottledError).expose).toBe(true);
    // Waits 500 + 1000 + 1000 = 2.5 s; the next 1 s wait would pass the 3 s deadline.
    expect(calls).toBe(4);
    expect((error as Error).message).toBe(
      'AWS is throttling ECS RunTask; retried 3 times over 2.5 s. Try again in a minute; if it persists, request a higher quota for Amazon ECS.',
    );
  });

  it('lets every other error through at once, for the adapter to translate', async () => {
    const time = fakeTime();
    let calls = 0;
    const failure = awsError('ClientException');
    await expect(
      withRetries(
        async () => {
          calls++;
          throw failure;
        },
        { deadline: time.now() + 10_000, baseMs: 10, maxMs: 100, sleep: time.sleep, now: time.now },
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
    expect(time.sleeps).toEqual([]);
  });
});

describe('retrier', () => {
  it('gives each call its own budget from the policy', async () => {
    const time = fakeTime();
    const call = retrier('Amazon ECS', {
      budgetMs: 1_000,
      baseMs: 400,
      maxMs: 400,
      sleep: time.sleep,
      now: time.now,
      random: () => 1,
    });
    await expect(
      call('ECS StopTask', async () => Promise.reject(awsError('ThrottlingException'))),
    ).rejects.toThrow(/throttling ECS StopTask; retried 2 times .* quota for Amazon ECS/);
    // A second call after the first used its budget still gets a full budget.
    let calls = 0;
    await expect(
      call('ECS StopTask', async () => {
        if (calls++ < 2) throw awsError('ThrottlingException');
        return 'stopped';
      }),
    ).resolves.toBe('stopped');
  });
});
