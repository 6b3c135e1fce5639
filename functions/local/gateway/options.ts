import type { JWK } from 'jose';
import type { GatewayRouter } from '../../adapters/local/gateway-router.ts';
import type { LocalDirectory } from '../../adapters/local/local-directory.ts';
import type { UpstreamProvider } from '../../core/config.ts';
import type { Log } from '../../core/log.ts';
import type { LtiDeps, LtiLaunch } from '../../core/lti/launch.ts';
import type { LtiToolKey } from '../../core/lti/ports.ts';
import type { Session } from '../../core/session.ts';
import type { SignInLimits } from '../../core/sign-in-throttle.ts';
import type { AlbEvent, AlbResult, HttpApiEvent, HttpApiResult } from '../../handlers/http-types.ts';
import type { IdentitySigner } from '../identity-signer.ts';
import { type EmbeddedOidc, type MachineClientConfig, OIDC_MOUNT_PATH } from '../oidc/provider.ts';
import type { ConnectionLimits } from './listener.ts';

/** What starts a gateway (server.ts) and what it gives back. */

export const HEALTH_PATH = '/.hubless/health';
export const DEFAULT_GATEWAY_CLIENT_ID = 'hubless-gateway';

/** The issuer of the embedded provider for a gateway at `publicUrl`. */
export function gatewayIssuer(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${OIDC_MOUNT_PATH}`;
}

export interface GatewayOptions {
  host?: string;
  port: number;
  /** The URL browsers use. Default http(s)://<host>:<port>. Requests naming another Host get 421. */
  publicUrl?: string;
  /** PEM certificate chain and key: the gateway serves HTTPS (Secure cookies, HSTS). */
  tls?: { cert: string; key: string };
  /** Timeouts and connection caps; defaults in listener.ts. */
  limits?: Partial<ConnectionLimits>;
  dataDir: string;
  directory: LocalDirectory;
  router: GatewayRouter;
  /**
   * Signs the identity header. Its `issuer` must be gatewayIssuer(publicUrl) and its
   * `clientId` becomes the gateway's own client id at the provider.
   */
  signer: IdentitySigner;
  portal: (event: AlbEvent) => Promise<AlbResult>;
  api?: (event: HttpApiEvent) => Promise<HttpApiResult>;
  /** Machine clients (an LMS) allowed to get API tokens with client credentials. */
  extraClients?: MachineClientConfig[];
  /** How long a browser session lasts. Default 12 hours, as the ALB's. */
  sessionTtlSeconds?: number;
  /** The school's OpenID provider for browser sign-in (HUBLESS_OIDC_ISSUER); absent: the embedded provider. */
  upstream?: UpstreamProvider;
  /** LTI 1.3 tool endpoints (/lti/login, /lti/launch, /lti/jwks); absent: not served. */
  lti?: GatewayLti;
  /** Password sign-in throttling and lockout; defaults in core/sign-in-throttle.ts. */
  signInLimits?: Partial<SignInLimits>;
  /**
   * A file where ended sessions are published, which labs read (HUBLESS_IDENTITY_ENDED_SESSIONS)
   * to refuse a signed-out session's identity headers at once (gateway/ended-sessions.ts).
   */
  endedSessionsFile?: string;
  /** Access log; gets method, path without query, and status. Default: none. */
  log?: (line: string) => void;
  /** Failures and warnings, as structured log lines (local mode's logger). Default: JSON lines. */
  report?: Log;
}

export interface Gateway {
  url: string;
  port: number;
  oidc: EmbeddedOidc;
  close(): Promise<void>;
}

/** LTI in local mode: the gateway is the tool's front door, as API Gateway is in AWS mode. */
export interface GatewayLti {
  deps: LtiDeps;
  /** Creates the user and starts their server (core/lti/enter.ts). */
  enter: (launch: LtiLaunch) => Promise<Session>;
  toolJwks: { keys: JWK[] };
  /** Signs deep linking answers (and the choice page's pending request) with the key toolJwks publishes. */
  toolKey: LtiToolKey;
}
