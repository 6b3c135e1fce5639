import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { LtiPlatform, LtiPlatforms } from '../../core/lti/ports.ts';
import { TABLE_KEYS } from './schema.ts';

/**
 * LMS registrations for LTI 1.3 on the hubless table (AWS mode; the admin API writes it,
 * every launch reads it):
 *
 *   item kind         pk              sk                                 TTL
 *   LTI registration  LTIPLATFORMS    PLATFORM#<issuer> <client id>      none
 *
 * Both parts of the sort key are percent-encoded, so an issuer or client id holding the
 * separator cannot collide with another registration. One partition holds them all: a
 * deployment has a handful of LMSes, and a list is one Query.
 */
export const LTI_PLATFORMS_PK = 'LTIPLATFORMS';
const PLATFORM_PREFIX = 'PLATFORM#';
const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

export class DynamoLtiPlatforms implements LtiPlatforms {
  readonly #client: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #tableName: string;

  constructor(options: { client: Pick<DynamoDBDocumentClient, 'send'>; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async list(): Promise<LtiPlatform[]> {
    const platforms: LtiPlatform[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': LTI_PLATFORMS_PK },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      platforms.push(...(page.Items ?? []).map(fromItem));
      start = page.LastEvaluatedKey;
    } while (start);
    return platforms;
  }

  async get(issuer: string, clientId: string): Promise<LtiPlatform | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: key(issuer, clientId), ConsistentRead: true }),
    );
    return result.Item ? fromItem(result.Item) : undefined;
  }

  async put(platform: LtiPlatform): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { ...key(platform.issuer, platform.clientId), ...platform },
      }),
    );
  }

  async remove(issuer: string, clientId: string): Promise<boolean> {
    const result = await this.#client.send(
      new DeleteCommand({ TableName: this.#tableName, Key: key(issuer, clientId), ReturnValues: 'ALL_OLD' }),
    );
    return result.Attributes !== undefined;
  }
}

function key(issuer: string, clientId: string): Record<string, string> {
  return {
    [PK]: LTI_PLATFORMS_PK,
    [SK]: `${PLATFORM_PREFIX}${encodeURIComponent(issuer)} ${encodeURIComponent(clientId)}`,
  };
}

function fromItem(item: Record<string, unknown>): LtiPlatform {
  const { [PK]: _pk, [SK]: _sk, ...rest } = item;
  return rest as unknown as LtiPlatform;
}
