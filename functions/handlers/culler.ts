import type { CullerDeps } from '../core/culling/ports.ts';
import { type CullRun, cullServers } from '../core/use-cases/cull.ts';

/**
 * The idle culler (EventBridge schedule in AWS, a timer in local mode): one sweep and
 * reconciliation per invocation. The schedule's event carries nothing we need.
 */
export function makeCullerHandler(deps: CullerDeps) {
  return async (): Promise<CullRun> => {
    const run = await cullServers(deps);
    deps.log?.('info', 'culler run', { ...run });
    return run;
  };
}
