import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EventSink, LifecycleEvent } from '../../core/ports.ts';

export interface LogEventSinkOptions {
  /** The JSON-lines file, normally <dataDir>/events.jsonl. */
  path: string;
  /** How many recent events `recent` can return. Default 1000. */
  keep?: number;
}

/**
 * Local mode's EventSink (EventBridge's stand-in): appends each lifecycle event as one
 * JSON line to a file, and keeps the last `keep` in memory for the admin page.
 * Appends are chained so lines never interleave; `publish` resolves once the line is
 * on disk.
 */
export class LogEventSink implements EventSink {
  readonly path: string;
  readonly #keep: number;
  readonly #recent: LifecycleEvent[] = [];
  #writing: Promise<unknown> = Promise.resolve();
  #dirReady: Promise<unknown> | undefined;

  constructor(options: LogEventSinkOptions) {
    this.path = options.path;
    this.#keep = options.keep ?? 1000;
  }

  async publish(event: LifecycleEvent): Promise<void> {
    this.#recent.push(event);
    if (this.#recent.length > this.#keep) this.#recent.splice(0, this.#recent.length - this.#keep);
    this.#dirReady ??= mkdir(dirname(this.path), { recursive: true });
    const line = `${JSON.stringify(event)}\n`;
    const write = this.#writing.then(async () => {
      await this.#dirReady;
      await appendFile(this.path, line, { encoding: 'utf8', mode: 0o600 });
    });
    // A failed write must not poison the chain for the next event.
    this.#writing = write.catch(() => undefined);
    await write;
  }

  /** The latest events, newest first, at most `limit`. */
  recent(limit = 50): LifecycleEvent[] {
    return this.#recent.slice(-limit).reverse();
  }
}
