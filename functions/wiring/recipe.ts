import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAnnouncementStore } from '../adapters/dynamodb/announcement-store.ts';
import { DynamoCapacityStore } from '../adapters/dynamodb/capacity-store.ts';
import { DynamoEventLog } from '../adapters/dynamodb/event-store.ts';
import { DynamoLaunchLinkStore } from '../adapters/dynamodb/launch-link-store.ts';
import { DynamoLeaseStore } from '../adapters/dynamodb/lease-store.ts';
import { DynamoLtiPlatforms } from '../adapters/dynamodb/lti-platforms.ts';
import { DynamoOAuthStore } from '../adapters/dynamodb/oauth-store.ts';
import { DynamoServiceTokenStore } from '../adapters/dynamodb/service-token-store.ts';
import { DynamoSessionStore } from '../adapters/dynamodb/session-store.ts';
import { DynamoUsageStore } from '../adapters/dynamodb/usage-store.ts';
import { HttpActivityProbe } from '../adapters/http/activity-probe.ts';
import { createIdentityVerifier } from '../adapters/identity/alb-identity.ts';
import { createMachineTokenVerifier, type MachineTokenOptions } from '../adapters/identity/machine-token.ts';
import { cachedDirectory } from '../core/cached-directory.ts';
import type { Settings } from '../core/config.ts';
import { withEventMetrics } from '../core/culling/metrics.ts';
import type { CullerDeps, Metrics } from '../core/culling/ports.ts';
import type { CoreDeps } from '../core/deps.ts';
import { randomHex } from '../core/ids.ts';
import type { LabTokens } from '../core/lab-tokens.ts';
import type { Log } from '../core/log.ts';
import type {
  ActivityProbe,
  Clock,
  Compute,
  Directory,
  EventSink,
  Homes,
  LaunchQueue,
  Router,
} from '../core/ports.ts';
import { systemClock } from '../core/ports.ts';
import { teeSink, usageSink } from '../core/use-cases/usage.ts';
import type { ApiDeps } from '../handlers/api/context.ts';
import type { PortalDeps } from '../handlers/portal/context.ts';

/**
 * The one recipe that turns a set of parts into what the handlers receive. AWS
 * (wiring/aws.ts) and local mode (wiring/local.ts) differ only in the parts they bring;
 * everything assembled from them (the stores, the event tee with usage and metrics, the
 * lab's identity settings, the verifiers) is built here, the same way for both.
 */
export interface Parts {
  settings: Settings;
  /** The session table: DynamoDB, or DynamoDB Local. */
  doc: Pick<DynamoDBDocumentClient, 'send'>;
  compute: Compute;
  router: Router;
  homes: Homes;
  /**
   * Where starts leave their launches (SQS in AWS, an in-process queue locally), given the
   * core deps a launcher in this process runs launchSession with.
   */
  launches: (core: CoreDeps) => LaunchQueue;
  directory: Directory;
  /** Where lifecycle events go first (EventBridge; locally the log and the events file). */
  events: EventSink;
  log: Log;
  /** Embedded-metric-format lines (stdout; discarded when local mode is quiet). */
  metrics: Metrics;
  /** Derives each session's lab token from a key: Secrets Manager on AWS, random per start locally. */
  labTokens: LabTokens;
  /** Who signs the identity header: the ALB pool, or the local gateway. Labs and the portal verify it. */
  identity: {
    /** Load balancer ARN(s) allowed as the header's signer. */
    signers: string[];
    issuer: string;
    clientId: string;
    /** Where `<keysUrl>/<kid>` serves the public keys. */
    keysUrl: string;
    /**
     * The host name browsers reach labs by. A lab refuses any other name (an IP address
     * or localhost excepted: the control plane's own calls), so a page on an attacker's
     * name that resolves to the lab (DNS rebinding) gets nothing.
     */
    publicHost?: string;
    /** Local mode: the file of ended sign-ins labs check headers against (local/gateway/ended-sessions.ts). */
    endedSessionsFile?: string;
  };
  /** How the machine API verifies bearer tokens (a Cognito pool, or the embedded provider). */
  machineTokens: Omit<MachineTokenOptions, 'directory'>;
  portal: Pick<PortalDeps, 'labUi' | 'logoutUrl' | 'sessionCookie' | 'progressWait'>;
  /** `serviceTokens`, `ltiPlatforms` absent: the session table holds them (AWS); local mode keeps files. */
  api: Pick<ApiDeps, 'publicUrl' | 'tokenUrl' | 'serviceTokens' | 'ltiPlatforms' | 'pool'>;
  /** How the culler reads labs' activity; absent: directly over HTTP (it can reach them). */
  probe?: ActivityProbe;
  /** The control plane's clock; absent: the system's (tests move it to make a server idle). */
  clock?: Clock;
}

export interface Deps {
  core: CoreDeps;
  portal: PortalDeps;
  api: ApiDeps;
  culler: CullerDeps;
}

