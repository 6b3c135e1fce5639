import { ValidationError } from '../errors.ts';

/**
 * Cursor pagination over a list read whole (the Directory and the session lists are
 * small: one class, one deployment). The cursor is the sort key of the last item
 * returned, so pages stay stable when items are added or removed in between.
 */
export interface Paged<T> {
  items: T[];
  nextCursor?: string;
}

export function paginate<T>(
  items: T[],
  keyOf: (item: T) => string,
  page: { limit: number; cursor?: string },
): Paged<T> {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const sorted = [...items].sort((a, b) => compare(keyOf(a), keyOf(b)));
  const remaining = after === undefined ? sorted : sorted.filter((item) => compare(keyOf(item), after) > 0);
  const taken = remaining.slice(0, page.limit);
  const last = taken.at(-1);
  return remaining.length > page.limit && last
    ? { items: taken, nextCursor: encodeCursor(keyOf(last)) }
    : { items: taken };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ after: key }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof decoded.after === 'string') return decoded.after;
  } catch {
    // the same answer as a well-formed foreign cursor
  }
  throw new ValidationError(
    'cursor is not one this list returned; start again without it.',
    'invalid_cursor',
  );
}
