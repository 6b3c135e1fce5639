import { ThrottledError } from '../../core/errors.ts';

/**
 * One retry strategy for every AWS call, configured once in wiring (functions/wiring/aws.ts)
 * on each SDK client: the SDK's own retry loop, with this strategy deciding. Adapters never
 * loop themselves: a second loop around a retrying client multiplies the attempts (three
 * outer tries of a client that tries three times is nine requests to a throttled API).
 *
 * The strategy retries throttling, transient and server errors with exponential backoff
 * and full jitter (so a class of 200 signing in at 9:00 does not retry in lockstep), at most
 * `maxAttempts` requests per call, and never starts a wait that would end past the
 * deadline: on Lambda the invocation's end (context.getRemainingTimeInMillis(), set by
 * functions/lambda/middleware.ts), so a throttled call gives up while the handler can still
 * answer with a ThrottledError that says what to do, instead of being killed mid-wait.
 * docs/aws-api-calls.md describes it for operators.
 */

export interface DeadlineRetryOptions {
  /** Requests per call, the first included. */
  maxAttempts: number;
  /** Epoch ms no retry may wait past (Infinity: only maxAttempts bounds it). */
  deadline: () => number;
  /** First backoff cap for transient errors, doubled per retry. Default 100 ms. */
  baseMs?: number;
  /** First backoff cap for throttling, doubled per retry. Default 500 ms (the SDK's). */
  throttlingBaseMs?: number;
  /** Largest backoff cap. Default 20 s (the SDK's). */
  maxDelayMs?: number;
  random?: () => number;
  now?: () => number;
}

/** The SDK's RetryErrorInfo, as far as this strategy reads it. */
interface RetryErrorInfo {
  errorType: 'THROTTLING' | 'TRANSIENT' | 'SERVER_ERROR' | 'CLIENT_ERROR' | string;
}

/** The SDK's RetryToken: how many retries so far and how long to wait before the next. */
export interface DeadlineRetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

function token(retries: number, delay: number): DeadlineRetryToken {
  return { getRetryCount: () => retries, getRetryDelay: () => delay };
}

/**
 * A RetryStrategyV2 (the shape @smithy's retry middleware calls): pass it as the client's
 * `retryStrategy`, with the same `maxAttempts`. Refusing a retry (throwing from
 * refreshRetryTokenForRetry) makes the SDK throw the call's last error.
 */
export class DeadlineRetryStrategy {
  readonly mode = 'standard';
  readonly #options: Required<DeadlineRetryOptions>;

  constructor(options: DeadlineRetryOptions) {
    this.#options = {
      baseMs: 100,
      throttlingBaseMs: 500,
      maxDelayMs: 20_000,
      random: Math.random,
      now: Date.now,
      ...options,
    };
  }

  get maxAttempts(): number {
    return this.#options.maxAttempts;
  }

  async acquireInitialRetryToken(_scope: string): Promise<DeadlineRetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(
    previous: DeadlineRetryToken,
    info: RetryErrorInfo,
  ): Promise<DeadlineRetryToken> {
    const o = this.#options;
    const retries = previous.getRetryCount();
    if (info.errorType === 'CLIENT_ERROR') throw new Error('not retryable');
    if (retries + 1 >= o.maxAttempts) throw new Error('no attempts left');
    const base = info.errorType === 'THROTTLING' ? o.throttlingBaseMs : o.baseMs;
    const delay = Math.floor(o.random() * Math.min(o.maxDelayMs, base * 2 ** retries));
    if (o.now() + delay >= o.deadline()) throw new Error('no time left before the deadline');
    return token(retries + 1, delay);
  }

  recordSuccess(_token: DeadlineRetryToken): void {}
}

/**
 * When the current invocation must have answered by. Wiring holds one per process; the
 * Lambda middleware sets it from context.getRemainingTimeInMillis() before each event,
 * keeping `reserveMs` for the handler to turn a refusal into a clear answer.
 */
export class InvocationDeadline {
  #until = Number.POSITIVE_INFINITY;
  readonly #reserveMs: number;
  readonly #now: () => number;

  constructor(reserveMs = 1_000, now: () => number = Date.now) {
    this.#reserveMs = reserveMs;
    this.#now = now;
  }

  /** From now, `remainingMs` are left (Lambda's context.getRemainingTimeInMillis()). */
  start(remainingMs: number): void {
    this.#until = this.#now() + Math.max(0, remainingMs - this.#reserveMs);
  }

  /** Outside an invocation (local mode, tests): no deadline. */
  clear(): void {
    this.#until = Number.POSITIVE_INFINITY;
  }

  get(): number {
    return this.#until;
  }
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

/** Runs one SDK call (`operation` names it in messages); see awsCaller. */
export type AwsCaller = <T>(operation: string, fn: () => Promise<T>) => Promise<T>;

/**
 * Binds a service name into `call(operation, fn)`: runs the call once (the client
 * retries) and turns throttling that outlasted the client's retries into a ThrottledError
 * that says what to do. Any other error propagates unchanged: the adapter translates it.
 */
export function awsCaller(service: string): AwsCaller {
  return async (operation, fn) => {
    try {
      return await fn();
    } catch (error) {
      if (!isThrottling(error)) throw error;
      const meta = (error as { $metadata?: { attempts?: number; totalRetryDelay?: number } }).$metadata;
      const tries = meta?.attempts ? `${meta.attempts} attempts` : 'several attempts';
      const waited = meta?.totalRetryDelay ? ` over ${Math.round(meta.totalRetryDelay / 100) / 10} s` : '';
      throw new ThrottledError(
        `AWS is throttling ${operation} (${tries}${waited}). Try again in a minute; if it persists, request a higher quota for ${service}.`,
        { cause: error },
      );
    }
  };
}
