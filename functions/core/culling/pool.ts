import type { SessionStore } from '../ports.ts';
import type { Session, SessionState } from '../session.ts';

/**
 * Runs `work` over `items` with at most `concurrency` in flight and returns the results
 * in input order. `work` must not throw (the sweep wraps every item in its own
 * try/catch, so one bad lab never aborts the others).
 */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}

/** Page size for reading the state index: large pages mean fewer round trips per sweep. */
export const SWEEP_PAGE_LIMIT = 500;

/**
 * Every session in `state`, read page by page from the state index (never a scan).
 * Read all before acting: the sweep's own writes move items to the end of the index
 * (it is sorted by updatedAt), so acting between pages would read them twice.
 */
export async function readState(store: SessionStore, state: SessionState): Promise<Session[]> {
  const sessions: Session[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listByState(state, { limit: SWEEP_PAGE_LIMIT, cursor });
    sessions.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return sessions;
}
