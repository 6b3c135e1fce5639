import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { keyPrefix } from '../dynamodb/schema.ts';
import { type AwsCaller, awsCaller, awsErrorName } from './retry.ts';

/** ALB's default quota of listener rules per load balancer (Service Quotas: "Rules per Application Load Balancer"). */
export const DEFAULT_ALB_RULES_QUOTA = 100;

/**
 * Live sessions per ALB under a rules quota. Each session takes two listener rules, its
 * page rule and its API rule (AlbRouter), beside the portal's catch-all rule, and one
 * target group, of which an ALB holds 100 (a hard limit; 5 kept spare): at the default
 * quota, (100 - 1) / 2 = 49.
 */
export function sessionsPerAlb(rulesQuota: number = DEFAULT_ALB_RULES_QUOTA): number {
  return Math.max(1, Math.min(95, Math.floor((rulesQuota - 1) / 2)));
}

export const DEFAULT_CAPACITY_PER_ALB = sessionsPerAlb();

export interface Slot {
  listenerArn: string;
  priority: number;
  sessionId: string;
  targetGroupArn?: string;
  ruleArn?: string;
  apiRuleArn?: string;
  createdAt?: string;
}

export interface AlbSlotsOptions {
  doc: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  capacityPerAlb?: number;
  now?: () => Date;
  /** Picks a free priority after a lost race. */
  random?: () => number;
}

/**
 * Listener-rule priorities as rows in the hubless table (pk SLOT#<listenerArn>,
 * sk PRIORITY#<5 digits>). A slot is taken by a conditional put
 * (attribute_not_exists(pk)), so two sessions can never hold one priority, whatever the
 * concurrency: DynamoDB decides, not the listener (CreateRule would also refuse a used
 * priority, but only after a target group was made for nothing).
 */
export class AlbSlots {
  readonly #doc: Pick<DynamoDBDocumentClient, 'send'>;
  readonly #table: string;
  readonly #call: AwsCaller;
  readonly #now: () => Date;
  readonly #random: () => number;
  readonly capacityPerAlb: number;

