import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BareLab, JUPYTER, startBareLab } from '../support/bare-lab.ts';

// A real jupyter-server (support/bare-lab.ts; HUBLESS_TEST_JUPYTER_SERVER may name a 2.x to
// check the IdentityProvider path) with the lab's own config and owner check, a key server
// made here, and identity headers signed here the way the ALB signs them.

/** The classic UI page exists where nbclassic is installed (Debian's jupyter-server). */
const HAS_TREE = JUPYTER === '/usr/bin/jupyter-server';
const SIGNER =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/hubless-0/0123456789abcdef';
const ISSUER = 'http://127.0.0.1/hubless-test-issuer';
const OWNER = 'alice';
const BASE = `/user/${OWNER}/`;
/** The control plane's token; the lab is given only its SHA-256 (LAB_TOKEN_HASH). */
const LAB_TOKEN = randomBytes(32).toString('hex');
const LAB_TOKEN_HASH = createHash('sha256').update(LAB_TOKEN).digest('hex');
const PUBLIC_HOST = 'class.example.edu';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let keys: KeyPair;
const kid = randomUUID();
let keyServer: http.Server;
let lab: BareLab;
let labUrl: string;
let workDir: string;

async function identity(
  username: string,
  options: { expiresIn?: number; signWith?: KeyPair['privateKey']; signer?: string } = {},
): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + (options.expiresIn ?? 60);
  return new SignJWT({ sub: randomUUID(), username, email: `${username}@example.org`, exp, iss: ISSUER })
    .setProtectedHeader({
      alg: 'ES256',
      kid,
      signer: options.signer ?? SIGNER,
      iss: ISSUER,
      client: 'test-client',
      exp,
    })
    .sign(options.signWith ?? keys.privateKey);
}

function unsignedIdentity(username: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 60;
  return `${part({ alg: 'none', kid, signer: SIGNER, iss: ISSUER })}.${part({ username, exp, iss: ISSUER })}.`;
}

