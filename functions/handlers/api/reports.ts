import type { UsageQuery } from '../../core/api/schemas.ts';
import { recentEvents, usageReport } from '../../core/use-cases/usage.ts';
import { normaliseUsername } from '../../core/username.ts';
import type { ApiHandlerFn } from './context.ts';
import { jsonResult } from './http.ts';
import { eventView } from './present.ts';

/** GET /api/v1/usage and /api/v1/events. */

const hours = (seconds: number) => Math.round((seconds / 3600) * 100) / 100;

export const usageRoute: ApiHandlerFn = async (deps, { query }) => {
  const { from, to, user } = query as UsageQuery;
  const report = await usageReport(deps.core, deps.usage, {
    from,
    to,
    user: user === undefined ? undefined : normaliseUsername(user),
  });
  const items = report.rows.map((row) => ({
    user: row.user,
    date: row.date,
    seconds: Math.round(row.seconds),
    hours: hours(row.seconds),
    running: row.running,
  }));
  const total = report.rows.reduce((sum, row) => sum + row.seconds, 0);
  return jsonResult(200, { from, to, items, total_hours: hours(total) });
};

export const eventsRoute: ApiHandlerFn = async (deps, { query }) => {
  const { limit } = query as { limit: number };
  return jsonResult(200, { items: (await recentEvents(deps.core, deps.eventLog, limit)).map(eventView) });
};