  constructor(options: AlbSlotsOptions) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.#call = awsCaller('Amazon DynamoDB');
    this.#now = options.now ?? (() => new Date());
    this.#random = options.random ?? Math.random;
    this.capacityPerAlb = options.capacityPerAlb ?? DEFAULT_CAPACITY_PER_ALB;
  }

  /** Every slot held on one listener (one consistent Query). */
  async list(listenerArn: string): Promise<Slot[]> {
    const slots: Slot[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#call('DynamoDB Query', () =>
        this.#doc.send(
          new QueryCommand({
            TableName: this.#table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': `${keyPrefix.slot}${listenerArn}` },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of page.Items ?? []) slots.push(slotFromItem(item, listenerArn));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return slots;
  }

  /** The slot a session holds on any of these listeners, if any. */
  async find(sessionId: string, listenerArns: string[]): Promise<Slot | undefined> {
    for (const listenerArn of listenerArns) {
      const held = (await this.list(listenerArn)).find((slot) => slot.sessionId === sessionId);
      if (held) return held;
    }
    return undefined;
  }

  /**
   * Takes a free slot for the session: listeners in order; on each, read the held slots
   * with one Query and claim the lowest free priority with a conditional put. A lost race
   * re-reads the listener and claims a random free one instead (every loss means another
   * session won a slot, so this ends; random picks keep a burst of starts from all
   * fighting over the same next priority). Returns the session's existing slot if it
   * has one, and undefined when every listener is full.
   */
  async allocate(sessionId: string, listenerArns: string[]): Promise<Slot | undefined> {
    for (const listenerArn of listenerArns) {
      for (let attempt = 0; attempt <= this.capacityPerAlb + 10; attempt += 1) {
        const held = await this.list(listenerArn);
        const mine = held.find((slot) => slot.sessionId === sessionId);
        if (mine) return mine;
        const used = new Set(held.map((slot) => slot.priority));
        const free: number[] = [];
        for (let priority = 1; priority <= this.capacityPerAlb; priority += 1)
          if (!used.has(priority)) free.push(priority);
        if (free.length === 0) break;
        const index = attempt === 0 ? 0 : Math.floor(this.#random() * free.length);
        const priority = free[index] ?? free[0] ?? 1;
        if (await this.#claim(listenerArn, priority, sessionId)) return { listenerArn, priority, sessionId };
      }
    }
    return undefined;
  }

  async #claim(listenerArn: string, priority: number, sessionId: string): Promise<boolean> {
    try {
      await this.#call('DynamoDB PutItem', () =>
        this.#doc.send(
          new PutCommand({
            TableName: this.#table,
            Item: {
              ...slotKey(listenerArn, priority),
              listenerArn,
              priority,
              sessionId,
              createdAt: this.#now().toISOString(),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      return true;
    } catch (error) {
      if (awsErrorName(error) === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Records what was built on the slot, so a route can be found from the table alone. */
  async record(
    slot: Slot,
    arns: { targetGroupArn?: string; ruleArn?: string; apiRuleArn?: string },
  ): Promise<void> {
    const names: string[] = [];
    const values: Record<string, unknown> = { ':session': slot.sessionId };
    if (arns.targetGroupArn) {
      names.push('targetGroupArn = :tg');
      values[':tg'] = arns.targetGroupArn;
    }
    if (arns.ruleArn) {
      names.push('ruleArn = :rule');
      values[':rule'] = arns.ruleArn;
    }
    if (arns.apiRuleArn) {
      names.push('apiRuleArn = :apiRule');
      values[':apiRule'] = arns.apiRuleArn;
    }
    if (names.length === 0) return;
    await this.#call('DynamoDB UpdateItem', () =>
      this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: slotKey(slot.listenerArn, slot.priority),
          UpdateExpression: `SET ${names.join(', ')}`,
          ConditionExpression: 'sessionId = :session',
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /**
   * Frees a slot, only if it still belongs to this session (a slot freed and retaken by
   * another session in between must not be freed twice). Freeing a free slot is a no-op.
   */
  async release(slot: Pick<Slot, 'listenerArn' | 'priority' | 'sessionId'>): Promise<void> {
    try {
      await this.#call('DynamoDB DeleteItem', () =>
        this.#doc.send(
          new DeleteCommand({
            TableName: this.#table,
            Key: slotKey(slot.listenerArn, slot.priority),
            ConditionExpression: 'sessionId = :session',
            ExpressionAttributeValues: { ':session': slot.sessionId },
          }),
        ),
      );
    } catch (error) {
      if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
  }

  /**
   * Hands a slot to a placeholder owner so nobody allocates it again: used when the
   * listener already has a rule at that priority that hubless did not make.
   */
  async quarantine(slot: Pick<Slot, 'listenerArn' | 'priority' | 'sessionId'>): Promise<void> {
    try {
      await this.#call('DynamoDB UpdateItem', () =>
        this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: slotKey(slot.listenerArn, slot.priority),
            UpdateExpression: 'SET sessionId = :blocked',
            ConditionExpression: 'sessionId = :session',
            ExpressionAttributeValues: { ':session': slot.sessionId, ':blocked': QUARANTINED },
          }),
        ),
      );
    } catch (error) {
      if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
  }
}

/** The owner of a slot whose priority a foreign rule occupies. Never a session id (it has no "_"). */
export const QUARANTINED = '#foreign-rule';

export function slotKey(listenerArn: string, priority: number): { pk: string; sk: string } {
  return {
    pk: `${keyPrefix.slot}${listenerArn}`,
    sk: `${keyPrefix.priority}${String(priority).padStart(5, '0')}`,
  };
}

function slotFromItem(item: Record<string, unknown>, listenerArn: string): Slot {
  const priority =
    typeof item.priority === 'number'
      ? item.priority
      : Number(String(item.sk).slice(keyPrefix.priority.length));
  return {
    listenerArn,
    priority,
    sessionId: String(item.sessionId),
    targetGroupArn: typeof item.targetGroupArn === 'string' ? item.targetGroupArn : undefined,
    ruleArn: typeof item.ruleArn === 'string' ? item.ruleArn : undefined,
    apiRuleArn: typeof item.apiRuleArn === 'string' ? item.apiRuleArn : undefined,
    createdAt: typeof item.createdAt === 'string' ? item.createdAt : undefined,
  };
}
