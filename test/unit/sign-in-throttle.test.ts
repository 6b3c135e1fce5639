import { describe, expect, it } from 'vitest';
import { addressKey, SignInThrottle, waitText } from '../../functions/core/sign-in-throttle.ts';

/** The sign-in throttle's policy on a clock the test moves. */
function throttle(limits = {}) {
  let now = 1_000_000;
  const t = new SignInThrottle(limits, () => now);
  return { t, advance: (ms: number) => (now += ms), now: () => now };
}

describe('sign-in throttle', () => {
  it('lets an address make its free failures, then doubles the wait after each one up to the cap', () => {
    const { t, advance, now } = throttle({ addressFreeFailures: 3, userLockAfter: 1000 });
    for (let i = 0; i < 3; i++) {
      expect(t.check('10.0.0.1', `u${i}`, null)).toBeUndefined();
      t.failed('10.0.0.1', `u${i}`, false);
    }
    expect(t.check('10.0.0.1', 'x', null)).toBeUndefined();
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      t.failed('10.0.0.1', `v${i}`, false);
      const refusal = t.check('10.0.0.1', 'x', null);
      expect(refusal?.by).toBe('address');
      waits.push((refusal?.retryAt ?? 0) - now());
      advance(waits.at(-1) ?? 0);
      expect(t.check('10.0.0.1', 'x', null)).toBeUndefined();
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    // Another address is not slowed down.
    t.failed('10.0.0.1', 'w', false);
    expect(t.check('10.0.0.2', 'x', null)).toBeUndefined();
  });

  it('forgets an address’s failures after the window', () => {
    const { t, advance } = throttle({ addressFreeFailures: 2, windowMs: 60_000, userLockAfter: 1000 });
    t.failed('10.0.0.1', 'a', false);
    t.failed('10.0.0.1', 'b', false);
    advance(60_001);
    t.failed('10.0.0.1', 'c', false);
    t.failed('10.0.0.1', 'd', false);
    expect(t.check('10.0.0.1', 'x', null)).toBeUndefined();
    t.failed('10.0.0.1', 'e', false);
    expect(t.check('10.0.0.1', 'x', null)?.by).toBe('address');
  });

  it('a success does not wipe the address’s failures (an attacker with one account of their own)', () => {
    const { t } = throttle({ addressFreeFailures: 2, userLockAfter: 1000 });
    t.failed('10.0.0.1', 'a', false);
    t.failed('10.0.0.1', 'b', false);
    t.succeeded('mallory');
    t.failed('10.0.0.1', 'c', false);
    expect(t.check('10.0.0.1', 'x', null)?.by).toBe('address');
  });

  it('locks an account after userLockAfter failures in the window, for userLockMs, and says until when', () => {
    const { t, now } = throttle({ userLockAfter: 3, userLockMs: 600_000, addressFreeFailures: 1000 });
    expect(t.failed('10.0.0.1', 'alice', true)).toBeUndefined();
    expect(t.failed('10.0.0.2', 'alice', true)).toBeUndefined();
    // From any address: the account is what is being guessed.
    expect(t.failed('10.0.0.3', 'alice', true)).toBe(now() + 600_000);
    // A real account's lock is the caller's to store and to pass back.
    expect(t.check('10.0.0.4', 'alice', now() + 600_000)).toEqual({
      by: 'account',
      retryAt: now() + 600_000,
    });
    expect(t.check('10.0.0.4', 'alice', undefined)).toBeUndefined();
  });

  it('starts counting afresh after a lock, so an early unlock is not undone by the next typo', () => {
    const { t } = throttle({ userLockAfter: 3, addressFreeFailures: 1000 });
    t.failed('a', 'alice', true);
    t.failed('a', 'alice', true);
    expect(t.failed('a', 'alice', true)).toBeDefined();
    expect(t.failed('a', 'alice', true)).toBeUndefined();
  });

  it('forgets an account’s failures after a success or after the window', () => {
    const { t, advance } = throttle({ userLockAfter: 3, windowMs: 60_000, addressFreeFailures: 1000 });
    t.failed('a', 'alice', true);
    t.failed('a', 'alice', true);
    t.succeeded('alice');
    t.failed('a', 'alice', true);
    t.failed('a', 'alice', true);
    advance(60_001);
    expect(t.failed('a', 'alice', true)).toBeUndefined();
  });

  it('locks a name without an account in memory, the same way, and lets the lock run out', () => {
    const { t, advance } = throttle({ userLockAfter: 2, userLockMs: 1_000, addressFreeFailures: 1000 });
    t.failed('a', 'ghost', false);
    const until = t.failed('a', 'ghost', false);
    expect(t.check('b', 'ghost', null)).toEqual({ by: 'account', retryAt: until });
    advance(1_001);
    expect(t.check('b', 'ghost', null)).toBeUndefined();
  });

  it('counts IPv6 addresses by their /64 and IPv4-mapped ones as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
  });

  it('says how long to wait in words a person reads', () => {
    expect(waitText(1_000, 0)).toBe('1 second');
    expect(waitText(45_200, 0)).toBe('46 seconds');
    expect(waitText(15 * 60_000, 0)).toBe('15 minutes');
    expect(waitText(0, 10)).toBe('1 second');
  });
});
