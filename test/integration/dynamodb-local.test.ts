import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ListTablesCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureTable } from '../../functions/adapters/dynamodb/table.ts';
import {
  createLocalDynamoClients,
  type DynamoDbLocal,
  JAVA_INSTALL_HINT,
  startDynamoDbLocal,
} from '../../functions/local/dynamodb-local.ts';

const started: DynamoDbLocal[] = [];
const cleanups: Array<() => Promise<void>> = [];

async function start(options: Parameters<typeof startDynamoDbLocal>[0] = {}): Promise<DynamoDbLocal> {
  const local = await startDynamoDbLocal(options);
  started.push(local);
  return local;
}

async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, () => server.close(() => done(true)));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  for (const local of started.splice(0)) await local.stop();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('startDynamoDbLocal', () => {
  it('starts an in-memory DynamoDB Local on a free port that answers on 127.0.0.1', async () => {
    const local = await start();

    expect(local.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(isAlive(local.pid)).toBe(true);
    const { client } = createLocalDynamoClients(local.endpoint);
    await expect(client.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
    client.destroy();
  });

  it('stops the process it started and resolves once it has exited', async () => {
    const local = await start();

    await local.stop();
    await local.stop();

    expect(isAlive(local.pid)).toBe(false);
  });

  it('keeps tables across restarts when given a data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hubless-ddb-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    const first = await start({ dataDir });
    const firstClients = createLocalDynamoClients(first.endpoint);
    await ensureTable(firstClients.client, 'kept');
    firstClients.client.destroy();
    await first.stop();

    const second = await start({ dataDir });
    const { client } = createLocalDynamoClients(second.endpoint);
    const tables = await client.send(new ListTablesCommand({}));
    client.destroy();

    expect(tables.TableNames).toEqual(['kept']);
  });

  it('refuses a port another process listens on, before starting Java', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', () => done()));
    cleanups.push(() => new Promise<void>((done) => blocker.close(() => done())));
    const port = (blocker.address() as AddressInfo).port;

    await expect(startDynamoDbLocal({ port })).rejects.toThrow(`cannot use port ${port}`);
  });

  it('refuses the port of another DynamoDB Local instead of taking its answers for its own', async () => {
    const first = await start();
    const port = Number(new URL(first.endpoint).port);

    const second = await startDynamoDbLocal({ port }).catch((caught: unknown) => caught);
    if (!(second instanceof Error)) started.push(second as DynamoDbLocal);

    expect(second).toBeInstanceOf(Error);
    expect((second as Error).message).toContain(`cannot use port ${port}`);
  });

  it('gives up after its time budget and leaves no process behind', async () => {
    const error = await startDynamoDbLocal({ startTimeoutMs: 1 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /did not start on port \d+: it did not answer ListTables within/,
    );
    const port = Number(/port (\d+)/.exec((error as Error).message)?.[1]);
    await expect(portIsFree(port)).resolves.toBe(true);
  });

  it('says how to install Java when java does not run', async () => {
    const path = process.env.PATH;
    const empty = await mkdtemp(join(tmpdir(), 'hubless-nojava-'));
    cleanups.push(() => rm(empty, { recursive: true, force: true }));
    process.env.PATH = empty;
    try {
      await expect(startDynamoDbLocal()).rejects.toThrow(JAVA_INSTALL_HINT);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('ensureTable', () => {
  it('creates the table with its state index and TTL, and is safe to run twice at once', async () => {
    const local = await start();
    const { client } = createLocalDynamoClients(local.endpoint);

    await Promise.all([ensureTable(client, 'hubless'), ensureTable(client, 'hubless')]);
    await ensureTable(client, 'hubless');

    const { Table } = await client.send(new DescribeTableCommand({ TableName: 'hubless' }));
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: 'hubless' }));
    client.destroy();
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['byState']);
    expect(ttl.TimeToLiveDescription).toMatchObject({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: 'expiresAt',
    });
  });

  it('does not hide errors other than a missing table', async () => {
    const local = await start();
    const { client } = createLocalDynamoClients(local.endpoint);
    await local.stop();

    await expect(ensureTable(client, 'hubless')).rejects.not.toBeInstanceOf(ResourceNotFoundException);
    client.destroy();
  });
});
