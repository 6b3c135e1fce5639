/**
 * How password sign-in slows down guessing: by address, and by account.
 *
 * - **By address, always.** Each address has some failures free within a window (a class
 *   behind one NAT shares an address, and students mistype). After those, each further
 *   attempt must wait: 1 s, then 2, 4, … up to a minute, doubling with each failure. An
 *   attempt that comes too early is refused without checking the password, so it costs
 *   the attacker a request and the server nothing (no scrypt). Successes never reset it:
 *   an attacker with one account of their own must not be able to wipe the slate.
 * - **By account, for a while.** After `userLockAfter` failures within the window the
 *   account is locked for `userLockMs`: even the right password is refused, and the page
 *   says when to try again or to ask an administrator, who can lift it at once. The lock
 *   ends by itself, and failures while locked do not extend it, so an attacker cannot
 *   lock a class out for good: each lock costs `userLockAfter` counted failures, which
 *   the address throttle slows to about one a minute per address.
 *
 * The account lock is the state that matters and is kept by the caller where it survives
 * a restart (local mode: the users file); failure counts live here, in memory, bounded.
 * Unknown names are counted and locked like real accounts (in memory only), so the
 * answers never tell whether an account exists.
 */
export interface SignInLimits {
  /** Failures counted per address and per account within this window. */
  windowMs: number;
  /** Failures an address may make within the window before attempts must wait. */
  addressFreeFailures: number;
  /** The first wait after the free failures; it doubles with each further failure. */
  addressFirstDelayMs: number;
  addressMaxDelayMs: number;
  /** Failures within the window that lock an account. */
  userLockAfter: number;
  /** How long a lock lasts unless an administrator lifts it. */
  userLockMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  windowMs: 15 * 60_000,
  addressFreeFailures: 30,
  addressFirstDelayMs: 1_000,
  addressMaxDelayMs: 60_000,
  userLockAfter: 10,
  userLockMs: 15 * 60_000,
};

/** Why an attempt is refused before its password is checked, and from when it may come again. */
export type SignInRefusal = { by: 'address' | 'account'; retryAt: number };

interface Count {
  id: string;
  failures: number;
  windowStart: number;
  /** Address: no attempt before this. */
  nextAt: number;
}

/** At most this many addresses and names are remembered; the oldest are forgotten first. */
const MAX_TRACKED = 50_000;

export class SignInThrottle {
  readonly limits: SignInLimits;
  readonly #addresses = new Map<string, Count>();
  readonly #names = new Map<string, Count>();
  /** Locks of names that have no account (real accounts' locks are the caller's). */
  readonly #unknownLocks = new Map<string, number>();
  readonly #now: () => number;

  constructor(limits: Partial<SignInLimits> = {}, now: () => number = Date.now) {
    this.limits = { ...DEFAULT_SIGN_IN_LIMITS, ...limits };
    this.#now = now;
  }

  /**
   * Whether an attempt may be checked now. `accountLockedUntil`: the stored lock of the
   * account, or undefined for no lock; `null` when no account has that name.
   */
  check(
    address: string,
    name: string,
    accountLockedUntil: number | undefined | null,
  ): SignInRefusal | undefined {
    const now = this.#now();
    const count = this.#live(this.#addresses, addressKey(address), now);
    if (count && count.nextAt > now) return { by: 'address', retryAt: count.nextAt };
    const lockedUntil = accountLockedUntil === null ? this.#unknownLocks.get(name) : accountLockedUntil;
    if (lockedUntil !== undefined && lockedUntil > now) return { by: 'account', retryAt: lockedUntil };
    if (accountLockedUntil === null && lockedUntil !== undefined) this.#unknownLocks.delete(name);
    return undefined;
  }

  /**
   * Counts a wrong password. Returns the time until which the account is now locked when
   * this failure locks it (the caller stores it for a real account); undefined otherwise.
   */
  failed(address: string, name: string, accountExists: boolean): number | undefined {
    const now = this.#now();
    const { limits } = this;
    const byAddress = this.#count(this.#addresses, addressKey(address), now);
    byAddress.failures += 1;
    const over = byAddress.failures - limits.addressFreeFailures;
    if (over > 0) {
      const delay = Math.min(
        limits.addressFirstDelayMs * 2 ** Math.min(over - 1, 30),
        limits.addressMaxDelayMs,
      );
      byAddress.nextAt = now + delay;
    }
    const byName = this.#count(this.#names, name, now);
    byName.failures += 1;
    if (byName.failures < limits.userLockAfter) return undefined;
    // Locked: the count starts again, so a lock lifted early is not renewed by the next typo.
    this.#names.delete(name);
    const until = now + limits.userLockMs;
    if (!accountExists) this.#remember(this.#unknownLocks, name, until);
    return until;
  }

  /** A right password: the account's failures are forgotten (the address's are not, see above). */
  succeeded(name: string): void {
    this.#names.delete(name);
  }

  #live(map: Map<string, Count>, id: string, now: number): Count | undefined {
    const count = map.get(id);
    if (count && now - count.windowStart > this.limits.windowMs && count.nextAt <= now) {
      map.delete(id);
      return undefined;
    }
    return count;
  }

  #count(map: Map<string, Count>, id: string, now: number): Count {
    const live = this.#live(map, id, now);
    if (live) return live;
    const fresh: Count = { id, failures: 0, windowStart: now, nextAt: 0 };
    this.#remember(map, id, fresh);
    return fresh;
  }

  #remember<T>(map: Map<string, T>, id: string, value: T): void {
    // Map keeps insertion order: the first key is the oldest.
    while (map.size >= MAX_TRACKED) {
      const oldest = map.keys().next();
      if (oldest.done) break;
      map.delete(oldest.value);
    }
    map.set(id, value);
  }
}

/**
 * The unit an address is counted by: an IPv4 address as it is, an IPv6 address by its
 * /64 (one host is usually given a whole /64, and could hop between its addresses).
 */
export function addressKey(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!plain.includes(':')) return plain;
  const [head = '', tail = ''] = plain.toLowerCase().split('::');
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups = plain.includes('::')
    ? [...front, ...Array(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back]
    : front;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** "3 minutes", "45 seconds": how long until `retryAt`, rounded up, for a person to read. */
export function waitText(retryAt: number, now: number): string {
  const seconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}
