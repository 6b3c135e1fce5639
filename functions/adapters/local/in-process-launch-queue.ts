import type { Log } from '../../core/log.ts';
import type { LaunchQueue } from '../../core/ports.ts';

export interface InProcessLaunchQueueOptions {
  /** Launches at once, at most. */
  concurrency: number;
  /**
   * Runs one launch (core/use-cases/launch-session.ts). A throw means "try again later"
   * (the launcher throws only what is worth retrying), like an SQS redelivery.
   */
  launch: (sessionId: string) => Promise<unknown>;
  log?: Log;
  /** Waits before each retry of a launch that threw; its length is the number of retries. Default 1 s, 5 s. */
  retryDelaysMs?: number[];
}

interface Job {
  sessionId: string;
  ticket: number;
  attempt: number;
}

/**
 * Local mode's launch queue (SQS and the launcher Lambda in AWS): launches wait in
 * arrival order and run `concurrency` at a time in this process. Queued only in memory,
 * which is enough: the labs are children of this process too, and a restart marks every
 * session it left behind as lost (runtime.ts). A session queued twice (a start retried
 * while its launch waits) runs once.
 */
export class InProcessLaunchQueue implements LaunchQueue {
  readonly #options: InProcessLaunchQueueOptions;
  readonly #waiting: Job[] = [];
  /** Sessions waiting or launching, so a second enqueue does not launch twice. */
  readonly #queued = new Map<string, number>();
  #running = 0;
  /** Launches waiting to be retried. */
  #delayed = 0;
  #issued = 0;
  /** Tickets handed to a launcher so far (first attempts only). */
  #taken = 0;
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(options: InProcessLaunchQueueOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
      throw new Error(
        `The launch concurrency must be a whole number of at least 1, not ${options.concurrency}.`,
      );
    this.#options = options;
  }

  async enqueue(sessionId: string): Promise<number> {
    const known = this.#queued.get(sessionId);
    if (known !== undefined) return known;
    const ticket = ++this.#issued;
    this.#queued.set(sessionId, ticket);
    this.#waiting.push({ sessionId, ticket, attempt: 0 });
    this.#pump();
    return ticket;
  }

  async ahead(ticket: number): Promise<number> {
    return Math.max(0, ticket - this.#taken - 1);
  }

  /** This queue counts what its own launchers take. */
  async taken(): Promise<void> {}

  /** Launches waiting or running now. */
  get size(): number {
    return this.#waiting.length + this.#running + this.#delayed;
  }

  /** Resolves once nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Takes no more launches (local mode is stopping); launches already running finish. */
  close(): void {
    this.#closed = true;
    this.#waiting.length = 0;
    this.#settle();
  }

  #pump(): void {
    while (!this.#closed && this.#running < this.#options.concurrency) {
      const job = this.#waiting.shift();
      if (!job) break;
      if (job.attempt === 0) this.#taken++;
      this.#running++;
      void this.#run(job);
    }
    this.#settle();
  }

  async #run(job: Job): Promise<void> {
    try {
      await this.#options.launch(job.sessionId);
      this.#queued.delete(job.sessionId);
    } catch (error) {
      const delays = this.#options.retryDelaysMs ?? [1000, 5000];
      const delay = delays[job.attempt];
      this.#options.log?.(delay === undefined ? 'error' : 'warn', 'launch failed', {
        sessionId: job.sessionId,
        attempt: job.attempt + 1,
        error: String(error),
        ...(delay === undefined ? { gaveUp: true } : { retryInMs: delay }),
      });
      if (delay === undefined || this.#closed) {
        // The reconciler fails a session that never launched, after the start timeout.
        this.#queued.delete(job.sessionId);
      } else {
        // Waits outside the queue, as a message does while invisible, holding no launch slot.
        this.#delayed++;
        setTimeout(() => {
          this.#delayed--;
          if (this.#closed) this.#queued.delete(job.sessionId);
          else this.#waiting.push({ ...job, attempt: job.attempt + 1 });
          this.#pump();
        }, delay).unref();
      }
    } finally {
      this.#running--;
      this.#pump();
    }
  }

  #settle(): void {
    if (this.size > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
