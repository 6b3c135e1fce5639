import { randomBytes } from 'node:crypto';

/**
 * The gateway's browser sessions (the ALB's AWSELBAuthSessionCookie counterpart) and
 * logins in flight. Both live in memory: a gateway restart means signing in again,
 * which the embedded provider usually completes without a password prompt only while
 * its own (also in-memory) session lives, so in practice: sign in again. Cookies carry
 * an opaque random id only; identity and tokens stay on the server.
 */
export interface BrowserSession {
  id: string;
  /**
   * Names the session in its signed identity headers (`sid`), for labs to refuse once it
   * ends. Not `id`: the cookie's value must never reach a lab.
   */
  sid: string;
  sub: string;
  username: string;
  email?: string;
  createdAt: number;
  expiresAt: number;
  /** When the directory last confirmed the user is still allowed in. */
  checkedAt: number;
  /** A signed identity header reused until shortly before it expires. */
  signed?: { value: string; renewAfter: number; expiresAt: number };
}

export interface PendingLogin {
  id: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  expiresAt: number;
}

export function randomId(): string {
  return randomBytes(32).toString('base64url');
}

/** A bounded map with expiry: anonymous traffic can create pending logins, so it must not grow without limit. */
export class ExpiringStore<T extends { id: string; expiresAt: number }> {
  readonly #items = new Map<string, T>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(id: string | undefined, now = Date.now()): T | undefined {
    if (!id) return undefined;
    const item = this.#items.get(id);
    if (item && item.expiresAt <= now) {
      this.#items.delete(id);
      return undefined;
    }
    return item;
  }

  set(item: T, now = Date.now()): void {
    if (this.#items.size >= this.#max) this.#evict(now);
    this.#items.set(item.id, item);
  }

  delete(id: string | undefined): void {
    if (id) this.#items.delete(id);
  }

  get size(): number {
    return this.#items.size;
  }

  #evict(now: number): void {
    for (const [id, item] of this.#items) if (item.expiresAt <= now) this.#items.delete(id);
    // Still full: drop the oldest (Map keeps insertion order).
    while (this.#items.size >= this.#max) {
      const oldest = this.#items.keys().next();
      if (oldest.done) break;
      this.#items.delete(oldest.value);
    }
  }
}

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function serializeCookie(
  name: string,
  value: string,
  options: { maxAge?: number; path?: string; secure?: boolean } = {},
): string {
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/'}`, 'HttpOnly', 'SameSite=Lax'];
  if (options.maxAge !== undefined) parts.push(`Max-Age=${options.maxAge}`);
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}
