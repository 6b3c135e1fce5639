import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { LaunchQueue } from '../../core/ports.ts';
import type { LaunchCounter } from '../dynamodb/launch-counter.ts';
import { awsCaller } from './retry.ts';

export interface SqsLaunchQueueOptions {
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  counter: LaunchCounter;
}

/** What a launch message carries: the session (the launcher reads everything else from it) and its ticket. */
export interface LaunchMessage {
  sessionId: string;
  ticket?: number;
}

const MESSAGE_VERSION = 1;

export function encodeLaunchMessage(message: LaunchMessage): string {
  return JSON.stringify({ v: MESSAGE_VERSION, ...message });
}

/** The message, or undefined for a body hubless did not write (dropped, never retried). */
export function decodeLaunchMessage(body: string): LaunchMessage | undefined {
  try {
    const parsed = JSON.parse(body) as { v?: unknown; sessionId?: unknown; ticket?: unknown };
    if (parsed.v !== MESSAGE_VERSION || typeof parsed.sessionId !== 'string' || !parsed.sessionId)
      return undefined;
    return {
      sessionId: parsed.sessionId,
      ...(typeof parsed.ticket === 'number' ? { ticket: parsed.ticket } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The launch queue on AWS: one SQS message per start (the launcher Lambda consumes them,
 * stacks/Schedules.ts), and the counters that say where a start stands
 * (dynamodb/launch-counter.ts). A standard queue: its at-least-once delivery and loose
 * order are fine, since a launch is idempotent by session; a FIFO queue's 300 sends a
 * second would cap a class start for no gain.
 */
export class SqsLaunchQueue implements LaunchQueue {
  readonly #options: SqsLaunchQueueOptions;
  readonly #call = awsCaller('Amazon SQS');

  constructor(options: SqsLaunchQueueOptions) {
    this.#options = options;
  }

  async enqueue(sessionId: string): Promise<number> {
    const { sqs, queueUrl, counter } = this.#options;
    const ticket = await counter.add('queued', 1);
    try {
      await this.#call('SendMessage', () =>
        sqs.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: encodeLaunchMessage({ sessionId, ticket }),
          }),
        ),
      );
    } catch (error) {
      // No launcher will ever take this ticket: count it out, or every later place is one too many.
      await counter.add('taken', 1).catch(() => undefined);
      throw error;
    }
    return ticket;
  }

  async ahead(ticket: number): Promise<number> {
    const { taken } = await this.#options.counter.read();
    return Math.max(0, ticket - taken - 1);
  }

  async taken(count: number): Promise<void> {
    await this.#options.counter.add('taken', count);
  }
}
