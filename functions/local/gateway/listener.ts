import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The gateway's server, HTTP or HTTPS: listening, the sockets it holds open, closing
 * them all, and the limits that keep one client from holding it: a request must send
 * its headers (and a TLS client finish its handshake) within seconds, and one address
 * may hold only so many connections, so a flood of half-open connections from one host
 * is dropped or timed out while everyone else is still served.
 */
export interface Listener {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export interface ConnectionLimits {
  /** Time to send the request line and headers (slowloris). */
  headersTimeoutMs: number;
  /** Time to send the whole request, body included (proxied uploads come in 1 MiB chunks). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept. */
  keepAliveTimeoutMs: number;
  /** Connections held at once, in all. */
  maxConnections: number;
  /**
   * Connections held at once from one address. A class behind one NAT shares an
   * address: each browser keeps about six connections plus one WebSocket per notebook.
   */
  maxConnectionsPerAddress: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 4_000,
  maxConnectionsPerAddress: 500,
};

export interface ListenOptions {
  host: string;
  port: number;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  limits?: Partial<ConnectionLimits>;
}

export async function listen(options: ListenOptions): Promise<Listener> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  // Timeouts are checked once a second (Node's default is every 30 s).
  const common = { connectionsCheckingInterval: 1_000, handshakeTimeout: limits.headersTimeoutMs };
  const server: Server = options.tls
    ? (createTlsServer({ ...options.tls, ...common }) as unknown as Server)
    : createServer(common);
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const held = perAddress.get(address) ?? 0;
    if (held >= limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, held + 1);
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });
  // A request Node cannot parse (or that timed out) never reaches the gateway: answer it here, once.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && socket.bytesWritten === 0) {
      const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      socket.write(
        `HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\n\r\n`,
      );
    }
    // Destroyed, not ended: a client that never reads must not keep the socket either.
    socket.destroy();
  });
  // A TLS client that never finishes its handshake, or speaks plain HTTP to HTTPS.
  server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deeper accept queue than Node's 511, so a burst of connections is accepted and judged.
    server.listen(options.port, options.host, 2048, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Labs' websockets and keep-alive connections would hold close() open.
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
