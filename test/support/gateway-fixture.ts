import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayRouter } from '../../functions/adapters/local/gateway-router.ts';
import { LocalDirectory } from '../../functions/adapters/local/local-directory.ts';
import { newSessionId, type Session } from '../../functions/core/session.ts';
import type { AlbEvent, AlbResult } from '../../functions/handlers/http-types.ts';
import {
  DEFAULT_GATEWAY_CLIENT_ID,
  type Gateway,
  type GatewayOptions,
  gatewayIssuer,
  startGateway,
} from '../../functions/local/gateway/index.ts';
import { loadOrCreateIdentitySigner } from '../../functions/local/identity-signer.ts';
import { onFreePort } from './net.ts';

/**
 * A real gateway on loopback with stand-ins behind it: a portal and a lab that answer
 * with the headers they were sent, and alice's route to that lab. For tests of what the
 * gateway itself lets through.
 */
export interface GatewayFixture {
  gateway: Gateway;
  dataDir: string;
  directory: LocalDirectory;
  router: GatewayRouter;
  lab: { port: number; seen: IncomingHttpHeaders[] };
  close(): Promise<void>;
}

export function runningSession(user: string, server = ''): Session {
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

export async function startGatewayFixture(
  extra: Partial<GatewayOptions> & { scheme?: 'http' | 'https' } = {},
): Promise<GatewayFixture> {
  const { scheme = 'http', ...overrides } = extra;
  const dataDir = await mkdtemp(join(tmpdir(), 'hubless-front-door-'));
  const directory = new LocalDirectory({ dataDir });
  await directory.upsert({ name: 'alice', password: 'alice-password' });
  const seen: IncomingHttpHeaders[] = [];
  const labServer: Server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ headers: req.headers }));
  });
  await new Promise<void>((resolve) => labServer.listen(0, '127.0.0.1', resolve));
  const router = new GatewayRouter();
  await router.addRoute(runningSession('alice'), {
    host: '127.0.0.1',
    port: (labServer.address() as AddressInfo).port,
  });
  const portal = async (event: AlbEvent): Promise<AlbResult> => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ headers: event.headers }),
  });
  // The public URL and the issuer name the port: chosen again when it was taken meanwhile.
  const gateway = await onFreePort(async (port) => {
    const publicUrl = overrides.publicUrl ?? `${scheme}://127.0.0.1:${port}`;
    const signer = await loadOrCreateIdentitySigner(dataDir, {
      issuer: gatewayIssuer(publicUrl),
      clientId: DEFAULT_GATEWAY_CLIENT_ID,
    });
    return startGateway({
      port,
      publicUrl,
      dataDir,
      directory,
      router,
      signer,
      portal,
      api: async (event) => ({ statusCode: 200, body: JSON.stringify({ headers: event.headers }) }),
      ...overrides,
    });
  });
  return {
    gateway,
    dataDir,
    directory,
    router,
    lab: { port: (labServer.address() as AddressInfo).port, seen },
    async close() {
      await gateway.close();
      labServer.closeAllConnections();
      await new Promise((resolve) => labServer.close(resolve));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * One plain HTTP request with exactly these headers (fetch will not send a chosen Host),
 * to `port` on loopback; resolves with the status, headers and body text.
 */
export function rawRequest(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