function get(pathname: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${labUrl}${pathname}`, { headers, redirect: 'manual' });
}

/** A GET naming `host` in its Host header (fetch always sends the URL's): resolves with the status. */
function getAs(host: string, pathname: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${labUrl}${pathname}`, { headers: { ...headers, host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

/** A WebSocket handshake with the given headers: resolves with 101 or the refusal status. */
function upgrade(pathname: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${labUrl}${pathname}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

beforeAll(async () => {
  keys = await generateKeyPair('ES256', { extractable: true });
  const pem = await exportSPKI(keys.publicKey);
  keyServer = http.createServer((request, response) => {
    if (request.url === `/${kid}`) {
      response.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(pem);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  const keysUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`;

  workDir = mkdtempSync(path.join(tmpdir(), 'hubless-owner-check-'));
  lab = await startBareLab({
    workDir,
    baseUrl: BASE,
    readyStatus: 200,
    env: {
      TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR: '1',
      HUBLESS_LAB_TOKEN_SHA256: LAB_TOKEN_HASH,
      HUBLESS_OWNER: OWNER,
      HUBLESS_IDENTITY_KEYS_URL: keysUrl,
      HUBLESS_IDENTITY_SIGNER: SIGNER,
      HUBLESS_IDENTITY_ISSUER: ISSUER,
      HUBLESS_PUBLIC_HOST: PUBLIC_HOST,
    },
  });
  labUrl = lab.url;
});

afterAll(async () => {
  await lab?.stop();
  await new Promise((resolve) => keyServer?.close(resolve));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('lab owner check', () => {
  describe('the owner', () => {
    it('reads the contents API with a valid identity header', async () => {
      const response = await get(`${BASE}api/contents`, { 'x-amzn-oidc-data': await identity(OWNER) });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ type: 'directory' });
    });

    it('is the owner whatever the case of the signed username (logins are case-insensitive)', async () => {
      const response = await get(`${BASE}api/contents`, { 'x-amzn-oidc-data': await identity('ALICE') });
      expect(response.status).toBe(200);
    });

    it.runIf(HAS_TREE)('opens the classic UI page', async () => {
      const response = await get(`${BASE}tree`, { 'x-amzn-oidc-data': await identity(OWNER) });
      expect(response.status).toBe(200);
    });
  });

  describe('everyone else', () => {
    it('gets 403 naming the owner when another user sends a valid header', async () => {
      const response = await get(`${BASE}api/contents`, { 'x-amzn-oidc-data': await identity('bob') });
      expect(response.status).toBe(403);
      expect(JSON.stringify(await response.json())).toContain(`This server belongs to ${OWNER}`);
    });

    it.runIf(HAS_TREE)('gets 403, not a login redirect, on a page', async () => {
      const response = await get(`${BASE}tree`, { 'x-amzn-oidc-data': await identity('bob') });
      expect(response.status).toBe(403);
      expect(await get(`${BASE}tree`).then((r) => r.status)).toBe(403);
    });

    // Near misses of the owner's name: a prefix, extensions, a character the rule never
    // allows. A prefix or suffix match in the comparison would let these in.
    it.each(['ali', 'alice2', 'alicex', 'alice.'])(
      'gets 403 as %s, a near miss of the owner',
      async (name) => {
        const response = await get(`${BASE}api/contents`, { 'x-amzn-oidc-data': await identity(name) });
        expect(response.status).toBe(403);
      },
    );

    it('gets 403 with a forged signature', async () => {
      const forger = await generateKeyPair('ES256');
      const response = await get(`${BASE}api/contents`, {
        'x-amzn-oidc-data': await identity(OWNER, { signWith: forger.privateKey }),
      });
      expect(response.status).toBe(403);
    });

    it('gets 403 with an expired header', async () => {
      const response = await get(`${BASE}api/contents`, {
        'x-amzn-oidc-data': await identity(OWNER, { expiresIn: -120 }),
      });
      expect(response.status).toBe(403);
    });

    it('gets 403 with a header from another load balancer', async () => {
      const signer = SIGNER.replace('hubless-0', 'not-ours');
      const response = await get(`${BASE}api/contents`, {
        'x-amzn-oidc-data': await identity(OWNER, { signer }),
      });
      expect(response.status).toBe(403);
    });

    it('gets 403 with an unsigned header', async () => {
      const response = await get(`${BASE}api/contents`, { 'x-amzn-oidc-data': unsignedIdentity(OWNER) });
      expect(response.status).toBe(403);
    });

    it('gets 403 with no header at all', async () => {
      expect((await get(`${BASE}api/contents`)).status).toBe(403);
    });

    it('cannot use the lab token from a URL', async () => {
      expect((await get(`${BASE}api/status?token=${LAB_TOKEN}`)).status).toBe(403);
    });
  });

  describe('the control plane', () => {
    it('reads api/status and api/kernels with its token in the Authorization header', async () => {
      const headers = { Authorization: `token ${LAB_TOKEN}` };
      expect((await get(`${BASE}api/status`, headers)).status).toBe(200);
      expect((await get(`${BASE}api/kernels`, headers)).status).toBe(200);
    });

    it('is refused with a wrong token', async () => {
      expect((await get(`${BASE}api/status`, { Authorization: 'token wrong' })).status).toBe(403);
      const nearMiss = `${LAB_TOKEN.slice(0, -1)}${LAB_TOKEN.endsWith('0') ? '1' : '0'}`;
      expect((await get(`${BASE}api/status`, { Authorization: `token ${nearMiss}` })).status).toBe(403);
    });

    it('is refused when shown the hash it was given (what describing the task reveals)', async () => {
      expect((await get(`${BASE}api/status`, { Authorization: `token ${LAB_TOKEN_HASH}` })).status).toBe(403);
    });
  });

  describe('health checks', () => {
    it('get 200 from <base>api without any identity', async () => {
      const response = await get(`${BASE}api`);
      expect(response.status).toBe(200);
      expect(await response.json()).toHaveProperty('version');
    });
  });

  describe('DNS rebinding', () => {
    it('refuses a request naming another host, even from the owner or with the lab token', async () => {
      const contents = `${BASE}api/contents`;
      const owner = { 'x-amzn-oidc-data': await identity(OWNER) };
      const token = { Authorization: `token ${LAB_TOKEN}` };
      const port = new URL(labUrl).port;
      expect(await getAs(`rebind.attacker.example:${port}`, contents, owner)).toBe(403);
      expect(await getAs(`rebind.attacker.example:${port}`, `${BASE}api/status`, token)).toBe(403);
      // The gateway's public name, and the addresses the control plane uses, still work.
      expect(await getAs(PUBLIC_HOST, contents, owner)).toBe(200);
      expect(await getAs(`${PUBLIC_HOST.toUpperCase()}:443`, contents, owner)).toBe(200);
      expect(await getAs(`127.0.0.1:${port}`, `${BASE}api/status`, token)).toBe(200);
    });
  });

  describe('kernel WebSockets', () => {
    it('open for the owner and are refused to another user', async () => {
      const started = await fetch(`${labUrl}${BASE}api/kernels`, {
        method: 'POST',
        headers: { Authorization: `token ${LAB_TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(started.status).toBe(201);
      const { id } = (await started.json()) as { id: string };
      const channels = `${BASE}api/kernels/${id}/channels`;
      expect(await upgrade(channels, { 'x-amzn-oidc-data': await identity('bob') })).toBe(403);
      expect(await upgrade(channels, {})).toBe(403);
      expect(await upgrade(channels, { 'x-amzn-oidc-data': await identity(OWNER) })).toBe(101);
      await fetch(`${labUrl}${BASE}api/kernels/${id}`, {
        method: 'DELETE',
        headers: { Authorization: `token ${LAB_TOKEN}` },
      });
    });
  });
});
