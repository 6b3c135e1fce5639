import { createHash, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { generate } from 'selfsigned';
import { ConfigError } from '../core/errors.ts';

/**
 * The gateway's certificate: the operator's (HUBLESS_TLS_CERT and HUBLESS_TLS_KEY, PEM
 * files), or, when the public URL is https and none is given, a self-signed one made on
 * first start and kept in `<dataDir>/tls/` (key mode 0600), so students can check its
 * fingerprint once and their browsers remember the exception. A class on a network
 * must not send passwords in clear.
 */
export interface GatewayTls {
  cert: string;
  key: string;
  /** SHA-256 of the certificate, AA:BB:…, as browsers show it. */
  fingerprint: string;
  /** base64 SHA-256 of the public key (what Chromium's --ignore-certificate-errors-spki-list takes). */
  spkiSha256: string;
  /** Where it came from, for the start-up message. */
  source: 'operator' | 'generated' | 'kept';
  certFile: string;
}

export interface TlsSettings {
  publicUrl: string;
  dataDir: string;
  certFile?: string;
  keyFile?: string;
}

/** undefined: plain HTTP (the public URL is http and no certificate was given). */
export async function loadGatewayTls(settings: TlsSettings): Promise<GatewayTls | undefined> {
  const { certFile, keyFile } = settings;
  if (Boolean(certFile) !== Boolean(keyFile))
    throw new ConfigError(
      `HUBLESS_TLS_CERT and HUBLESS_TLS_KEY go together: set both (PEM files), or neither for ${settings.publicUrl.startsWith('https:') ? 'a generated self-signed certificate' : 'plain HTTP'}.`,
    );
  if (certFile && keyFile) {
    const cert = await readPem(certFile, 'HUBLESS_TLS_CERT');
    const key = await readPem(keyFile, 'HUBLESS_TLS_KEY');
    return describe(cert, key, 'operator', resolve(certFile));
  }
  const url = new URL(settings.publicUrl);
  if (url.protocol !== 'https:') return undefined;
  const dir = join(resolve(settings.dataDir), 'tls');
  const paths = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  const kept = await readKept(paths);
  // Kept only while it still names the public host (the URL may have changed) and is valid.
  if (kept && covers(kept.cert, url.hostname)) return describe(kept.cert, kept.key, 'kept', paths.cert);
  const made = await selfSigned(url.hostname);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writePrivate(paths.key, made.key);
  await writePrivate(paths.cert, made.cert);
  return describe(made.cert, made.key, 'generated', paths.cert);
}

async function readPem(file: string, variable: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `${variable} names ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); give the path of a PEM file.`,
    );
  }
}

async function readKept(paths: { cert: string; key: string }) {
  try {
    return { cert: await readFile(paths.cert, 'utf8'), key: await readFile(paths.key, 'utf8') };
  } catch {
    return undefined;
  }
}

function covers(pem: string, hostname: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    const name = hostname.replace(/^\[|\]$/g, '');
    const named = isIP(name) ? cert.checkIP(name) : cert.checkHost(name);
    return named !== undefined && new Date(cert.validTo).getTime() > Date.now() + 86_400_000;
  } catch {
    return false;
  }
}

async function selfSigned(hostname: string): Promise<{ cert: string; key: string }> {
  const name = hostname.replace(/^\[|\]$/g, '');
  const altNames = [
    isIP(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name },
    ...(name === 'localhost' ? [{ type: 7 as const, ip: '127.0.0.1' }] : []),
  ];
  const notBeforeDate = new Date(Date.now() - 60_000);
  const made = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    // Browsers refuse server certificates valid for more than 398 days.
    notAfterDate: new Date(notBeforeDate.getTime() + 397 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: made.cert, key: made.private };
}

async function writePrivate(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, content, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}

function describe(cert: string, key: string, source: GatewayTls['source'], certFile: string): GatewayTls {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`${certFile} is not a PEM certificate.`);
  }
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert,
    key,
    fingerprint: x509.fingerprint256,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
    source,
    certFile,
  };
}
