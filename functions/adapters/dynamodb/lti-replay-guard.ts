import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { LtiLogin, LtiReplayGuard } from '../../core/lti/ports.ts';
import { isConditionFailure } from './launch-link-store.ts';
import { TABLE_KEYS } from './schema.ts';

/**
 * LtiReplayGuard on the hubless table (AWS mode: the login and launch requests of one
 * student may reach different Lambda instances, so memory cannot hold them):
 *
 *   item kind           pk                          sk      TTL (expiresAt, seconds)
 *   login in progress   LTILOGIN#<sha256(state)>    LOGIN   the login's expiry
 *   used nonce          LTINONCE#<sha256(nonce)>    NONCE   the id_token's expiry
 *
 * States and nonces arrive from browsers: hashing bounds the key's size whatever was sent.
 * A state is taken with a delete that returns the old item, a nonce claimed with a put
 * conditional on no unexpired claim, so each works once even when two requests race.
 * TTL deletes late, so both compare the expiry themselves.
 */
const LOGIN_PREFIX = 'LTILOGIN#';
const NONCE_PREFIX = 'LTINONCE#';
const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_KEYS;

export class DynamoLtiReplayGuard implements LtiReplayGuard {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;
  readonly #now: () => number;

  constructor(options: {
    client: Pick<DynamoDBDocumentClient, 'send'>;
    tableName: string;
    now?: () => number;
  }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? Date.now;
  }

  async putLogin(login: LtiLogin): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          [PK]: `${LOGIN_PREFIX}${hash(login.state)}`,
          [SK]: 'LOGIN',
          [TTL]: Math.ceil(login.expiresAt / 1000),
          // The table's TTL attribute is in seconds; the login keeps its own milliseconds.
          login,
        },
      }),
    );
  }

  async takeLogin(state: string): Promise<LtiLogin | undefined> {
    let result: { Attributes?: Record<string, unknown> };
    try {
      result = await this.#client.send(
        new DeleteCommand({
          TableName: this.#tableName,
          Key: { [PK]: `${LOGIN_PREFIX}${hash(state)}`, [SK]: 'LOGIN' },
          // Conditional, so two racing deletes cannot both read the item back.
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
          ReturnValues: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
    const login = result.Attributes?.login as LtiLogin | undefined;
    return login && login.expiresAt > this.#now() ? login : undefined;
  }

  async claimNonce(nonce: string, expiresAt: number): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { [PK]: `${NONCE_PREFIX}${hash(nonce)}`, [SK]: 'NONCE', [TTL]: Math.ceil(expiresAt / 1000) },
          // Free when never claimed, or when the last claim's token has expired (TTL is late).
          ConditionExpression: 'attribute_not_exists(#pk) OR #ttl <= :now',
          ExpressionAttributeNames: { '#pk': PK, '#ttl': TTL },
          ExpressionAttributeValues: { ':now': Math.floor(this.#now() / 1000) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

function hash(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
