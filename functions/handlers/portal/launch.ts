import type { LaunchLinkStore } from '../../core/api/ports.ts';
import { redeemLaunchLink } from '../../core/use-cases/launch-links.ts';
import { queryParam, redirect } from '../http.ts';
import type { AlbEvent, AlbResult } from '../http-types.ts';
import type { PortalDeps } from './context.ts';

/**
 * GET /launch?token=… — where a course platform's launch link lands. The front door has
 * already made the student sign in (no password ever travels in the link). The link is
 * checked and used once (core/use-cases/launch-links.ts); the server starts with the
 * link's path, and /spawn-pending opens the lab there when it is ready (labUrl).
 *
 * Errors (unknown, used, expired link; a link for another user) are LaunchLinkErrors
 * that the portal's error handling shows as a page with the reason and what to do.
 */
export type LaunchRoute = (
  deps: PortalDeps,
  request: { event: AlbEvent; user: { name: string; admin: boolean; groups: string[] } },
) => Promise<AlbResult>;

export function launchRoute(links: LaunchLinkStore): LaunchRoute {
  return async (deps, { event, user }) => {
    await redeemLaunchLink(deps.core, links, {
      token: queryParam(event, 'token'),
      user: user.name,
      groups: user.groups,
    });
    return redirect('/spawn-pending', 303);
  };
}
