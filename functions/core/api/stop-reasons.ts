import type { StopReason } from '../session.ts';
import type { MachinePrincipal } from './ports.ts';

/**
 * The reason recorded when an API caller stops a server: always who asked ("by"), so the
 * portal and the event log can tell a platform's stop from a service's. A service that
 * stops only idle servers (a service token made with --culls, such as
 * jupyterhub-idle-culler's) leaves an idle cull, counted and shown like hubless's own.
 */
export function apiStopReason(
  principal: MachinePrincipal,
  via: 'JupyterHub API' | 'course platform',
): StopReason {
  const owner = principal.owner ?? { kind: 'service' as const, name: principal.client };
  const by = `${owner.kind}:${owner.name}`;
  if (principal.culls)
    return { code: 'idle', message: `Stopped for inactivity by the service ${owner.name}.`, by };
  if (via === 'course platform')
    return {
      code: 'admin',
      message: `Stopped by the course platform (${principal.client}).`,
      by: `client:${principal.client}`,
    };
  return { code: 'admin', message: `Stopped through the JupyterHub API by ${owner.kind} ${owner.name}.`, by };
}
