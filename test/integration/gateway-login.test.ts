import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIdentityVerifier,
  type IdentityVerifier,
} from '../../functions/adapters/identity/alb-identity.ts';
import { GatewayRouter } from '../../functions/adapters/local/gateway-router.ts';
import { LocalDirectory } from '../../functions/adapters/local/local-directory.ts';
import { isHublessError } from '../../functions/core/errors.ts';
import { newSessionId, type Session } from '../../functions/core/session.ts';
import type { AlbEvent, AlbResult, HttpApiEvent } from '../../functions/handlers/http-types.ts';
import {
  DEFAULT_GATEWAY_CLIENT_ID,
  type Gateway,
  gatewayIssuer,
  startGateway,
} from '../../functions/local/gateway/index.ts';
import {
  ALB_KEYS_PATH,
  LOCAL_SIGNER_ARN,
  loadOrCreateIdentitySigner,
} from '../../functions/local/identity-signer.ts';
import { Browser, signIn } from '../support/http-browser.ts';
import { onFreePort } from '../support/net.ts';

/**
 * The gateway end to end over real HTTP: the embedded provider's login page, the
 * relying party's code flow, the signed identity the portal sees, and the proxy to a
 * lab (HTTP and WebSocket). The browser is fetch plus a hand-made cookie jar.
 */

/** A lab stand-in: answers HTTP with what it saw, and echoes WebSocket text frames. */
function startLab(): Promise<{ server: Server; port: number; upgrades: IncomingHttpHeaders[] }> {
  const upgrades: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-lab': 'yes' });
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  server.on('upgrade', (req, socket: Socket) => {
    upgrades.push(req.headers);
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2) {
        const opcode = (buffer[0] ?? 0) & 0x0f;
        let length = (buffer[1] ?? 0) & 0x7f;
        let offset = 2;
        if (length === 126) {
          length = buffer.readUInt16BE(2);
          offset = 4;
        }
        if (buffer.length < offset + 4 + length) return;
        const mask = buffer.subarray(offset, offset + 4);
        const payload = Buffer.from(
          buffer.subarray(offset + 4, offset + 4 + length).map((b, i) => b ^ (mask[i % 4] ?? 0)),
        );
        buffer = buffer.subarray(offset + 4 + length);
        if (opcode === 0x8) {
          socket.end(Buffer.from([0x88, 0]));
          return;
        }
        if (opcode === 0x1) {
          const reply = Buffer.from(`echo:${payload.toString('utf8')}`);
          const header =
            reply.length < 126
              ? Buffer.from([0x81, reply.length])
              : Buffer.from([0x81, 126, reply.length >> 8, reply.length & 0xff]);
          socket.write(Buffer.concat([header, reply]));
        }
      }
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, upgrades }),
    ),
  );
}

function session(user: string, server = ''): Session {
  const now = new Date().toISOString();
  return {
    id: newSessionId(user, server, 'n1'),
    user,
    server,
    profile: 'default',
    state: 'running',
    version: 1,
    createdAt: now,
    updatedAt: now,
    events: [],
  };
}

const NEAR_MISSES = ['ali', 'alice2', 'alicex'];

