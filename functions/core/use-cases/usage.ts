import type { EventLog, UsageEntry, UsageStore } from '../api/ports.ts';
import { MAX_USAGE_DAYS } from '../api/schemas.ts';
import type { CoreDeps } from '../deps.ts';
import { ValidationError } from '../errors.ts';
import type { EventSink, LifecycleEvent } from '../ports.ts';
import { listServers } from './list-servers.ts';

/**
 * Server hours per user per UTC day. A stopped session is rolled up into the usage store
 * when its stop event is published (usageSink); a running one is added at read time,
 * up to now, so a report never misses the session that is still open.
 */

const DAY_MS = 86_400_000;

/** Splits [start, end) into the seconds it spends in each UTC day. */
export function splitByDay(start: Date, end: Date): { date: string; seconds: number }[] {
  const parts: { date: string; seconds: number }[] = [];
  let from = start.getTime();
  const to = end.getTime();
  while (from < to) {
    const dayEnd = Math.floor(from / DAY_MS) * DAY_MS + DAY_MS;
    const until = Math.min(dayEnd, to);
    parts.push({ date: new Date(from).toISOString().slice(0, 10), seconds: (until - from) / 1000 });
    from = until;
  }
  return parts;
}

/**
 * An EventSink that records usage when a session ends (stop or cull): the session's
 * lifetime, which lifecycle.finish puts in durationSeconds (from ready, or from the
 * request when it never became ready), split over the UTC days it spans.
 */
export function usageSink(store: UsageStore): EventSink {
  return {
    async publish(event: LifecycleEvent) {
      if ((event.type !== 'stop' && event.type !== 'cull') || !event.durationSeconds) return;
      const end = new Date(event.time);
      const start = new Date(end.getTime() - event.durationSeconds * 1000);
      for (const part of splitByDay(start, end)) {
        await store.add({
          user: event.user,
          date: part.date,
          seconds: part.seconds,
          sessionId: event.sessionId,
        });
      }
    },
  };
}

/**
 * Publishes to the primary sink (its failure is the caller's), then to each extra sink
 * (usage, event log): their failures are logged, never fail the lifecycle step that
 * published, because the session write has already happened.
 */
export function teeSink(primary: EventSink, extras: EventSink[], log?: CoreDeps['log']): EventSink {
  return {
    async publish(event) {
      await primary.publish(event);
      const results = await Promise.allSettled(extras.map((sink) => sink.publish(event)));
      for (const result of results) {
        if (result.status === 'rejected')
          log?.('error', 'event sink failed', {
            event: event.type,
            sessionId: event.sessionId,
            error: String(result.reason),
          });
      }
    },
  };
}

export interface UsageRow extends UsageEntry {
  /** The row includes time of a server that is still running. */
  running: boolean;
}

export interface UsageReport {
  from: string;
  to: string;
  rows: UsageRow[];
}

export async function usageReport(
  deps: CoreDeps,
  store: UsageStore,
  range: { from: string; to: string; user?: string },
): Promise<UsageReport> {
  const days = (Date.parse(range.to) - Date.parse(range.from)) / DAY_MS + 1;
  if (!(days >= 1))
    throw new ValidationError(
      `"from" (${range.from}) must not be after "to" (${range.to}).`,
      'invalid_range',
    );
  if (days > MAX_USAGE_DAYS)
    throw new ValidationError(
      `A report covers at most ${MAX_USAGE_DAYS} days; this one asks for ${days}.`,
      'invalid_range',
    );

  const rows = new Map<string, UsageRow>();
  const add = (entry: UsageEntry, running: boolean) => {
    if (entry.date < range.from || entry.date > range.to) return;
    const key = `${entry.date}\u0000${entry.user}`;
    const row = rows.get(key) ?? { user: entry.user, date: entry.date, seconds: 0, running: false };
    row.seconds += entry.seconds;
    row.running ||= running;
    rows.set(key, row);
  };
  for (const entry of await store.query(range)) add(entry, false);

  const now = deps.clock.now();
  const open = await listServers(deps, { user: range.user, states: ['ready', 'stopping'] });
  for (const session of open) {
    if (!session.readyAt) continue;
    for (const part of splitByDay(new Date(session.readyAt), now)) add({ user: session.user, ...part }, true);
  }
  const sorted = [...rows.values()].sort(
    (a, b) => a.date.localeCompare(b.date) || a.user.localeCompare(b.user),
  );
  return { from: range.from, to: range.to, rows: sorted };
}

export async function recentEvents(deps: CoreDeps, log: EventLog, limit: number): Promise<LifecycleEvent[]> {
  return log.recent(limit, deps.clock.now());
}
