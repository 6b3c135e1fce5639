import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { SessionConflictError, ThrottledError, ValidationError } from '../../core/errors.ts';
import { type Clock, type Page, type SessionStore, systemClock } from '../../core/ports.ts';
import { type Session, type SessionState, TERMINAL_STATES } from '../../core/session.ts';
import { keyPrefix, TABLE_KEYS } from './schema.ts';

export interface DynamoSessionStoreOptions {
  /** Build it with `marshallOptions.removeUndefinedValues: true` (optional Session fields are often undefined). */
  client: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  /** Decides which items have expired (TTL deletes late). Defaults to the system clock. */
  clock?: Clock;
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

/** Attributes that exist only to key the table and its index; never part of a Session. */
const TABLE_ONLY_ATTRIBUTES = [
  TABLE_KEYS.partitionKey,
  TABLE_KEYS.sortKey,
  TABLE_KEYS.stateIndexPartitionKey,
  TABLE_KEYS.stateIndexSortKey,
] as const;

/** Error names the SDK raises when DynamoDB keeps throttling after its own retries. */
const THROTTLING_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);

/** The table key of the one item that holds the current session of (user, server). */
export function sessionKey(user: string, server: string): Record<string, string> {
  return {
    [TABLE_KEYS.partitionKey]: `${keyPrefix.user}${user}`,
    [TABLE_KEYS.sortKey]: `${keyPrefix.server}${server}`,
  };
}

/**
 * SessionStore on the single hubless table (schema.ts), for AWS and for DynamoDB Local.
 *
 * One item per (user, server) holds the current session. Every write is a whole-item
 * Put guarded by a condition, so there are no blind overwrites: `create` only lands on
 * an empty or terminal slot, `update` only on the exact version (and id) the writer
 * read. A lost race becomes SessionConflictError carrying the item that won, read back
 * in the same request with ReturnValuesOnConditionCheckFailure, so callers decide
 * without a second read. The state-index keys (gsi1pk/gsi1sk) are rewritten on every
 * write, so the index always reflects the current state.
 */
