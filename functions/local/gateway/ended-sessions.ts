import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The browser sessions that have ended (signed out, or their user disabled), published
 * for labs, so an identity header signed for one of them is refused at once rather than
 * for the rest of its lifetime (120 s, as the ALB's).
 *
 * Each session signs its headers with a `sid` of its own (never the cookie's id, which
 * must not reach a lab) and `iat`. A lab could ask the gateway about every request
 * instead, but that is a round trip per request, and a lab whose gateway is restarting
 * would have to choose between refusing its owner and failing open. A file costs a lab
 * one stat() per request (it re-reads it only when it changed; containers/lab/hubless_lab/
 * identity.py EndedSessions) and works while the gateway is down. It is written by the
 * account hubless runs as, in a directory only that account can write; labs may read it
 * (it names no one: session ids are random and ended).
 *
 * `since` is this gateway's start: sessions live in the gateway's memory, so every session
 * of an earlier run has ended too, and a header issued before `since` is refused.
 * Ended sessions are dropped from the file once their last header has expired.
 */
export interface EndedSessionsFile {
  version: 1;
  /** Epoch seconds: headers issued before this belong to an earlier run's sessions. */
  since: number;
  /** Session id -> epoch seconds until which a header of it could still verify. */
  ended: Record<string, number>;
}

/** Beside the homes, like the lab package: every lab account can reach it, none can write it. */
export function endedSessionsPath(homesDir: string): string {
  return join(homesDir, '.hubless-identity', 'ended-sessions.json');
}

/** Kept past a header's expiry, for the lab's clock leeway (identity.py LEEWAY_SECONDS). */
const LEEWAY_SECONDS = 60;

export class EndedSessions {
  readonly file: string;
  readonly #now: () => number;
  #state: EndedSessionsFile;
  #writes: Promise<void> = Promise.resolve();

  constructor(file: string, now: () => number = Date.now) {
    this.file = file;
    this.#now = now;
    this.#state = { version: 1, since: Math.floor(now() / 1000), ended: {} };
  }

  /** Publishes an empty list from now on; before the gateway signs anything. */
  async start(): Promise<void> {
    // A homes dir made here is 0711 (as DirHomes makes it: passable, not listable); the
    // list's own directory 0755: labs run as other accounts and must read it; only hubless writes.
    await mkdir(dirname(dirname(this.file)), { recursive: true, mode: 0o711 });
    await mkdir(dirname(this.file), { recursive: true, mode: 0o755 });
    await chmod(dirname(this.file), 0o755);
    await this.#write();
  }

  /** Ends session `sid`, whose headers verify until `validUntil` (epoch ms); resolves once labs can see it. */
  end(sid: string, validUntil: number): Promise<void> {
    const nowSeconds = Math.floor(this.#now() / 1000);
    for (const [id, until] of Object.entries(this.#state.ended))
      if (until + LEEWAY_SECONDS < nowSeconds) delete this.#state.ended[id];
    this.#state.ended[sid] = Math.ceil(validUntil / 1000);
    return this.#write();
  }

  #write(): Promise<void> {
    const text = `${JSON.stringify(this.#state)}\n`;
    const run = this.#writes.then(async () => {
      const temp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(temp, text, { mode: 0o644 });
      await chmod(temp, 0o644);
      await rename(temp, this.file);
    });
    this.#writes = run.catch(() => undefined);
    return run;
  }
}
