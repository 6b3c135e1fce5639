import type { CapacityBody } from '../../core/api/schemas.ts';
import { announceClass } from '../../core/pool/capacity.ts';
import type { ApiHandlerFn } from './context.ts';
import { jsonResult } from './http.ts';

/** POST /api/v1/capacity: a course platform announces a class to come. */
export const announceCapacityRoute: ApiHandlerFn = async (deps, { body, principal }) => {
  const request = body as CapacityBody;
  const answer = await announceClass(
    { store: deps.capacity, clock: deps.core.clock, pool: deps.pool },
    { client: principal.client, sessions: request.sessions, at: request.at },
  );
  return jsonResult(202, {
    sessions: answer.sessions,
    at: answer.at,
    fits: answer.fits,
    ...(answer.balancersNeeded === undefined
      ? {}
      : {
          balancers_needed: answer.balancersNeeded,
          balancers: answer.balancers,
          sessions_per_balancer: answer.sessionsPerBalancer,
        }),
    ...(answer.advice ? { advice: answer.advice } : {}),
  });
};
