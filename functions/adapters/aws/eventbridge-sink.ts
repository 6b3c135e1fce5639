import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { EventSink, LifecycleEvent } from '../../core/ports.ts';
import { JsonLogger } from '../log/json-logger.ts';
import { type AwsCaller, awsCaller } from './retry.ts';

export const EVENT_SOURCE = 'hubless';

export interface EventBridgeSinkConfig {
  events: Pick<EventBridgeClient, 'send'>;
  /** Bus name or ARN; the account's default bus when absent. */
  eventBusName?: string;
  log?: (message: string, data: unknown) => void;
}

/**
 * Lifecycle events (start, ready, stop, cull, fail) on EventBridge, source "hubless",
 * detail-type "hubless.session.<type>", for dashboards and course tooling.
 * Best effort by contract: publishing never fails a user's start or stop. Entries that
 * PutEvents reports as failed are sent once more, then logged; any other failure is logged.
 */
export class EventBridgeSink implements EventSink {
  readonly #events: Pick<EventBridgeClient, 'send'>;
  readonly #bus: string | undefined;
  readonly #call: AwsCaller;
  readonly #log: (message: string, data: unknown) => void;

  constructor(config: EventBridgeSinkConfig) {
    this.#events = config.events;
    this.#bus = config.eventBusName;
    this.#call = awsCaller('Amazon EventBridge');
    const fallback = new JsonLogger().log;
    this.#log = config.log ?? ((message, data) => fallback('warn', message, data as Record<string, unknown>));
  }

  async publish(event: LifecycleEvent): Promise<void> {
    const entry: PutEventsRequestEntry = {
      Source: EVENT_SOURCE,
      DetailType: `hubless.session.${event.type}`,
      Detail: JSON.stringify(event),
      Time: new Date(event.time),
    };
    if (this.#bus) entry.EventBusName = this.#bus;
    try {
      let pending = [entry];
      for (let attempt = 0; attempt < 2 && pending.length > 0; attempt += 1) {
        const batch = pending;
        const response = await this.#call('EventBridge PutEvents', () =>
          this.#events.send(new PutEventsCommand({ Entries: batch })),
        );
        if (!response.FailedEntryCount) return;
        // Results line up with the request entries; a failed one carries an ErrorCode.
        const failed = batch.filter((_, index) => response.Entries?.[index]?.ErrorCode);
        if (attempt === 1 || failed.length === 0) {
          this.#log('EventBridge did not accept lifecycle events', {
            event,
            errors: response.Entries?.filter((result) => result.ErrorCode).map(
              (result) => `${result.ErrorCode}: ${result.ErrorMessage}`,
            ),
          });
          return;
        }
        pending = failed;
      }
    } catch (error) {
      this.#log('could not publish a lifecycle event', { event, error: String(error) });
    }
  }
}