export class DynamoSessionStore implements SessionStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;
  readonly #clock: Clock;

  constructor(options: DynamoSessionStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#clock = options.clock ?? systemClock;
  }

  async get(user: string, server: string): Promise<Session | undefined> {
    const result = await this.#call(() =>
      this.#client.send(
        // Consistent: a caller that just lost a race reads the winner, not a stale copy.
        new GetCommand({ TableName: this.#tableName, Key: sessionKey(user, server), ConsistentRead: true }),
      ),
    );
    return this.#visible(result.Item);
  }

  async create(session: Session): Promise<Session> {
    const written: Session = { ...session, version: 1 };
    try {
      await this.#call(() =>
        this.#client.send(
          new PutCommand({
            TableName: this.#tableName,
            Item: toItem(written),
            // The guard that makes N concurrent starts produce one session: only the first
            // Put finds the slot empty (or terminal); the others fail the condition atomically.
            // An expired item counts as empty, because get() already reports it as absent.
            ConditionExpression:
              'attribute_not_exists(#pk) OR #state IN (:stopped, :failed) OR #expiresAt <= :now',
            ExpressionAttributeNames: {
              '#pk': TABLE_KEYS.partitionKey,
              '#state': 'state',
              '#expiresAt': TABLE_KEYS.ttlAttribute,
            },
            ExpressionAttributeValues: {
              ':stopped': TERMINAL_STATES[0],
              ':failed': TERMINAL_STATES[1],
              ':now': this.#nowSeconds(),
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
    } catch (error) {
      throw this.#conflictOr(error, `${describeSlot(session)} already has a session that is not stopped.`);
    }
    return written;
  }

  async update(next: Session, expectedVersion: number): Promise<Session> {
    const written: Session = { ...next, version: expectedVersion + 1 };
    try {
      await this.#call(() =>
        this.#client.send(
          new PutCommand({
            TableName: this.#tableName,
            Item: toItem(written),
            // The id check stops a writer that read an old session from overwriting the
            // new session that replaced it: both can be at the same version number.
            ConditionExpression: '#version = :expected AND #id = :id',
            ExpressionAttributeNames: { '#version': 'version', '#id': 'id' },
            ExpressionAttributeValues: { ':expected': expectedVersion, ':id': next.id },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
    } catch (error) {
      throw this.#conflictOr(
        error,
        `Session ${next.id} changed since it was read (expected version ${expectedVersion}); read it again and retry.`,
      );
    }
    return written;
  }

  /**
   * Reads the byState index. On AWS a GSI is eventually consistent (usually well under a
   * second behind), which suits its readers: the culler and reconciliation re-check each
   * session with a conditional update before acting. Expired items are filtered out, so a
   * page may hold fewer than `limit` items and still have a cursor.
   */
  async listByState(
    state: SessionState,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<Page<Session>> {
    const limit = pageLimit(page.limit);
    const partition = `${keyPrefix.state}${state}`;
    const result = await this.#call(() =>
      this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: TABLE_KEYS.stateIndex,
          KeyConditionExpression: '#gsi1pk = :state',
          FilterExpression: 'attribute_not_exists(#expiresAt) OR #expiresAt > :now',
          ExpressionAttributeNames: {
            '#gsi1pk': TABLE_KEYS.stateIndexPartitionKey,
            '#expiresAt': TABLE_KEYS.ttlAttribute,
          },
          ExpressionAttributeValues: { ':state': partition, ':now': this.#nowSeconds() },
          ScanIndexForward: true,
          Limit: limit,
          ExclusiveStartKey: page.cursor === undefined ? undefined : decodeCursor(page.cursor, partition),
        }),
      ),
    );
    const items = (result.Items ?? []).map(fromItem);
    // DynamoDB may hand back a key even when nothing follows; the next page is then empty and cursor-less.
    return result.LastEvaluatedKey ? { items, cursor: encodeCursor(result.LastEvaluatedKey) } : { items };
  }

  async listByUser(user: string): Promise<Session[]> {
    const sessions: Session[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#call(() =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :server)',
            ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey, '#sk': TABLE_KEYS.sortKey },
            ExpressionAttributeValues: { ':pk': `${keyPrefix.user}${user}`, ':server': keyPrefix.server },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of result.Items ?? []) {
        const session = this.#visible(item);
        if (session) sessions.push(session);
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return sessions;
  }

  /** Runs one SDK call, turning throttling that outlasted the SDK's retries into ThrottledError. */
  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof Error && THROTTLING_ERRORS.has(error.name)) {
        throw new ThrottledError(
          `DynamoDB kept throttling requests to table "${this.#tableName}" after the SDK's retries (${error.name}). ` +
            'Try again in a few seconds; if it keeps happening, check the table is on-demand (PAY_PER_REQUEST) ' +
            'or raise its capacity, and look for a runaway caller.',
          { cause: error },
        );
      }
      throw error;
    }
  }

  #conflictOr(error: unknown, reason: string): unknown {
    if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') return error;
    const old = (error as Error & { Item?: Record<string, AttributeValue> }).Item;
    // The SDK returns the old item in wire format; the document client does not unmarshall errors.
    const current = old ? this.#visible(unmarshall(old)) : undefined;
    return new SessionConflictError<Session>(reason, current);
  }

  #visible(item: Record<string, unknown> | undefined): Session | undefined {
    if (!item) return undefined;
    const session = fromItem(item);
    return isExpired(session, this.#nowSeconds()) ? undefined : session;
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock.now().getTime() / 1000);
  }
}

function toItem(session: Session): Record<string, unknown> {
  const item: Record<string, unknown> = {
    ...sessionKey(session.user, session.server),
    [TABLE_KEYS.stateIndexPartitionKey]: `${keyPrefix.state}${session.state}`,
    [TABLE_KEYS.stateIndexSortKey]: `${session.updatedAt}#${session.id}`,
  };
  // Drop undefined at the top level ourselves, so a document client built without
  // removeUndefinedValues still accepts sessions with unset optional fields.
  for (const [name, value] of Object.entries(session)) {
    if (value !== undefined) item[name] = value;
  }
  return item;
}

function fromItem(item: Record<string, unknown>): Session {
  const session: Record<string, unknown> = { ...item };
  for (const name of TABLE_ONLY_ATTRIBUTES) delete session[name];
  return session as unknown as Session;
}

function isExpired(session: Session, nowSeconds: number): boolean {
  return session.expiresAt !== undefined && session.expiresAt <= nowSeconds;
}

function describeSlot(session: Session): string {
  return session.server
    ? `Server "${session.server}" of ${session.user}`
    : `The default server of ${session.user}`;
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new ValidationError(
      `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}; got ${limit}.`,
      'invalid_limit',
    );
  }
  return limit;
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Rejects anything that is not a key this store handed out for the same state. */
function decodeCursor(cursor: string, partition: string): Record<string, string> {
  const invalid = new ValidationError(
    'cursor is not one this list returned; start again without it.',
    'invalid_cursor',
  );
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalid;
  const entries = Object.entries(key);
  const expected = new Set<string>(TABLE_ONLY_ATTRIBUTES);
  if (
    entries.length !== expected.size ||
    !entries.every(([name, value]) => expected.has(name) && typeof value === 'string')
  ) {
    throw invalid;
  }
  if ((key as Record<string, string>)[TABLE_KEYS.stateIndexPartitionKey] !== partition) throw invalid;
  return key as Record<string, string>;
}
