import { createHash, randomUUID } from 'node:crypto';
import type { LaunchBatchResult, LaunchQueueEvent } from '../../functions/handlers/launcher.ts';
import { awsError } from './errors.ts';

/**
 * The launch queue and its Lambda event source: SendMessage puts a message on the queue;
 * the event source takes batches of `batchSize` and invokes the launcher, at most
 * `maxConcurrency` invocations at once; a message the launcher hands back (a partial
 * batch failure) or a batch whose invocation failed comes back after the visibility
 * timeout, and after `maxReceives` receives goes to the dead-letter queue. Faults: a
 * message delivered twice (SQS delivers at least once), at once or later.
 */
export interface SimSqsOptions {
  batchSize: number;
  maxConcurrency: number;
  visibilityMs: number;
  maxReceives: number;
  deliver: (event: LaunchQueueEvent) => Promise<unknown>;
}

interface Message {
  messageId: string;
  body: string;
  receives: number;
}

export class SimSqs {
  /** Probability that a delivered message is delivered once more. */
  duplicate = 0;
  readonly stats = { sent: 0, received: 0, redelivered: 0, duplicated: 0, deadLettered: 0, invocations: 0 };
  readonly deadLetters: Message[] = [];
  readonly #options: SimSqsOptions;
  readonly #visible: Message[] = [];
  #running = 0;
  #hidden = 0;
  #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(options: SimSqsOptions) {
    this.#options = options;
  }

  /** Messages not yet done with: visible, being handled, or waiting out a visibility timeout. */
  get pending(): number {
    return this.#visible.length + this.#running + this.#hidden;
  }

  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    if (operation !== 'SendMessage')
      throw awsError('UnsupportedOperation', `The simulator does not implement SQS ${operation}`);
    const body = String(input.MessageBody ?? '');
    if (!body) throw awsError('InvalidParameterValue', 'The message body must not be empty.');
    if (Buffer.byteLength(body) > 262_144) throw awsError('InvalidParameterValue', 'Message too long.');
    const message: Message = { messageId: randomUUID(), body, receives: 0 };
    this.stats.sent += 1;
    this.#visible.push(message);
    queueMicrotask(() => this.#pump());
    return { MessageId: message.messageId, MD5OfMessageBody: createHash('md5').update(body).digest('hex') };
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #pump(): void {
    while (!this.#closed && this.#running < this.#options.maxConcurrency && this.#visible.length > 0) {
      const batch = this.#visible.splice(0, this.#options.batchSize);
      this.#running += 1;
      void this.#invoke(batch).finally(() => {
        this.#running -= 1;
        this.#pump();
      });
    }
  }

  async #invoke(batch: Message[]): Promise<void> {
    for (const message of batch) {
      message.receives += 1;
      this.stats.received += 1;
      if (message.receives > 1) this.stats.redelivered += 1;
    }
    this.stats.invocations += 1;
    let failed: Set<string>;
    try {
      const result = (await this.#options.deliver({
        Records: batch.map((message) => ({
          messageId: message.messageId,
          body: message.body,
          attributes: { ApproximateReceiveCount: String(message.receives) },
        })),
      })) as LaunchBatchResult | undefined;
      failed = new Set((result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch {
      failed = new Set(batch.map((message) => message.messageId));
    }
    for (const message of batch) {
      if (failed.has(message.messageId)) this.#later(message);
      else if (Math.random() < this.duplicate) {
        // Delivered again although handled: at once (another poller) or after a while.
        this.stats.duplicated += 1;
        if (Math.random() < 0.5) this.#visible.push({ ...message });
        else this.#later({ ...message });
      }
    }
  }

  /** Back after the visibility timeout, or to the dead-letter queue after its last receive. */
  #later(message: Message): void {
    if (message.receives >= this.#options.maxReceives) {
      this.stats.deadLettered += 1;
      this.deadLetters.push(message);
      return;
    }
    this.#hidden += 1;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#hidden -= 1;
      this.#visible.push(message);
      this.#pump();
    }, this.#options.visibilityMs);
    this.#timers.add(timer);
  }
}
