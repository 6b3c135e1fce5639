import '../support/aws-calls/checked.ts';
import { describe, expect, it } from 'vitest';
import { AlbSlots } from '../../functions/adapters/aws/alb-slots.ts';
import { useTestDynamo } from '../support/dynamodb.ts';

const LISTENERS = [
  'arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/a/1/1',
  'arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/b/2/2',
];

describe('AlbSlots on DynamoDB Local', () => {
  const dynamo = useTestDynamo();

  describe('allocate', () => {
    it('never gives one priority to two sessions, however many allocate at once', async () => {
      const tableName = await dynamo.freshTable();
      const slots = new AlbSlots({ doc: dynamo.doc, tableName, capacityPerAlb: 40 });
      const sessions = Array.from({ length: 200 }, (_, index) => `user-${index}__n${index}`);

      const results = await Promise.all(sessions.map((sessionId) => slots.allocate(sessionId, LISTENERS)));

      const granted = results.filter((slot) => slot !== undefined);
      expect(granted).toHaveLength(80);
      expect(results.filter((slot) => slot === undefined)).toHaveLength(120);
      const keys = granted.map((slot) => `${slot.listenerArn}#${slot.priority}`);
      expect(new Set(keys).size).toBe(80);
      expect(new Set(granted.map((slot) => slot.sessionId)).size).toBe(80);
      for (const slot of granted) {
        expect(slot.priority).toBeGreaterThanOrEqual(1);
        expect(slot.priority).toBeLessThanOrEqual(40);
      }
      // What the table holds agrees with what the callers were told.
      const stored = (await Promise.all(LISTENERS.map((listener) => slots.list(listener)))).flat();
      expect(stored.map((slot) => `${slot.listenerArn}#${slot.priority}=${slot.sessionId}`).sort()).toEqual(
        granted.map((slot) => `${slot.listenerArn}#${slot.priority}=${slot.sessionId}`).sort(),
      );
    });

    it('gives a session the slot it already holds', async () => {
      const tableName = await dynamo.freshTable();
      const slots = new AlbSlots({ doc: dynamo.doc, tableName, capacityPerAlb: 5 });
      const first = await slots.allocate('alice__n1', LISTENERS);
      expect(first).toMatchObject({ listenerArn: LISTENERS[0], priority: 1 });
      expect(await slots.allocate('alice__n1', LISTENERS)).toMatchObject({
        listenerArn: LISTENERS[0],
        priority: 1,
      });
      expect(await slots.list(LISTENERS[0] as string)).toHaveLength(1);
    });
  });

  describe('release', () => {
    it('frees a slot only for the session that holds it', async () => {
      const tableName = await dynamo.freshTable();
      const slots = new AlbSlots({ doc: dynamo.doc, tableName, capacityPerAlb: 1 });
      const held = await slots.allocate('alice__n1', LISTENERS.slice(0, 1));
      if (!held) throw new Error('expected a slot');
      await slots.release({ ...held, sessionId: 'bob__n1' });
      expect(await slots.allocate('bob__n1', LISTENERS.slice(0, 1))).toBeUndefined();
      await slots.release(held);
      await slots.release(held);
      expect(await slots.allocate('bob__n1', LISTENERS.slice(0, 1))).toMatchObject({
        priority: 1,
        sessionId: 'bob__n1',
      });
    });

    it('records the target group and rule on the slot for listing', async () => {
      const tableName = await dynamo.freshTable();
      const slots = new AlbSlots({ doc: dynamo.doc, tableName, capacityPerAlb: 3 });
      const held = await slots.allocate('carol__n1', LISTENERS);
      if (!held) throw new Error('expected a slot');
      await slots.record(held, { targetGroupArn: 'arn:tg', ruleArn: 'arn:rule' });
      expect(await slots.list(held.listenerArn)).toMatchObject([
        { sessionId: 'carol__n1', priority: 1, targetGroupArn: 'arn:tg', ruleArn: 'arn:rule' },
      ]);
    });
  });
});
