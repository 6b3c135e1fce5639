import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ServiceToken, ServiceTokenStore } from '../../core/api/service-tokens.ts';
import { SessionConflictError } from '../../core/errors.ts';
import { isConditionFailure } from './launch-link-store.ts';
import { TABLE_KEYS } from './schema.ts';

/**
 * ServiceTokenStore on the hubless table (AWS mode; the admin API writes it):
 *
 *   item kind        pk               sk             TTL
 *   service token    SERVICETOKENS    TOKEN#<id>     none (tokens live until revoked)
 *
 * One partition holds every token, so a list is one Query; a deployment has a handful.
 * Only the token's SHA-256 is stored.
 */
export const SERVICE_TOKENS_PK = 'SERVICETOKENS';
const TOKEN_PREFIX = 'TOKEN#';
const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

export class DynamoServiceTokenStore implements ServiceTokenStore {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(options: { client: Pick<DynamoDBDocumentClient, 'send'>; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async put(token: ServiceToken): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...key(token.id), ...token },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new SessionConflictError(`A service token with the id ${token.id} already exists.`, undefined);
      throw error;
    }
  }

  async get(id: string): Promise<ServiceToken | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: key(id), ConsistentRead: true }),
    );
    return result.Item ? fromItem(result.Item) : undefined;
  }

  async list(): Promise<ServiceToken[]> {
    const tokens: ServiceToken[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': SERVICE_TOKENS_PK },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      tokens.push(...(page.Items ?? []).map(fromItem));
      start = page.LastEvaluatedKey;
    } while (start);
    return tokens.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#client.send(
      new DeleteCommand({ TableName: this.#tableName, Key: key(id), ReturnValues: 'ALL_OLD' }),
    );
    return result.Attributes !== undefined;
  }
}

function key(id: string): Record<string, string> {
  return { [PK]: SERVICE_TOKENS_PK, [SK]: `${TOKEN_PREFIX}${id}` };
}

function fromItem(item: Record<string, unknown>): ServiceToken {
  const { [PK]: _pk, [SK]: _sk, ...rest } = item;
  return rest as unknown as ServiceToken;
}
