import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import type { LtiToolKey } from '../core/lti/ports.ts';

/**
 * The tool's own signing key (RS256, as LTI requires), kept in <dataDir>/lti-tool-key.json
 * (mode 0600) so the public key the LMS was given stays valid across restarts. Its public
 * half is served at /lti/jwks (the "tool JWKS URL" an LMS asks for when the tool is added).
 */
export async function loadOrCreateLtiToolKey(
  dataDir: string,
): Promise<{ publicJwks: { keys: JWK[] }; key: LtiToolKey }> {
  const file = join(dataDir, 'lti-tool-key.json');
  let privateJwk: JWK;
  try {
    privateJwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    privateJwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
    await writeFile(file, JSON.stringify(privateJwk), { mode: 0o600, flag: 'wx' }).catch(async (e) => {
      // Another process wrote it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      privateJwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
    });
  }
  const { kty, n, e, kid, alg, use } = privateJwk;
  const publicJwk = { kty, n, e, kid, alg, use } as JWK;
  const privateKey = await importJWK(privateJwk, 'RS256');
  const publicKey = await importJWK(publicJwk, 'RS256');
  return {
    publicJwks: { keys: [publicJwk] },
    key: {
      sign: (claims) =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: String(kid), typ: 'JWT' })
          .sign(privateKey),
      verify: async (token) => (await jwtVerify(token, publicKey, { algorithms: ['RS256'] })).payload,
    },
  };
}
