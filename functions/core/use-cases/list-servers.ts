import type { CoreDeps } from '../deps.ts';
import type { SessionStore } from '../ports.ts';
import { ACTIVE_STATES, type Session, type SessionState } from '../session.ts';

export interface ListFilter {
  user?: string;
  states?: readonly SessionState[];
}

/**
 * Sessions for the admin page and the API. By user: one query. Otherwise: one state
 * index query per wanted state (all active states by default), never a scan.
 */
export async function listServers(deps: CoreDeps, filter: ListFilter = {}): Promise<Session[]> {
  const states = filter.states ?? ACTIVE_STATES;
  if (filter.user) {
    return (await deps.store.listByUser(filter.user)).filter((s) => states.includes(s.state));
  }
  const sessions: Session[] = [];
  for (const state of states) sessions.push(...(await readState(deps.store, state)));
  return sessions.sort((a, b) => a.user.localeCompare(b.user) || a.server.localeCompare(b.server));
}

/** Page size for reading the state index: large pages mean fewer round trips. */
export const STATE_PAGE_LIMIT = 500;

/**
 * Every session in `state`, read page by page from the state index (never a scan).
 * The culler reads all before acting: its own writes move items to the end of the
 * index (it is sorted by updatedAt), so acting between pages would read them twice.
 */
export async function readState(store: SessionStore, state: SessionState): Promise<Session[]> {
  const sessions: Session[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listByState(state, { limit: STATE_PAGE_LIMIT, cursor });
    sessions.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return sessions;
}
