import type { AlbEvent, AlbResult } from './http-types.ts';
import type { PortalDeps } from './portal/context.ts';
import { routePortal } from './portal/routes.ts';

export type { PortalDeps } from './portal/context.ts';

/**
 * The portal behind the ALB's default action (AWS) or the local gateway: sign-in
 * landing, home, progress, admin. Identity comes from the ALB-signed header.
 */
export function makePortalHandler(deps: PortalDeps): (event: AlbEvent) => Promise<AlbResult> {
  return (event) => routePortal(deps, event);
}
