import { describe, expect, it } from 'vitest';
import { isAddressInUse, onFreePort } from '../support/net.ts';

/** Node's error for a listen on a taken port, as net.Server emits it. */
function inUse(port: number): Error {
  return Object.assign(new Error(`listen EADDRINUSE: address already in use 127.0.0.1:${port}`), {
    code: 'EADDRINUSE',
    errno: -98,
    syscall: 'listen',
  });
}

/** Ports 4001, 4002, … in turn, as freePort would hand them out. */
function ports(): () => Promise<number> {
  let next = 4000;
  return async () => ++next;
}

describe('test servers on a free port', () => {
  it('starts again on another port when the first was taken between picking and binding', async () => {
    const tried: number[] = [];
    const started = await onFreePort(
      async (port) => {
        tried.push(port);
        if (port === 4001) throw inUse(port);
        return `listening on ${port}`;
      },
      { pick: ports() },
    );
    expect(started).toBe('listening on 4002');
    expect(tried).toEqual([4001, 4002]);
  });

  it('undoes what the failed start left behind before it tries again', async () => {
    const steps: string[] = [];
    await onFreePort(
      async (port) => {
        steps.push(`start ${port}`);
        if (port === 4001) throw inUse(port);
      },
      { pick: ports(), beforeRetry: async () => void steps.push('clean up') },
    );
    expect(steps).toEqual(['start 4001', 'clean up', 'start 4002']);
  });

  it('throws any other failure at once, without trying another port', async () => {
    const tried: number[] = [];
    const failure = new Error('jupyter-server exited (1): No module named hubless_lab');
    await expect(
      onFreePort(
        async (port) => {
          tried.push(port);
          throw failure;
        },
        { pick: ports() },
      ),
    ).rejects.toBe(failure);
    expect(tried).toEqual([4001]);
  });

  it('gives up after the given number of taken ports with the last error', async () => {
    const tried: number[] = [];
    const failure = onFreePort(
      async (port) => {
        tried.push(port);
        throw inUse(port);
      },
      { pick: ports(), attempts: 3 },
    );
    await expect(failure).rejects.toThrow('address already in use 127.0.0.1:4003');
    expect(tried).toEqual([4001, 4002, 4003]);
  });

  it('recognises a taken port from Node, from a failure it caused, and from a child process’s output', () => {
    expect(isAddressInUse(inUse(8000))).toBe(true);
    expect(isAddressInUse({ code: 'EADDRINUSE' })).toBe(true);
    expect(isAddressInUse(new Error('gateway failed to start', { cause: inUse(8000) }))).toBe(true);
    // `hubless start` exits with Node's message; jupyter-server (port_retries=0) logs its own.
    expect(isAddressInUse(new Error('hubless exited with 1:\nhubless: listen EADDRINUSE: address…'))).toBe(
      true,
    );
    expect(
      isAddressInUse(new Error('jupyter-server exited (1):\n[I ServerApp] The port 8888 is already in use.')),
    ).toBe(true);
    expect(isAddressInUse('The port 8888 is already in use.')).toBe(true);
  });

  it('does not take other failures for a taken port', () => {
    expect(isAddressInUse(new Error('connect ECONNREFUSED 127.0.0.1:8000'))).toBe(false);
    expect(isAddressInUse({ code: 'EACCES', message: 'listen EACCES: permission denied 0.0.0.0:80' })).toBe(
      false,
    );
    expect(isAddressInUse(new Error('hubless exited with 1', { cause: new Error('disk full') }))).toBe(false);
    expect(isAddressInUse(undefined)).toBe(false);
    expect(isAddressInUse(98)).toBe(false);
    expect(isAddressInUse('Another hubless is already running')).toBe(false);
  });
});
