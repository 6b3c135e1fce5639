import type { MiddlewareObj } from '@middy/core';
import type { InvocationDeadline } from '../adapters/aws/retry.ts';
import type { JsonLogger } from '../adapters/log/json-logger.ts';

/**
 * The middleware every hubless Lambda runs its handler in (functions/lambda/*.ts).
 * Handlers stay plain `(deps) => handler` functions that local mode calls directly;
 * what only a Lambda has (a request id, cold starts, an error that escaped before any
 * handler existed) is dealt with here.
 */

/** The part of Lambda's context object these middlewares read. */
interface InvocationContext {
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/**
 * Bounds every AWS call's retries (the SDK clients' one retry strategy, wiring/aws.ts) by
 * this invocation's remaining time, so a throttled call gives up while the handler can
 * still answer, instead of the Lambda being killed mid-wait.
 */
export function invocationDeadline<TEvent>(
  deadline: InvocationDeadline,
): MiddlewareObj<TEvent, unknown, Error, InvocationContext> {
  const clear = (): void => deadline.clear();
  return {
    name: 'invocationDeadline',
    before: ({ context }) => deadline.start(context.getRemainingTimeInMillis()),
    after: clear,
    onError: clear,
  };
}

let coldStart = true;

/**
 * Puts what identifies one invocation on every log line written during it: the Lambda
 * request id, whether this instance was cold, and the id the caller traces the request
 * by (API Gateway's request id, the ALB's X-Amzn-Trace-Id, the EventBridge event id).
 */
export function invocationLog<TEvent>(
  logger: JsonLogger,
  correlationId: (event: TEvent) => string | undefined,
): MiddlewareObj<TEvent, unknown, Error, InvocationContext> {
  const clear = (): void => logger.clearContext();
  return {
    name: 'invocationLog',
    before: ({ event, context }) => {
      const id = correlationId(event);
      logger.setContext({ requestId: context.awsRequestId, coldStart, ...(id ? { correlationId: id } : {}) });
      coldStart = false;
    },
    after: clear,
    onError: clear,
  };
}

/**
 * The last resort for an error no handler answered: typically the deps failing to
 * build on a cold start (settings the stacks set that do not parse). HTTP functions
 * pass `respond`, which answers in the handler's own error shape (and logs what it
 * does not show) instead of the load balancer's bare 502; event functions log the error
 * and let it propagate, so EventBridge retries the event.
 */
export function lastResort<TEvent, TResult>(
  logger: JsonLogger,
  respond?: (event: TEvent, error: unknown) => TResult,
): MiddlewareObj<TEvent, TResult, Error, InvocationContext> {
  return {
    name: 'lastResort',
    onError: (request) => {
      if (respond) {
        request.response = respond(request.event, request.error);
        return;
      }
      const error = request.error;
      logger.log('error', 'invocation failed', {
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    },
  };
}
