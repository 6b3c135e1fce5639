import { createServer, type Socket } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../functions/core/errors.ts';
import { errorView } from '../../functions/handlers/http.ts';
import { createLocalDynamoClients } from '../../functions/local/dynamodb-local.ts';
import { freePort } from '../support/net.ts';

/**
 * DynamoDB Local that hangs (stopped, swapping) or is gone: the store client gives up in
 * seconds with a reason a page can show (503), instead of waiting minutes or a bare 500.
 */
const sockets: Socket[] = [];
const hung = createServer((socket) => void sockets.push(socket)); // accepts, never answers
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((done) => hung.close(done));
});

const get = (endpoint: string) =>
  createLocalDynamoClients(endpoint).doc.send(new GetCommand({ TableName: 't', Key: { pk: 'a', sk: 'b' } }));

describe('the store client when DynamoDB Local does not answer', () => {
  it('a hung store: fails within seconds as 503 "store unavailable"', async () => {
    await new Promise<void>((done) => hung.listen(0, '127.0.0.1', done));
    const { port } = hung.address() as { port: number };
    const began = Date.now();
    const error = await get(`http://127.0.0.1:${port}`).catch((e: unknown) => e);
    const seconds = (Date.now() - began) / 1000;
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(seconds).toBeLessThan(20);
    const view = errorView(error, () => undefined);
    expect(view.status).toBe(503);
    expect(view.title).toBe('The session store is unavailable');
    expect(view.message).toContain('is not answering');
  });

  it('a store that is gone (connection refused): 503 at once', async () => {
    const error = await get(`http://127.0.0.1:${await freePort()}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).status).toBe(503);
  });
});
