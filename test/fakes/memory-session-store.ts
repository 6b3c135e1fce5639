import { SessionConflictError, ValidationError } from '../../functions/core/errors.ts';
import { type Clock, type Page, type SessionStore, systemClock } from '../../functions/core/ports.ts';
import { isTerminal, type Session, type SessionState } from '../../functions/core/session.ts';

const DEFAULT_PAGE_LIMIT = 100;
const MAX_PAGE_LIMIT = 1000;

/**
 * SessionStore in memory with DynamoSessionStore's semantics, for core unit tests.
 * Each method checks and writes without awaiting in between, which makes it as atomic
 * as a conditional Put. Everything going in or out is deep-copied, so a caller that
 * mutates a session it got cannot change what is stored (as with a real database).
 */
export class MemorySessionStore implements SessionStore {
  readonly #items = new Map<string, Session>();
  readonly #clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async get(user: string, server: string): Promise<Session | undefined> {
    return this.#visible(this.#items.get(slotKey(user, server)));
  }

  async create(session: Session): Promise<Session> {
    const existing = this.#visible(this.#items.get(slotKey(session.user, session.server)));
    if (existing && !isTerminal(existing.state)) {
      throw new SessionConflictError<Session>(
        `${session.user}/${session.server} already has a session that is not stopped.`,
        existing,
      );
    }
    return this.#write({ ...session, version: 1 });
  }

  async update(next: Session, expectedVersion: number): Promise<Session> {
    const stored = this.#items.get(slotKey(next.user, next.server));
    if (!stored || stored.version !== expectedVersion || stored.id !== next.id) {
      throw new SessionConflictError<Session>(
        `Session ${next.id} changed since it was read (expected version ${expectedVersion}); read it again and retry.`,
        this.#visible(stored),
      );
    }
    return this.#write({ ...next, version: expectedVersion + 1 });
  }

  async listByState(
    state: SessionState,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<Page<Session>> {
    const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw new ValidationError(
        `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}; got ${limit}.`,
        'invalid_limit',
      );
    }
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, state);
    // Same order as the DynamoDB state index: by updatedAt, then id.
    const matching = [...this.#items.values()]
      .filter((session) => session.state === state && (after === undefined || orderKey(session) > after))
      .sort((a, b) => (orderKey(a) < orderKey(b) ? -1 : 1));
    const taken = matching.slice(0, limit);
    const items = taken.map((session) => this.#visible(session)).filter((session) => session !== undefined);
    const last = taken.at(-1);
    return matching.length > limit && last
      ? { items, cursor: encodeCursor(state, orderKey(last)) }
      : { items };
  }

  async listByUser(user: string): Promise<Session[]> {
    return [...this.#items.values()]
      .filter((session) => session.user === user)
      .map((session) => this.#visible(session))
      .filter((session) => session !== undefined);
  }

  #write(session: Session): Session {
    this.#items.set(slotKey(session.user, session.server), structuredClone(session));
    return structuredClone(session);
  }

  #visible(session: Session | undefined): Session | undefined {
    if (!session) return undefined;
    const nowSeconds = Math.floor(this.#clock.now().getTime() / 1000);
    if (session.expiresAt !== undefined && session.expiresAt <= nowSeconds) return undefined;
    return structuredClone(session);
  }
}

function slotKey(user: string, server: string): string {
  return `${user}\u0000${server}`;
}

function orderKey(session: Session): string {
  return `${session.updatedAt}#${session.id}`;
}

function encodeCursor(state: SessionState, after: string): string {
  return Buffer.from(JSON.stringify({ state, after }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, state: SessionState): string {
  try {
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      state?: unknown;
      after?: unknown;
    };
    if (decoded.state === state && typeof decoded.after === 'string') return decoded.after;
  } catch {
    // fall through to the same error as a well-formed but foreign cursor
  }
  throw new ValidationError(
    'cursor is not one this list returned; start again without it.',
    'invalid_cursor',
  );
}
