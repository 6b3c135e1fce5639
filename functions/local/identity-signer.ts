import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { DataFileError, parseDataFile } from '../adapters/local/data-file.ts';

/**
 * The local gateway's stand-in for the ALB's token signer. It signs the
 * `x-amzn-oidc-data` header exactly as an ALB with `authenticate-cognito` does:
 * ES256, with `kid`, `signer` (an ALB ARN), `iss`, `client` and `exp` in the JWT header,
 * and the public key served as a PEM at `<keysUrl>/<kid>`. Labs and handlers then verify
 * with the same code in both modes (aws-jwt-verify's AlbJwtVerifier, PyJWT in the lab).
 *
 * The key is persisted so that a restarted gateway keeps the same kid: running labs
 * cache the key by kid and must not start refusing their owner after a restart.
 */

/**
 * aws-jwt-verify only accepts signer ARNs whose region looks like `xx-name-1`, so the
 * local ARN uses the made-up region `zz-local-1`, which no AWS partition has.
 */
export const LOCAL_SIGNER_ARN =
  'arn:aws:elasticloadbalancing:zz-local-1:000000000000:loadbalancer/app/hubless-local/0000000000000000';

/** Where the gateway serves the verification keys, under its own origin. */
export const ALB_KEYS_PATH = '/.hubless/alb-keys';

export interface IdentityClaims {
  sub: string;
  username: string;
  email?: string;
  /** The browser session it was signed for, so labs can refuse it once that ends (gateway/ended-sessions.ts). */
  sid?: string;
}

export interface IdentitySigner {
  /** A UUID v4, as the ALB's key ids are (aws-jwt-verify refuses any other shape). */
  kid: string;
  /** SPKI PEM of the public key, what `GET <keysUrl>/<kid>` answers. */
  publicKeyPem: string;
  signerArn: string;
  issuer: string;
  clientId: string;
  /** A signed `x-amzn-oidc-data` value that expires after `ttlSeconds` (the ALB uses 120 s). */
  sign(claims: IdentityClaims, ttlSeconds?: number): Promise<string>;
}

interface StoredKey {
  kid: string;
  privateJwk: JWK;
  publicKeyPem: string;
  createdAt: string;
}

const KEY_FILE = ['gateway', 'identity-key.json'] as const;

export async function loadOrCreateIdentitySigner(
  dataDir: string,
  options: { issuer: string; clientId: string; signerArn?: string },
): Promise<IdentitySigner> {
  const stored = (await readStoredKey(dataDir)) ?? (await createStoredKey(dataDir));
  const privateKey = (await importJWK(stored.privateJwk, 'ES256')) as CryptoKey;
  const signerArn = options.signerArn ?? LOCAL_SIGNER_ARN;
  const { issuer, clientId } = options;

  return {
    kid: stored.kid,
    publicKeyPem: stored.publicKeyPem,
    signerArn,
    issuer,
    clientId,
    async sign(claims, ttlSeconds = 120) {
      const iat = Math.floor(Date.now() / 1000);
      const exp = iat + ttlSeconds;
      const payload: Record<string, unknown> = {
        sub: claims.sub,
        username: claims.username,
        exp,
        iat,
        iss: issuer,
      };
      if (claims.email) payload.email = claims.email;
      if (claims.sid) payload.sid = claims.sid;
      return new SignJWT(payload)
        .setProtectedHeader({
          alg: 'ES256',
          typ: 'JWT',
          kid: stored.kid,
          signer: signerArn,
          iss: issuer,
          client: clientId,
          exp,
        })
        .sign(privateKey);
    },
  };
}

async function readStoredKey(dataDir: string): Promise<StoredKey | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, ...KEY_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const file = join(dataDir, ...KEY_FILE);
  const fix =
    'Remove it (or move it away) and start hubless again: a new key is made, and everyone signs in again.';
  const parsed = parseDataFile(file, text, fix) as Partial<StoredKey> | null;
  if (typeof parsed?.kid !== 'string' || !parsed.privateJwk || typeof parsed.publicKeyPem !== 'string') {
    throw new DataFileError(file, 'is not a hubless identity key', fix);
  }
  return parsed as StoredKey;
}

async function createStoredKey(dataDir: string): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const stored: StoredKey = {
    kid: randomUUID(),
    privateJwk: await exportJWK(privateKey),
    publicKeyPem: await exportSPKI(publicKey),
    createdAt: new Date().toISOString(),
  };
  const dir = join(dataDir, KEY_FILE[0]);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, ...KEY_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
  return stored;
}
