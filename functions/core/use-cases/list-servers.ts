import type { CoreDeps } from '../deps.ts';
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
  for (const state of states) {
    let cursor: string | undefined;
    do {
      const page = await deps.store.listByState(state, { cursor, limit: 500 });
      sessions.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
  }
  return sessions.sort((a, b) => a.user.localeCompare(b.user) || a.server.localeCompare(b.server));
}
