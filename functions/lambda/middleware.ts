import type { MiddlewareObj } from '@middy/core';
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
