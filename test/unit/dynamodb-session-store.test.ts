import '../support/aws-calls/checked.ts';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store.ts';
import { tableDefinition } from '../../functions/adapters/dynamodb/table.ts';
import { SessionConflictError, ThrottledError, ValidationError } from '../../functions/core/errors.ts';
import type { Session } from '../../functions/core/session.ts';

const TABLE = 'hubless-unit';
const NOW = new Date('2030-01-01T12:00:00Z');

const documentMock = mockClient(DynamoDBDocumentClient);

function makeStore(): DynamoSessionStore {
  // A real client whose send is replaced by aws-sdk-client-mock: nothing leaves the process.
  const base = new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
  });
  const client = DynamoDBDocumentClient.from(base);
  return new DynamoSessionStore({ client, tableName: TABLE, clock: { now: () => NOW } });
}

function aSession(overrides: Partial<Session> = {}): Session {
  const time = NOW.toISOString();
  return {
    id: 'alice__abc123',
    user: 'alice',
    server: '',
    profile: 'small',
    state: 'pending',
    version: 1,
    createdAt: time,
    updatedAt: time,
    events: [],
    ...overrides,
  };
}

function throttled(name: string): Error {
  return Object.assign(new Error(`Rate exceeded (${name})`), { name, $metadata: { attempts: 3 } });
}

afterEach(() => {
  documentMock.reset();
});

