import type { IdentityVerifier } from '../../adapters/identity/alb-identity.ts';
import type { LaunchLinkStore } from '../../core/api/ports.ts';
import type { CoreDeps } from '../../core/deps.ts';

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
  /** The front door's session cookie, which sign-out expires (the ALB's, split into <name>-0..N). */
  sessionCookie: string;
}
