import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { OAuthAccessToken, OAuthCode, OAuthStore } from '../../core/api/oauth.ts';
import { SessionConflictError } from '../../core/errors.ts';
import { isConditionFailure } from './launch-link-store.ts';
import { TABLE_KEYS } from './schema.ts';

/**
 * OAuthStore on the hubless table (both modes: codes and tokens are made while hubless
 * runs, by whichever instance the request reached):
 *
 *   item kind            pk                        sk       TTL
 *   authorization code   OAUTHCODE#<sha256(code)>  CODE     expiresAt
 *   access token         OAUTHTOKEN#<id>           TOKEN    expiresAt
 *
 * Read by key only. TTL deletes late, so conditions and callers compare expiresAt.
 */
export const OAUTH_CODE_PREFIX = 'OAUTHCODE#';
export const OAUTH_TOKEN_PREFIX = 'OAUTHTOKEN#';
const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

export class DynamoOAuthStore implements OAuthStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(options: { client: Pick<DynamoDBDocumentClient, 'send'>; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  putCode(code: OAuthCode): Promise<void> {
    return this.#putNew(codeKey(code.codeHash), code, 'An OAuth code with this hash already exists.');
  }

  async getCode(codeHash: string): Promise<OAuthCode | undefined> {
    return (await this.#get(codeKey(codeHash))) as OAuthCode | undefined;
  }

  async useCode(
    codeHash: string,
    accessTokenId: string,
    usedAt: string,
    nowSeconds: number,
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: codeKey(codeHash),
          UpdateExpression: 'SET #usedAt = :usedAt, #token = :token',
          // Single use under concurrency: only the first exchange finds usedAt absent.
          ConditionExpression:
            'attribute_exists(#pk) AND attribute_not_exists(#usedAt) AND #expiresAt > :now',
          ExpressionAttributeNames: {
            '#pk': PK,
            '#usedAt': 'usedAt',
            '#token': 'accessTokenId',
            '#expiresAt': TABLE_KEYS.ttlAttribute,
          },
          ExpressionAttributeValues: { ':usedAt': usedAt, ':token': accessTokenId, ':now': nowSeconds },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  putToken(token: OAuthAccessToken): Promise<void> {
    return this.#putNew(tokenKey(token.id), token, `An OAuth token with the id ${token.id} already exists.`);
  }

  async getToken(id: string): Promise<OAuthAccessToken | undefined> {
    return (await this.#get(tokenKey(id))) as OAuthAccessToken | undefined;
  }

  async deleteToken(id: string): Promise<void> {
    await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: tokenKey(id) }));
  }

  async #putNew(key: Record<string, string>, value: object, conflict: string): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...key, ...withoutUndefined(value) },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new SessionConflictError(conflict, undefined);
      throw error;
    }
  }

  async #get(key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: key, ConsistentRead: true }),
    );
    if (!result.Item) return undefined;
    const { [PK]: _pk, [SK]: _sk, ...rest } = result.Item;
    return rest;
  }
}

function codeKey(codeHash: string): Record<string, string> {
  return { [PK]: `${OAUTH_CODE_PREFIX}${codeHash}`, [SK]: 'CODE' };
}

function tokenKey(id: string): Record<string, string> {
  return { [PK]: `${OAUTH_TOKEN_PREFIX}${id}`, [SK]: 'TOKEN' };
}

function withoutUndefined(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
