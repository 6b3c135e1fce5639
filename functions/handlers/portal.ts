import middy from '@middy/core';
import { getPortalDeps } from '../wiring/aws.ts';
import type { AlbEvent, AlbResult } from './http-types.ts';
import { type PortalDeps, routePortal } from './portal/routes.ts';

/**
 * The portal behind the ALB's default action (AWS) or the local gateway: sign-in
 * landing, home, progress, admin. Identity comes from the ALB-signed header.
 */
export function makePortalHandler(deps: PortalDeps): (event: AlbEvent) => Promise<AlbResult> {
  return (event) => routePortal(deps, event);
}

export const handler = middy<AlbEvent, AlbResult>().handler(async (event) =>
  routePortal(await getPortalDeps(), event),
);