describe('local gateway', () => {
  let dataDir: string;
  let gateway: Gateway;
  let lab: Awaited<ReturnType<typeof startLab>>;
  let verifier: IdentityVerifier;
  let directory: LocalDirectory;
  const portalEvents: AlbEvent[] = [];
  const apiEvents: HttpApiEvent[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hubless-gateway-'));
    directory = new LocalDirectory({ dataDir });
    await directory.upsert({ name: 'alice', email: 'alice@example.org', password: 'alice-password' });
    await directory.upsert({ name: 'bob', password: 'bob-password' });
    await directory.upsert({ name: 'carol', password: 'carol-password' });
    // Near misses of alice: a prefix and two extensions of her name.
    for (const name of NEAR_MISSES) await directory.upsert({ name, password: `${name}-password` });
    await directory.disable('carol');

    const router = new GatewayRouter();
    lab = await startLab();
    await router.addRoute(session('alice'), { host: '127.0.0.1', port: lab.port });
    // The portal stand-in: verifies the identity header as the real portal handler does.
    const portal = async (event: AlbEvent): Promise<AlbResult> => {
      portalEvents.push(event);
      try {
        const identity = await verifier.verify(event.headers['x-amzn-oidc-data']);
        return {
          statusCode: 200,
          headers: { 'content-type': 'application/json' },
          multiValueHeaders: { 'set-cookie': ['portal-a=1; Path=/', 'portal-b=2; Path=/'] },
          body: JSON.stringify({ identity, path: event.path, method: event.httpMethod }),
        };
      } catch (error) {
        return {
          statusCode: isHublessError(error) ? error.status : 500,
          body: JSON.stringify({ error: (error as Error).message }),
        };
      }
    };
    const api = async (event: HttpApiEvent) => {
      apiEvents.push(event);
      return {
        statusCode: 200,
        body: JSON.stringify({ path: event.rawPath, identity: event.headers['x-amzn-oidc-data'] ?? null }),
      };
    };

    // The issuer, the identity key's URL and the public URL all name the port: chosen
    // again, with them, when another process took it meanwhile.
    gateway = await onFreePort(async (port) => {
      const publicUrl = `http://127.0.0.1:${port}`;
      const issuer = gatewayIssuer(publicUrl);
      const signer = await loadOrCreateIdentitySigner(dataDir, {
        issuer,
        clientId: DEFAULT_GATEWAY_CLIENT_ID,
      });
      verifier = createIdentityVerifier({
        signer: LOCAL_SIGNER_ARN,
        issuer,
        clientId: DEFAULT_GATEWAY_CLIENT_ID,
        keysUrl: `${publicUrl}${ALB_KEYS_PATH}`,
      });
      return startGateway({
        port,
        publicUrl,
        dataDir,
        directory,
        router,
        signer,
        portal,
        api,
        extraClients: [
          { clientId: 'lms', clientSecret: 'lms-secret-value', scopes: ['sessions:write', 'sessions:read'] },
          { clientId: 'admin-tool', clientSecret: 'admin-secret-value', scopes: ['users:admin'] },
        ],
      });
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await new Promise((resolve) => lab?.server.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers its health check and serves the identity key without sign-in', async () => {
    const health = await fetch(`${gateway.url}/.hubless/health`);
    expect(health.status).toBe(200);
    const browser = new Browser(gateway.url);
    const signer = await loadOrCreateIdentitySigner(dataDir, { issuer: '', clientId: '' });
    const key = await browser.request(`${ALB_KEYS_PATH}/${signer.kid}`);
    expect(await key.text()).toContain('BEGIN PUBLIC KEY');
    expect((await browser.request(`${ALB_KEYS_PATH}/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  });

  it('sends an anonymous visitor to the provider’s login', async () => {
    const browser = new Browser(gateway.url);
    const response = await browser.request('/');
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') ?? '');
    expect(location.href.startsWith(`${gateway.url}/oidc/auth`)).toBe(true);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    expect(browser.jar.has('hubless_session')).toBe(false);

    const { response: page } = await browser.follow('/');
    const html = await page.text();
    expect(html).toMatch(/<label for="username">Username<\/label>/);
    expect(html).toMatch(/<label for="password">Password<\/label>/);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('signs in with the form and returns to the page first asked for, where the portal sees the user', async () => {
    const browser = new Browser(gateway.url);
    const { response, url } = await signIn(browser, 'Alice', 'alice-password', '/portal/sessions?tab=1');
    expect(url).toBe(`${gateway.url}/portal/sessions?tab=1`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.identity).toEqual({ username: 'alice', sub: 'alice', email: 'alice@example.org' });
    expect(body.path).toBe('/portal/sessions');
    expect(browser.jar.has('hubless_session')).toBe(true);
    expect(response.headers.getSetCookie()).toEqual(['portal-a=1; Path=/', 'portal-b=2; Path=/']);
    const event = portalEvents.at(-1);
    expect(event?.queryStringParameters).toEqual({ tab: '1' });
    expect(event?.headers['x-amzn-oidc-identity']).toBe('alice');
  });

  it('sets the session cookie HttpOnly and SameSite=Lax, holding an opaque id only', async () => {
    const browser = new Browser(gateway.url);
    const { hops } = await signIn(browser, 'bob', 'bob-password');
    expect(hops.some((h) => h.startsWith(`${gateway.url}/oauth2/idpresponse?`))).toBe(true);
    const cookie = browser.setCookies.find((c) => c.startsWith('hubless_session='));
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(browser.jar.get('hubless_session')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
  });

  it('replaces an identity header forged by the client', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'bob', 'bob-password');
    const forged = await (
      await loadOrCreateIdentitySigner(await mkdtemp(join(tmpdir(), 'hubless-forger-')), {
        issuer: gatewayIssuer(gateway.url),
        clientId: DEFAULT_GATEWAY_CLIENT_ID,
      })
    ).sign({ sub: 'alice', username: 'alice' });
    const response = await browser.request('/whoami', {
      headers: { 'x-amzn-oidc-data': forged, 'x-amzn-oidc-identity': 'alice' },
    });
    const body = await response.json();
    expect(body.identity.username).toBe('bob');
    expect(portalEvents.at(-1)?.headers['x-amzn-oidc-identity']).toBe('bob');
  });

  it('proxies /user/alice/ to her lab with a fresh identity and without gateway cookies', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'alice', 'alice-password');
    for (const name of browser.jar.keys()) if (!name.startsWith('hubless_')) browser.jar.delete(name);
    expect(browser.jar.has('hubless_session')).toBe(true);
    expect(browser.jar.has('hubless_oidc_session')).toBe(true);
    browser.jar.set('lab-cookie', 'kept');
    const response = await browser.request('/user/alice/api/status?x=1', {
      headers: { 'x-amzn-oidc-data': 'forged' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-lab')).toBe('yes');
    const seen = await response.json();
    expect(seen.url).toBe('/user/alice/api/status?x=1');
    expect(seen.headers.host).toBe(new URL(gateway.url).host);
    expect((await verifier.verify(seen.headers['x-amzn-oidc-data'])).username).toBe('alice');
    expect(seen.headers.cookie).toBe('lab-cookie=kept');
  });

  it('carries a WebSocket through the proxy', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'alice', 'alice-password');
    const cookie = [...browser.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/user/alice/api/kernels/k1/channels`, {
      headers: { cookie },
    } as never);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send('hello lab');
      ws.onmessage = (message) => resolve(String(message.data));
      ws.onerror = () => reject(new Error('websocket failed'));
    });
    ws.close();
    expect(reply).toBe('echo:hello lab');
    const headers = lab.upgrades.at(-1);
    expect((await verifier.verify(String(headers?.['x-amzn-oidc-data']))).username).toBe('alice');
  });

  it('refuses a WebSocket without a session', async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/user/alice/api/kernels/k1/channels`);
    const outcome = await new Promise<string>((resolve) => {
      ws.onopen = () => resolve('open');
      ws.onerror = () => resolve('refused');
    });
    expect(outcome).toBe('refused');
  });

  it('keeps another signed-in user out of alice’s lab', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'bob', 'bob-password');
    const response = await browser.request('/user/alice/lab');
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('another user');
  });

  it.each(NEAR_MISSES)('keeps %s, a near miss of alice, out of her lab', async (name) => {
    const browser = new Browser(gateway.url);
    await signIn(browser, name, `${name}-password`);
    const response = await browser.request('/user/alice/lab');
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('another user');
  });

  it('lets alice into her lab when she signs in as ALICE (logins are case-insensitive)', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'ALICE', 'alice-password');
    const response = await browser.request('/user/alice/api/status');
    expect(response.status).toBe(200);
    expect((await verifier.verify((await response.json()).headers['x-amzn-oidc-data'])).username).toBe(
      'alice',
    );
  });

  it('hands /user/<key>/ to the portal when no route exists', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'bob', 'bob-password');
    const response = await browser.request('/user/bob/lab');
    expect(response.status).toBe(200);
    expect((await response.json()).path).toBe('/user/bob/lab');
  });

  it('shows an error on a wrong password and sets no session cookie', async () => {
    const browser = new Browser(gateway.url);
    const { response } = await signIn(browser, 'alice', 'not-her-password');
    expect(response.status).toBe(401);
    const html = await response.text();
    expect(html).toContain('Wrong username or password');
    expect(html).toContain('role="alert"');
    expect(browser.jar.has('hubless_session')).toBe(false);
    // An unknown user gets the very same message.
    const { response: unknown } = await signIn(new Browser(gateway.url), 'mallory', 'whatever-pass');
    expect(await unknown.text()).toContain('Wrong username or password');
  });

  it('does not let a disabled user sign in', async () => {
    const browser = new Browser(gateway.url);
    const { response } = await signIn(browser, 'carol', 'carol-password');
    expect(response.status).toBe(401);
    expect(browser.jar.has('hubless_session')).toBe(false);
  });

  it('passes API paths to the API handler without sign-in or identity', async () => {
    const response = await fetch(`${gateway.url}/api/v1/sessions?user=alice`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer abc',
        'content-type': 'application/json',
        'x-amzn-oidc-data': 'forged',
      },
      body: '{"a":1}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ path: '/api/v1/sessions', identity: null });
    const event = apiEvents.at(-1);
    expect(event?.headers.authorization).toBe('Bearer abc');
    expect(event?.body).toBe('{"a":1}');
    expect(event?.queryStringParameters).toEqual({ user: 'alice' });
  });

  it('refuses bodies over 1 MB with 413', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'alice', 'alice-password');
    const response = await browser.request('/upload', { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) });
    expect(response.status).toBe(413);
  });

  it('answers API clients in their own error shape when it refuses a body itself', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1);
    const ours = await fetch(`${gateway.url}/api/v1/users/alice`, { method: 'PUT', body: big });
    expect(ours.status).toBe(413);
    expect(((await ours.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    const hub = await fetch(`${gateway.url}/hub/api/users`, { method: 'POST', body: big });
    expect(hub.status).toBe(413);
    expect(await hub.json()).toMatchObject({ status: 413 });
  });

  it('signs out only by a POST from its own pages, which ends the provider session too', async () => {
    const browser = new Browser(gateway.url);
    await signIn(browser, 'alice', 'alice-password');
    const stillIn = async () => (await browser.request('/whoami')).status === 200;

    // A link or an image elsewhere (GET) only gets a question.
    const asked = await browser.request('/logout');
    expect(asked.status).toBe(200);
    expect(await asked.text()).toContain('<form method="post" action="/logout">');
    expect(await stillIn()).toBe(true);

    // A form on another site (CSRF) is refused.
    const forgeries: Record<string, string>[] = [
      { origin: 'https://attacker.example' },
      { 'sec-fetch-site': 'cross-site' },
      {},
    ];
    for (const headers of forgeries) {
      const forged = await browser.request('/logout', { method: 'POST', headers });
      expect(forged.status, JSON.stringify(headers)).toBe(403);
    }
    expect(await stillIn()).toBe(true);

    const out = await browser.request('/logout', { method: 'POST', headers: { origin: gateway.url } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/logout');
    expect(browser.jar.has('hubless_session')).toBe(false);
    expect(await (await browser.request('/logout')).text()).toContain('You are signed out');
    // Signed out at the provider too, though the browser still holds its cookie: the next
    // visit asks for the password again instead of signing alice straight back in.
    expect(browser.jar.has('hubless_oidc_session')).toBe(true);
    const { response: next } = await browser.follow('/');
    expect(await next.text()).toContain('Sign in to hubless');
  });

  it('gives a machine client a JWT access token for the API, with its scopes only', async () => {
    const token = async (scope: string, secret = 'lms-secret-value') =>
      fetch(`${gateway.url}/oidc/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`lms:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
      });
    const response = await token('sessions:write');
    expect(response.status).toBe(200);
    const { access_token: accessToken, token_type: tokenType } = await response.json();
    expect(tokenType).toBe('Bearer');
    const jwks = createRemoteJWKSet(new URL(`${gateway.url}/oidc/jwks`));
    const { payload } = await jwtVerify(accessToken, jwks, {
      issuer: gatewayIssuer(gateway.url),
      audience: gateway.oidc.apiResource,
    });
    expect(payload).toMatchObject({ client_id: 'lms', scope: 'sessions:write' });
    // A scope another client has is refused; a scope nobody defined is left out.
    expect((await token('users:admin')).status).toBe(400);
    const unknown = await (await token('sessions:read nonsense:scope')).json();
    expect(unknown.scope).toBe('sessions:read');
    expect((await token('sessions:read', 'wrong-secret')).status).toBe(401);
  });

  it('keeps the provider keys in the data dir, readable by the owner only', async () => {
    const info = await stat(join(dataDir, 'oidc', 'keys.json'));
    expect(info.mode & 0o777).toBe(0o600);
  });
});
