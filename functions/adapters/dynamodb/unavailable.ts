import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { StoreUnavailableError } from '../../core/errors.ts';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/** True for an error that says the store was not reached or did not answer, not that it said no. */
export function isUnreachable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string; cause?: unknown } | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_CODES.has(e.code))) return true;
  if (/socket hang up|ECONNREFUSED|ECONNRESET/.test(e.message ?? '')) return true;
  return e.cause !== undefined && e.cause !== error && isUnreachable(e.cause);
}

/**
 * Turns "the store did not answer" into StoreUnavailableError (503, its reason shown) for
 * every command sent through `client` and the document clients made from it (they share
 * its middleware stack). Runs outside the SDK's retries, so it sees only the final failure.
 */
export function reportStoreUnavailable(client: DynamoDBClient, what: string, fix: string): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (!isUnreachable(error)) throw error;
        throw new StoreUnavailableError(
          `The session store (${what}) is not answering (${(error as Error).message || (error as Error).name}). ` +
            `Try again in a moment. ${fix}`,
          { cause: error },
        );
      }
    },
    { step: 'initialize', name: 'hublessStoreUnavailable', priority: 'high' },
  );
}
