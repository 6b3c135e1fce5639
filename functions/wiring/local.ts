import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoEventLog } from '../adapters/dynamodb/event-store.ts';
import { DynamoLaunchLinkStore } from '../adapters/dynamodb/launch-link-store.ts';
import { DynamoLeaseStore } from '../adapters/dynamodb/lease-store.ts';
import { DynamoSessionStore } from '../adapters/dynamodb/session-store.ts';
import { DynamoUsageStore } from '../adapters/dynamodb/usage-store.ts';
import { HttpActivityProbe } from '../adapters/http/activity-probe.ts';
import { createIdentityVerifier } from '../adapters/identity/alb-identity.ts';
import { createMachineTokenVerifier } from '../adapters/identity/machine-token.ts';
import type { Settings } from '../core/config.ts';
import { withEventMetrics } from '../core/culling/metrics.ts';
import type { CullerDeps, Metrics } from '../core/culling/ports.ts';
import type { CoreDeps } from '../core/deps.ts';
import { randomHex } from '../core/ids.ts';
import type { Compute, Directory, EventSink, Homes, Router } from '../core/ports.ts';
import { systemClock } from '../core/ports.ts';
import { teeSink, usageSink } from '../core/use-cases/usage.ts';
import type { ApiDeps } from '../handlers/api/context.ts';
import type { PortalDeps } from '../handlers/portal/routes.ts';
import type { IdentitySigner } from '../local/identity-signer.ts';
import { ALB_KEYS_PATH } from '../local/identity-signer.ts';

/**
 * The local column of DESIGN.md section 1: the same ports as AWS, filled with local
 * stand-ins. functions/local/runtime.ts starts the processes; this module only
 * assembles what the handlers receive.
 */
export interface LocalParts {
  settings: Settings;
  doc: DynamoDBDocumentClient;
  compute: Compute;
  router: Router;
  homes: Homes;
  directory: Directory;
  signer: IdentitySigner;
  /** http://127.0.0.1:<port>: where labs and handlers fetch keys, behind the public URL. */
  gatewayOrigin: string;
  /** Lifecycle events go here first (the log, tests' collectors). */
  events: EventSink;
  log: NonNullable<CoreDeps['log']>;
  /** Embedded-metric-format lines, as in AWS (stdout, or discarded when quiet). */
  metrics: Metrics;
}

export interface LocalDeps {
  core: CoreDeps;
  portal: PortalDeps;
  api: ApiDeps;
  culler: CullerDeps;
}

export function buildLocalDeps(parts: LocalParts, labUi: 'lab' | 'tree'): LocalDeps {
  const { settings, doc, signer, gatewayOrigin } = parts;
  const tableName = settings.tableName;
  const usage = new DynamoUsageStore({ client: doc, tableName });
  const eventLog = new DynamoEventLog({ client: doc, tableName });
  const launchLinks = new DynamoLaunchLinkStore({ client: doc, tableName });
  const core: CoreDeps = {
    store: new DynamoSessionStore({ client: doc, tableName }),
    compute: parts.compute,
    router: parts.router,
    homes: parts.homes,
    directory: parts.directory,
    // Every lifecycle event also feeds the usage report and the API's event list.
    events: withEventMetrics(teeSink(parts.events, [usageSink(usage), eventLog], parts.log), parts.metrics),
    clock: systemClock,
    settings,
    labEnvironment: () => ({
      HUBLESS_IDENTITY_KEYS_URL: `${gatewayOrigin}${ALB_KEYS_PATH}`,
      HUBLESS_IDENTITY_SIGNER: signer.signerArn,
      HUBLESS_IDENTITY_ISSUER: signer.issuer,
      HUBLESS_IDENTITY_CLIENT: signer.clientId,
      HUBLESS_IDLE_TIMEOUT_SECONDS: String(settings.idleTimeoutSeconds),
      // The lab's own shutdown is only a safety net for when the culler is down.
      HUBLESS_SHUTDOWN_NO_ACTIVITY_SECONDS: String(settings.idleTimeoutSeconds * 2),
    }),
    randomId: randomHex,
    log: parts.log,
  };
  const portal: PortalDeps = {
    core,
    identity: createIdentityVerifier({
      signer: signer.signerArn,
      issuer: signer.issuer,
      clientId: signer.clientId,
      keysUrl: `${gatewayOrigin}${ALB_KEYS_PATH}`,
    }),
    labUi,
    logoutUrl: '/logout',
    launchLinks,
  };
  const api: ApiDeps = {
    core,
    auth: createMachineTokenVerifier({
      directory: parts.directory,
      issuer: signer.issuer,
      jwksUri: `${gatewayOrigin}/oidc/jwks`,
      audience: `${settings.local.publicUrl}/api/v1`,
    }),
    launchLinks,
    usage,
    eventLog,
    publicUrl: settings.local.publicUrl,
    tokenUrl: `${settings.local.publicUrl}/oidc/token`,
  };
  const culler: CullerDeps = {
    ...core,
    probe: new HttpActivityProbe(),
    lease: new DynamoLeaseStore({ client: doc, tableName }),
    metrics: parts.metrics,
  };
  return { core, portal, api, culler };
}