/** Every handler's deps at once: local mode runs all four handlers in one process. */
export function assembleDeps(parts: Parts): Deps {
  const core = coreDeps(parts);
  return {
    core,
    portal: portalDeps(parts, core),
    api: apiDeps(parts, core),
    culler: cullerDeps(parts, core),
  };
}

/*
 * One function per handler's set, so that a Lambda bundle holds only what its handler
 * uses (esbuild drops the functions an entry point never calls, and their imports).
 */

export function coreDeps(parts: Parts): CoreDeps {
  const { settings, identity } = parts;
  const { usage, eventLog } = stores(parts);
  const core: CoreDeps = {
    // Set below: a queue that launches in this process needs the deps it is part of.
    launches: undefined as unknown as LaunchQueue,
    store: new DynamoSessionStore({ client: parts.doc, tableName: settings.tableName }),
    compute: parts.compute,
    router: parts.router,
    homes: parts.homes,
    // Every portal request reads its user: reads are cached briefly per instance (and
    // forgotten on writes through it), so a class at its progress pages does not throttle Cognito.
    directory: cachedDirectory(parts.directory),
    // Every lifecycle event also feeds the usage report and the API's event list.
    events: withEventMetrics(teeSink(parts.events, [usageSink(usage), eventLog], parts.log), parts.metrics),
    clock: parts.clock ?? systemClock,
    settings,
    labEnvironment: () => ({
      HUBLESS_IDENTITY_KEYS_URL: identity.keysUrl,
      HUBLESS_IDENTITY_SIGNER: identity.signers.join(','),
      HUBLESS_IDENTITY_ISSUER: identity.issuer,
      HUBLESS_IDENTITY_CLIENT: identity.clientId,
      ...(identity.publicHost ? { HUBLESS_PUBLIC_HOST: identity.publicHost } : {}),
      ...(identity.endedSessionsFile ? { HUBLESS_IDENTITY_ENDED_SESSIONS: identity.endedSessionsFile } : {}),
      HUBLESS_IDLE_TIMEOUT_SECONDS: String(settings.idleTimeoutSeconds),
      // The lab's own shutdown is only a safety net for when the culler is down.
      HUBLESS_SHUTDOWN_NO_ACTIVITY_SECONDS: String(settings.idleTimeoutSeconds * 2),
    }),
    labTokens: parts.labTokens,
    randomId: randomHex,
    log: parts.log,
  };
  core.launches = parts.launches(core);
  return core;
}

export function portalDeps(parts: Parts, core: CoreDeps): PortalDeps {
  const { identity } = parts;
  return {
    ...parts.portal,
    core,
    identity: createIdentityVerifier({
      signer: identity.signers,
      issuer: identity.issuer,
      clientId: identity.clientId,
      keysUrl: identity.keysUrl,
    }),
    launchLinks: stores(parts).launchLinks,
    announcements: new DynamoAnnouncementStore({ client: parts.doc, tableName: parts.settings.tableName }),
    oauth: { oauth: stores(parts).oauth, serviceTokens: serviceTokenStore(parts) },
    ...(parts.settings.federation ? { federation: parts.settings.federation } : {}),
  };
}

export function apiDeps(parts: Parts, core: CoreDeps): ApiDeps {
  return {
    ...parts.api,
    ...stores(parts),
    serviceTokens: serviceTokenStore(parts),
    ltiPlatforms: ltiPlatformStore(parts),
    capacity: new DynamoCapacityStore({ client: parts.doc, tableName: parts.settings.tableName }),
    core,
    auth: createMachineTokenVerifier({ ...parts.machineTokens, directory: parts.directory }),
  };
}

export function cullerDeps(parts: Parts, core: CoreDeps): CullerDeps {
  return {
    ...core,
    probe: parts.probe ?? new HttpActivityProbe({ labTokens: core.labTokens }),
    lease: new DynamoLeaseStore({ client: parts.doc, tableName: parts.settings.tableName }),
    metrics: parts.metrics,
  };
}

/** Service tokens: local mode's file when given, else the session table (AWS). */
function serviceTokenStore(parts: Parts) {
  return (
    parts.api.serviceTokens ??
    new DynamoServiceTokenStore({ client: parts.doc, tableName: parts.settings.tableName })
  );
}

/** LMS registrations: local mode's file when given, else the session table (AWS). */
export function ltiPlatformStore(parts: Pick<Parts, 'api' | 'doc' | 'settings'>) {
  return (
    parts.api.ltiPlatforms ??
    new DynamoLtiPlatforms({ client: parts.doc, tableName: parts.settings.tableName })
  );
}

/** The API's stores in the session table (thin wrappers: one set per caller is fine). */
function stores({ doc: client, settings }: Parts) {
  const tableName = settings.tableName;
  return {
    usage: new DynamoUsageStore({ client, tableName }),
    eventLog: new DynamoEventLog({ client, tableName }),
    launchLinks: new DynamoLaunchLinkStore({ client, tableName }),
    oauth: new DynamoOAuthStore({ client, tableName }),
  };
}