describe('DynamoSessionStore', () => {
  describe('when DynamoDB keeps throttling after the SDK retries', () => {
    it.each(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'])(
      'turns %s into a ThrottledError that says what to do',
      async (name) => {
        documentMock.on(GetCommand).rejects(throttled(name));

        const error = await makeStore()
          .get('alice', '')
          .catch((caught: unknown) => caught);

        expect(error).toBeInstanceOf(ThrottledError);
        expect((error as ThrottledError).expose).toBe(true);
        expect((error as ThrottledError).status).toBe(503);
        expect((error as ThrottledError).reason).toMatch(/Try again in a few seconds/);
        expect((error as ThrottledError).reason).toContain(TABLE);
        expect((error as ThrottledError).cause).toMatchObject({ name });
      },
    );

    it('translates throttling on every operation, including the SDK exception class', async () => {
      const sdkError = new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} });
      documentMock.on(PutCommand).rejects(sdkError).on(QueryCommand).rejects(sdkError);
      const store = makeStore();

      await expect(store.create(aSession())).rejects.toBeInstanceOf(ThrottledError);
      await expect(store.update(aSession(), 1)).rejects.toBeInstanceOf(ThrottledError);
      await expect(store.listByState('ready')).rejects.toBeInstanceOf(ThrottledError);
      await expect(store.listByUser('alice')).rejects.toBeInstanceOf(ThrottledError);
    });
  });

  describe('when the SDK fails otherwise', () => {
    it('lets the error through unchanged', async () => {
      const accessDenied = Object.assign(new Error('not authorized to perform dynamodb:GetItem'), {
        name: 'AccessDeniedException',
      });
      documentMock.on(GetCommand).rejects(accessDenied);

      await expect(makeStore().get('alice', '')).rejects.toBe(accessDenied);
    });
  });

  describe('create', () => {
    it('sends a conditional Put that only lands on an empty, terminal or expired slot', async () => {
      documentMock.on(PutCommand).resolves({});

      await makeStore().create(aSession({ state: 'pending', version: 5 }));

      const input = documentMock.commandCalls(PutCommand)[0]?.args[0].input;
      expect(input).toMatchObject({
        TableName: TABLE,
        Item: {
          pk: 'USER#alice',
          sk: 'SERVER#',
          gsi1pk: 'STATE#pending',
          gsi1sk: `${NOW.toISOString()}#alice__abc123`,
          version: 1,
        },
        ConditionExpression:
          'attribute_not_exists(#pk) OR #state IN (:stopped, :failed) OR #expiresAt <= :now',
        ExpressionAttributeValues: {
          ':stopped': 'stopped',
          ':failed': 'failed',
          ':now': NOW.getTime() / 1000,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    });

    it('turns a failed condition into SessionConflictError carrying the existing session without table keys', async () => {
      const existing = aSession({ id: 'alice__winner', state: 'ready', version: 4 });
      const item = { ...existing, pk: 'USER#alice', sk: 'SERVER#', gsi1pk: 'STATE#ready', gsi1sk: 'x' };
      documentMock.on(PutCommand).rejects(
        new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
          Item: marshall(item, { removeUndefinedValues: true }),
        }),
      );

      const error = await makeStore()
        .create(aSession())
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(SessionConflictError);
      expect((error as SessionConflictError<Session>).current).toEqual(existing);
    });
  });

  describe('update', () => {
    it('writes expectedVersion + 1 on the version and id, keeping the state index in step', async () => {
      documentMock.on(PutCommand).resolves({});

      const written = await makeStore().update(aSession({ state: 'ready', version: 99 }), 3);

      expect(written.version).toBe(4);
      expect(documentMock.commandCalls(PutCommand)[0]?.args[0].input).toMatchObject({
        Item: { version: 4, gsi1pk: 'STATE#ready' },
        ConditionExpression: '#version = :expected AND #id = :id',
        ExpressionAttributeValues: { ':expected': 3, ':id': 'alice__abc123' },
      });
    });

    it('carries undefined when the session is gone', async () => {
      documentMock
        .on(PutCommand)
        .rejects(
          new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
        );

      const error = await makeStore()
        .update(aSession(), 1)
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(SessionConflictError);
      expect((error as SessionConflictError<Session>).current).toBeUndefined();
    });
  });

  describe('listByState', () => {
    it('queries the state index, never scans, and defaults to 100 per page', async () => {
      documentMock.on(QueryCommand).resolves({ Items: [] });

      const page = await makeStore().listByState('ready');

      expect(page).toEqual({ items: [] });
      expect(documentMock.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
        IndexName: 'byState',
        ExpressionAttributeValues: { ':state': 'STATE#ready' },
        Limit: 100,
      });
    });

    it('round-trips LastEvaluatedKey through an opaque cursor', async () => {
      const lastKey = { pk: 'USER#bob', sk: 'SERVER#', gsi1pk: 'STATE#ready', gsi1sk: '2030#bob__x' };
      documentMock
        .on(QueryCommand)
        .resolvesOnce({ Items: [], LastEvaluatedKey: lastKey })
        .resolves({ Items: [] });
      const store = makeStore();

      const first = await store.listByState('ready', { limit: 1 });
      await store.listByState('ready', { limit: 1, cursor: first.cursor });

      expect(first.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(documentMock.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual(lastKey);
    });

    it.each([
      ['garbage', 'not-a-cursor!'],
      [
        'another state',
        Buffer.from(JSON.stringify({ pk: 'a', sk: 'b', gsi1pk: 'STATE#pending', gsi1sk: 'c' })).toString(
          'base64url',
        ),
      ],
    ])('rejects a cursor that is %s with a ValidationError', async (_kind, cursor) => {
      await expect(makeStore().listByState('ready', { cursor })).rejects.toBeInstanceOf(ValidationError);
      expect(documentMock.commandCalls(QueryCommand)).toHaveLength(0);
    });

    it('rejects a limit outside 1..1000', async () => {
      await expect(makeStore().listByState('ready', { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
      await expect(makeStore().listByState('ready', { limit: 1001 })).rejects.toBeInstanceOf(ValidationError);
    });
  });
});

describe('tableDefinition', () => {
  it('is on-demand with a byState index that projects whole items', () => {
    const definition = tableDefinition('t');

    expect(definition.BillingMode).toBe('PAY_PER_REQUEST');
    expect(definition.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({ IndexName: 'byState', Projection: { ProjectionType: 'ALL' } }),
    ]);
  });
});
