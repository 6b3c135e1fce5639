import '../support/aws-calls/checked.ts';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeSink } from '../../functions/adapters/aws/eventbridge-sink.ts';
import type { LifecycleEvent } from '../../functions/core/ports.ts';

const eventsMock = mockClient(EventBridgeClient);
const event: LifecycleEvent = {
  type: 'ready',
  time: '2025-03-01T09:00:00.000Z',
  user: 'alice',
  server: '',
  sessionId: 'alice__n1',
  durationSeconds: 42,
};

function sink(log: Array<[string, unknown]> = []) {
  return new EventBridgeSink({
    events: new EventBridgeClient({}),
    eventBusName: 'hubless-dev',
    log: (m, d) => log.push([m, d]),
  });
}

describe('EventBridgeSink', () => {
  beforeEach(() => eventsMock.reset());

  describe('publish', () => {
    it('puts one event with source hubless and a detail-type per lifecycle type', async () => {
      eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
      await sink().publish(event);
      expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input).toEqual({
        Entries: [
          {
            Source: 'hubless',
            DetailType: 'hubless.session.ready',
            Detail: JSON.stringify(event),
            Time: new Date(event.time),
            EventBusName: 'hubless-dev',
          },
        ],
      });
    });

    it('sends a failed entry once more', async () => {
      eventsMock
        .on(PutEventsCommand)
        .resolvesOnce({
          FailedEntryCount: 1,
          Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
        })
        .resolves({ FailedEntryCount: 0, Entries: [{ EventId: '2' }] });
      const log: Array<[string, unknown]> = [];
      await sink(log).publish(event);
      expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(2);
      expect(log).toEqual([]);
    });

    it('logs, and does not throw, when the retry fails too or the call fails', async () => {
      eventsMock
        .on(PutEventsCommand)
        .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'down' }] });
      const log: Array<[string, unknown]> = [];
      await expect(sink(log).publish(event)).resolves.toBeUndefined();
      expect(eventsMock.commandCalls(PutEventsCommand)).toHaveLength(2);
      expect(log).toHaveLength(1);
      expect(JSON.stringify(log[0])).toContain('InternalFailure: down');

      eventsMock.reset();
      eventsMock.on(PutEventsCommand).rejects(new Error('network down'));
      await expect(sink(log).publish(event)).resolves.toBeUndefined();
      expect(log).toHaveLength(2);
    });
  });
});
