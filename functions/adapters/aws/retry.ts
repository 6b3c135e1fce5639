import { ThrottledError } from '../../core/errors.ts';

/**
 * Retrying throttled AWS calls within the handler's time budget.
 *
 * The SDK already retries a few times; this layer exists because bursts (a class of 200
 * logging in at 9:00) can throttle ECS RunTask, ELB and Cognito for longer than the SDK's
 * three attempts, and a Lambda has a hard deadline. We keep retrying with exponential
 * backoff and full jitter (so many callers do not retry in lockstep) until the next wait
 * would pass the deadline, then give up with a ThrottledError that says what to do.
 * Any other error propagates unchanged: the adapter translates it.
 */

export interface RetryOptions {
  /** Epoch ms: the handler's time budget. No retry sleeps past it. */
  deadline: number;
  /** First backoff cap in ms; doubled each attempt. */
  baseMs: number;
  /** Largest backoff cap in ms. */
  maxMs: number;
  /** Names the operation in the error message, e.g. "ECS RunTask". */
  operation?: string;
  /** Names the service whose quota to raise, e.g. "Amazon ECS". */
  service?: string;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'TooManyRequests',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

/** The error's AWS name (SDK v3 sets `name` to the exception shape's name). */
export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const value of [record.name, record.Code, record.code]) {
    if (typeof value === 'string' && value !== 'Error') return value;
  }
  return undefined;
}

export function awsErrorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isThrottling(error: unknown): boolean {
  const name = awsErrorName(error);
  if (name && THROTTLING_NAMES.has(name)) return true;
  const retryable = (error as { $retryable?: { throttling?: boolean } } | null)?.$retryable;
  return retryable?.throttling === true;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function withRetries<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const started = now();
  let retries = 0;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!isThrottling(error)) throw error;
      const cap = Math.min(options.maxMs, options.baseMs * 2 ** retries);
      const wait = Math.floor(random() * cap);
      if (now() + wait >= options.deadline) {
        const seconds = Math.round((now() - started) / 100) / 10;
        const operation = options.operation ?? 'this request';
        const service = options.service ?? 'the AWS service';
        throw new ThrottledError(
          `AWS is throttling ${operation}; retried ${retries} times over ${seconds} s. ` +
            `Try again in a minute; if it persists, request a higher quota for ${service}.`,
          { cause: error },
        );
      }
      await sleep(wait);
      retries += 1;
    }
  }
}

/**
 * How an adapter retries: adapters are built once per cold start, so they take a policy
 * and turn it into a deadline per call. `deadline` (when given) wins over `budgetMs`;
 * wiring can point it at the Lambda context's remaining time.
 */
export interface RetryPolicy {
  budgetMs?: number;
  deadline?: () => number;
  baseMs?: number;
  maxMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export type Retrier = <T>(operation: string, fn: () => Promise<T>) => Promise<T>;

export const DEFAULT_RETRY_BUDGET_MS = 10_000;

/** Binds a policy and a service name into `call(operation, fn)`. */
export function retrier(service: string, policy: RetryPolicy = {}): Retrier {
  const now = policy.now ?? Date.now;
  return (operation, fn) =>
    withRetries(fn, {
      deadline: policy.deadline ? policy.deadline() : now() + (policy.budgetMs ?? DEFAULT_RETRY_BUDGET_MS),
      baseMs: policy.baseMs ?? 100,
      maxMs: policy.maxMs ?? 2_000,
      operation,
      service,
      sleep: policy.sleep,
      random: policy.random,
      now,
    });
}
