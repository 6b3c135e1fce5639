import type { LtiLogin, LtiReplayGuard } from './ports.ts';

/**
 * LtiReplayGuard in memory, for one process (local mode, tests). Bounded: anonymous
 * traffic can start logins, so expired entries are dropped and the oldest go first when full.
 */
export class MemoryLtiReplayGuard implements LtiReplayGuard {
  readonly #logins = new Map<string, LtiLogin>();
  readonly #nonces = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { max?: number; now?: () => number } = {}) {
    this.#max = options.max ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  async putLogin(login: LtiLogin): Promise<void> {
    this.#prune(this.#logins, (entry) => entry.expiresAt);
    this.#logins.set(login.state, login);
  }

  async takeLogin(state: string): Promise<LtiLogin | undefined> {
    const login = this.#logins.get(state);
    this.#logins.delete(state);
    return login && login.expiresAt > this.#now() ? login : undefined;
  }

  async claimNonce(nonce: string, expiresAt: number): Promise<boolean> {
    const seen = this.#nonces.get(nonce);
    if (seen !== undefined && seen > this.#now()) return false;
    this.#prune(this.#nonces, (entry) => entry);
    this.#nonces.set(nonce, expiresAt);
    return true;
  }

  #prune<T>(map: Map<string, T>, expiry: (entry: T) => number): void {
    if (map.size < this.#max) return;
    const now = this.#now();
    for (const [key, entry] of map) if (expiry(entry) <= now) map.delete(key);
    while (map.size >= this.#max) {
      const oldest = map.keys().next();
      if (oldest.done) break;
      map.delete(oldest.value);
    }
  }
}
