import { type Clock, systemClock } from '../ports.ts';
import type { LeaseStore } from './ports.ts';

/** LeaseStore in one process's memory: for tests, and for a single local process without DynamoDB. */
export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, { holder: string; expiresAt: number }>();
  readonly #clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async acquire(name: string, holder: string, ttlSeconds: number): Promise<boolean> {
    const now = this.#clock.now().getTime();
    const current = this.#leases.get(name);
    if (current && current.holder !== holder && current.expiresAt > now) return false;
    this.#leases.set(name, { holder, expiresAt: now + ttlSeconds * 1000 });
    return true;
  }

  async release(name: string, holder: string): Promise<void> {
    if (this.#leases.get(name)?.holder === holder) this.#leases.delete(name);
  }
}
