import type { IdentityVerifier } from '../../adapters/identity/alb-identity.ts';
import type { AnnouncementStore } from '../../core/announcements.ts';
import type { OAuthDeps } from '../../core/api/oauth.ts';
import type { LaunchLinkStore } from '../../core/api/ports.ts';
import type { CoreDeps } from '../../core/deps.ts';
import type { FederationPolicy } from '../../core/federation.ts';
import type { AlbEvent, AlbResult } from '../http-types.ts';
import type { PageUser } from './views.ts';

/** What the portal handler needs; functions/wiring builds it once per process. */
export interface PortalDeps {
  core: CoreDeps;
  identity: IdentityVerifier;
  /** 'lab' where JupyterLab runs (the container), 'tree' for jupyter-server + nbclassic. */
  labUi: 'lab' | 'tree';
  /** Where "Sign out" ends the identity provider's session (Cognito's /logout); local: the gateway's own. */
  logoutUrl?: string;
  /** Where LMS launch links (GET /launch?token=…) are redeemed. */
  launchLinks?: LaunchLinkStore;
  /** Where the administrators' announcement is kept; absent: pages show none and it cannot be set. */
  announcements?: AnnouncementStore;
  /** Where services that sign users in (HubOAuth) are registered and their codes kept. */
  oauth?: OAuthDeps;
  /**
   * AWS mode: how the user pool's federated users map to hubless names, to say why an
   * unlinked one is refused (core explainUnlinked); absent: no identity providers.
   */
  federation?: FederationPolicy;
  /** The front door's session cookie, which sign-out expires (the ALB's, split into <name>-0..N). */
  sessionCookie: string;
  /** How a progress request waits for a change (routes.ts PROGRESS_WAIT when absent). */
  progressWait?: { timeoutMs: number; intervalMs: number };
}

/** One portal request: the event and who sent it (checked against the directory). */
export interface PortalRequest {
  event: AlbEvent;
  user: PageUser & { groups: string[]; profile?: string };
}

export type PortalRoute = (deps: PortalDeps, request: PortalRequest) => Promise<AlbResult>;
