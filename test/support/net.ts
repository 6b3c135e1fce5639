import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). Another process
 * may take it before the caller binds it: start servers with `onFreePort`, which retries.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Whether a failed start failed because its port was taken: Node's EADDRINUSE error (or
 * one it caused), or a child process's output saying so (Node's and jupyter-server's wording).
 */
export function isAddressInUse(failure: unknown): boolean {
  for (let error = failure, depth = 0; error !== undefined && error !== null && depth < 5; depth++) {
    if (typeof error === 'string') return /EADDRINUSE|already in use/i.test(error);
    if (typeof error !== 'object') return false;
    const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown };
    if (code === 'EADDRINUSE') return true;
    if (typeof message === 'string' && /EADDRINUSE|already in use/i.test(message)) return true;
    error = cause;
  }
  return false;
}

export interface OnFreePortOptions {
  /** How many ports to try; 5 by default. */
  attempts?: number;
  /** Undoes what a start that lost its port left behind (e.g. a first start's data dir). */
  beforeRetry?: () => Promise<void>;
  /** Where ports come from (a test of this function); freePort by default. */
  pick?: () => Promise<number>;
}

/**
 * Runs `start` on a free port, and again on another one while it fails because the port
 * was taken in between (freePort's race with every other process on the machine); any
 * other failure, or the last attempt's, is thrown as it is.
 */
export async function onFreePort<T>(
  start: (port: number) => Promise<T>,
  options: OnFreePortOptions = {},
): Promise<T> {
  const { attempts = 5, pick = freePort, beforeRetry } = options;
  for (let attempt = 1; ; attempt++) {
    const port = await pick();
    try {
      return await start(port);
    } catch (error) {
      if (attempt >= attempts || !isAddressInUse(error)) throw error;
      await beforeRetry?.();
    }
  }
}

/** Polls `check` until it returns a value, or fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
  );
}
