import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { LocalLtiPlatforms } from '../adapters/local/lti-platforms.ts';
import { FileServiceTokenStore } from '../adapters/local/service-tokens.ts';
import { hmacLabTokens } from '../core/lab-tokens.ts';
import { SESSION_COOKIE } from '../local/gateway/identity-headers.ts';
import { ALB_KEYS_PATH, type IdentitySigner } from '../local/identity-signer.ts';
import { assembleDeps, type Deps, type Parts } from './recipe.ts';

/**
 * The local set of parts: the same ports as AWS, filled with local stand-ins.
 * functions/local/runtime.ts starts the processes; this module only says which parts
 * they are, and wiring/recipe.ts assembles what the handlers receive.
 */
export type LocalParts = Pick<
  Parts,
  | 'settings'
  | 'doc'
  | 'compute'
  | 'router'
  | 'homes'
  | 'launches'
  | 'directory'
  | 'events'
  | 'log'
  | 'metrics'
  | 'clock'
> & {
  /** The gateway's identity signer: labs and the portal verify what it signs. */
  signer: IdentitySigner;
  /** http://127.0.0.1:<port>: where labs and handlers fetch keys, behind the public URL. */
  gatewayOrigin: string;
  /** Where the gateway publishes ended sign-ins for labs (local/gateway/ended-sessions.ts). */
  endedSessionsFile: string;
};

export type LocalDeps = Deps;

export function buildLocalDeps(parts: LocalParts, labUi: 'lab' | 'tree'): LocalDeps {
  const { settings, signer, gatewayOrigin } = parts;
  const publicUrl = settings.local.publicUrl;
  // A new key each start, in memory only: labs never outlive the process that started them.
  const labKey = randomBytes(32);
  return assembleDeps({
    ...parts,
    labTokens: hmacLabTokens(async () => labKey),
    identity: {
      signers: [signer.signerArn],
      issuer: signer.issuer,
      clientId: signer.clientId,
      keysUrl: `${gatewayOrigin}${ALB_KEYS_PATH}`,
      publicHost: new URL(publicUrl).hostname,
      endedSessionsFile: parts.endedSessionsFile,
    },
    machineTokens: {
      issuer: signer.issuer,
      jwksUri: `${gatewayOrigin}/oidc/jwks`,
      audience: `${publicUrl}/api/v1`,
    },
    // The gateway answers /logout itself; the portal's own sign-out is the ALB's.
    // The table is on loopback: progress waits re-read it often, so the page follows the lab closely.
    portal: {
      labUi,
      logoutUrl: '/logout',
      sessionCookie: SESSION_COOKIE,
      progressWait: { timeoutMs: 20_000, intervalMs: 50 },
    },
    api: {
      publicUrl,
      tokenUrl: `${publicUrl}/oidc/token`,
      // A file under the data dir, so `hubless tokens` works with local mode stopped too.
      serviceTokens: new FileServiceTokenStore({ dataDir: resolve(settings.local.dataDir) }),
      // The same file `hubless lti` writes and every launch reads.
      ltiPlatforms: new LocalLtiPlatforms({ dataDir: resolve(settings.local.dataDir) }),
    },
  });
}
