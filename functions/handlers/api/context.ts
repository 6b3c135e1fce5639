import type { OAuthStore } from '../../core/api/oauth.ts';
import type {
  EventLog,
  LaunchLinkStore,
  MachineAuthenticator,
  MachinePrincipal,
  UsageStore,
} from '../../core/api/ports.ts';
import type { ServiceTokenStore } from '../../core/api/service-tokens.ts';
import type { CoreDeps } from '../../core/deps.ts';
import type { LtiPlatforms } from '../../core/lti/ports.ts';
import type { CapacityStore, PoolCapacity } from '../../core/pool/capacity.ts';
import type { HttpApiEvent, HttpApiResult } from '../http-types.ts';

/** What the machine API handler needs; functions/wiring builds it once per process. */
export interface ApiDeps {
  core: CoreDeps;
  auth: MachineAuthenticator;
  launchLinks: LaunchLinkStore;
  usage: UsageStore;
  eventLog: EventLog;
  /** Classes announced by course platforms (POST /api/v1/capacity). */
  capacity: CapacityStore;
  /** The load balancers' room (AWS); absent locally, where no balancer bounds a class. */
  pool?: PoolCapacity;
  /** Long-lived tokens of JupyterHub services (/hub/api); absent: none are accepted. */
  serviceTokens?: ServiceTokenStore;
  /** LMS registrations for LTI 1.3 (/api/v1/lti/platforms); absent: those routes answer 403. */
  ltiPlatforms?: LtiPlatforms;
  /** Codes and access tokens of services that sign users in (HubOAuth); absent: /hub/api/oauth2 is off. */
  oauth?: OAuthStore;
  /** The deployment's public origin, e.g. https://labs.example.edu (launch links, lab URLs). */
  publicUrl: string;
  /** Where clients get tokens (Cognito: https://<domain>/oauth2/token), shown in the OpenAPI document. */
  tokenUrl?: string;
  /** How long GET .../server/progress may wait for a start before it answers (Lambda time budget). Default 20 s. */
  progressBudgetMs?: number;
  /** Poll interval of the progress stream. Default 1 s. */
  progressPollMs?: number;
}

/** One authenticated, validated request. */
export interface ApiRequest<Query = unknown, Body = unknown> {
  event: HttpApiEvent;
  principal: MachinePrincipal;
  /** Path parameters; `user` is already normalised (core/username.ts). */
  params: Record<string, string>;
  query: Query;
  body: Body;
}

export type ApiHandlerFn = (deps: ApiDeps, request: ApiRequest) => Promise<HttpApiResult>;
