import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayFixture, rawRequest, startGatewayFixture } from '../support/gateway-fixture.ts';
import { Browser, signIn } from '../support/http-browser.ts';
import { waitFor } from '../support/net.ts';

/**
 * The gateway as a machine on a class network meets it: requests naming another Host
 * (DNS rebinding), forged forwarding headers, and floods of half-open connections.
 */
describe('the gateway front door', () => {
  let fixture: GatewayFixture;
  let publicHost: string;

  beforeAll(async () => {
    fixture = await startGatewayFixture({
      limits: { headersTimeoutMs: 2_000, maxConnectionsPerAddress: 1_000 },
    });
    publicHost = new URL(fixture.gateway.url).host;
  });

  afterAll(async () => {
    await fixture?.close();
  });

  describe('Host header', () => {
    it('answers 421 naming the public URL to a request for another host (DNS rebinding)', async () => {
      const port = fixture.gateway.port;
      for (const path of ['/', '/hub/api/users', '/oidc/.well-known/openid-configuration', '/user/alice/']) {
        const answer = await rawRequest(port, path, {
          host: `rebind.attacker.example:${port}`,
          'sec-fetch-dest': 'document',
        });
        expect(answer.status, path).toBe(421);
        expect(answer.body, path).toContain(`answers only as ${fixture.gateway.url}`);
      }
      // Node refuses an HTTP/1.1 request without Host before the gateway sees it.
      expect((await rawRequest(port, '/', {})).status).toBe(400);
    });

    it('still answers its public host, also spelled with a trailing dot or upper case', async () => {
      for (const host of [publicHost, publicHost.toUpperCase(), publicHost.replace(':', '.:')]) {
        const answer = await rawRequest(fixture.gateway.port, '/', { host, 'sec-fetch-dest': 'document' });
        expect(answer.status, host).toBe(302); // to the sign-in page
      }
    });

    it('also answers its listening address, which labs and the control plane call', async () => {
      const fixture2 = await startGatewayFixture({ publicUrl: 'http://class.example.edu' });
      try {
        const port = fixture2.gateway.port;
        const health = await rawRequest(port, '/.hubless/health', { host: `127.0.0.1:${port}` });
        expect(health.status).toBe(200);
        expect((await rawRequest(port, '/.hubless/health', { host: 'class.example.edu' })).status).toBe(200);
        expect((await rawRequest(port, '/.hubless/health', { host: 'other.example.edu' })).status).toBe(421);
      } finally {
        await fixture2.close();
      }
    });

    it('refuses a WebSocket upgrade for another host', async () => {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(fixture.gateway.port, '127.0.0.1', () =>
          socket.write(
            `GET /user/alice/api/kernels/k/channels HTTP/1.1\r\nHost: rebind.attacker.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          ),
        );
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1.1 421/);
    });
  });

  describe('forwarding headers', () => {
    it('drops client-sent X-Forwarded-* and Forwarded: the lab and the portal see only the gateway’s', async () => {
      const browser = new Browser(fixture.gateway.url);
      await signIn(browser, 'alice', 'alice-password', '/user/alice/lab');
      const forged = {
        'x-forwarded-host': 'evil.example',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        forwarded: 'for=203.0.113.9;host=evil.example',
      };
      const lab = (await (await browser.request('/user/alice/lab', { headers: forged })).json()) as {
        headers: Record<string, string>;
      };
      expect(lab.headers['x-forwarded-host']).toBe(publicHost);
      expect(lab.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(lab.headers['x-forwarded-proto']).toBe('http');
      expect(lab.headers.forwarded).toBeUndefined();
      const portal = (await (await browser.request('/', { headers: forged })).json()) as {
        headers: Record<string, string>;
      };
      expect(portal.headers.host).toBe(publicHost);
      expect(portal.headers['x-forwarded-host']).toBe(publicHost);
      expect(portal.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(portal.headers.forwarded).toBeUndefined();
    });
  });

  describe('connections', () => {
    it('does not hold 1,500 half-open connections forever, and still serves a normal user meanwhile', async () => {
      const flood: Socket[] = [];
      const closed = new Set<Socket>();
      const open = (i: number) =>
        new Promise<void>((resolve) => {
          // From another loopback address, as another machine would.
          const socket = connect({
            port: fixture.gateway.port,
            host: '127.0.0.1',
            localAddress: '127.0.0.2',
          });
          flood.push(socket);
          socket.on('connect', () => {
            // Half send half a request (slowloris), half send nothing at all.
            if (i % 2) socket.write(`GET / HTTP/1.1\r\nHost: ${publicHost}\r\nX-Slow: `);
            resolve();
          });
          socket.resume(); // read, so the client sees the server close it
          socket.on('error', () => resolve());
          socket.on('close', () => {
            closed.add(socket);
            resolve();
          });
        });
      for (let batch = 0; batch < 15; batch++)
        await Promise.all(Array.from({ length: 100 }, (_, i) => open(batch * 100 + i)));
      // A normal user from another address is served while the flood is held.
      const started = Date.now();
      const health = await fetch(`${fixture.gateway.url}/.hubless/health`);
      expect(health.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1_000);
      // Over the per-address cap (1,000 here, 500 by default) they are dropped at once;
      // the rest are timed out (headersTimeout 2 s here, 10 s by default).
      await waitFor(
        'every half-open connection to be closed by the gateway',
        async () => (closed.size === flood.length ? true : undefined),
        15_000,
      );
      const browser = new Browser(fixture.gateway.url);
      const { response } = await signIn(browser, 'alice', 'alice-password', '/user/alice/lab');
      expect(response.status).toBe(200);
    });
  });
});
