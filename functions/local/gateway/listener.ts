import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';

/**
 * The gateway's server, HTTP or HTTPS: listening, the sockets it holds open, closing
 * them all, and the limits that keep one client from holding it: a request must send
 * its headers (and a TLS client finish its handshake) within seconds, and one address
 * may hold only so many connections, so a flood of half-open connections from one host
 * is dropped or timed out while everyone else is still served.
 */
export interface Listener {
  port: number;
  /** Where requests and upgrades go, whichever protocol they came in by. */
  handle(
    onRequest: (req: IncomingMessage, res: ServerResponse) => void,
    onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void,
  ): void;
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
  const http = createServer(common);
  const https = options.tls
    ? (createTlsServer({ ...options.tls, ...common }) as unknown as Server)
    : undefined;
  const servers = https ? [http, https] : [http];
  for (const server of servers) {
    server.headersTimeout = limits.headersTimeoutMs;
    server.requestTimeout = limits.requestTimeoutMs;
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
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
  }
  // A TLS client that never finishes its handshake, or that gives up on the certificate.
  https?.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());

  // One port for both: the first byte of a TLS connection is a handshake record (22).
  // Plain HTTP is for the machine itself (labs fetch the identity keys, the API its
  // JWKS, by the listening address); anyone else is told to use HTTPS.
  const front = https ? createTcpServer({ pauseOnConnect: true }) : http;
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  front.maxConnections = limits.maxConnections;
  front.on('connection', (socket: Socket) => {
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
    if (https) dispatch(socket, address, http, https, limits.headersTimeoutMs);
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    // A deeper accept queue than Node's 511, so a burst of connections is accepted and judged.
    front.listen(options.port, options.host, 2048, () => {
      front.off('error', reject);
      resolve();
    });
  });
  return {
    port: (front.address() as AddressInfo).port,
    handle(onRequest, onUpgrade) {
      for (const server of servers) {
        server.on('request', onRequest);
        server.on('upgrade', onUpgrade);
      }
    },
    async close() {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      // Labs' websockets and keep-alive connections would hold close() open.
      for (const socket of sockets) socket.destroy();
      for (const server of servers) server.closeAllConnections();
      await closed;
    },
  };
}

const TLS_HANDSHAKE = 22;

/** Hands a fresh connection to the HTTPS server, or, from this machine only, to plain HTTP. */
function dispatch(socket: Socket, address: string, http: Server, https: Server, timeoutMs: number): void {
  // Until its first byte, nothing else times a connection out.
  socket.setTimeout(timeoutMs, () => socket.destroy());
  socket.once('data', (first: Buffer) => {
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(first);
    if (first[0] === TLS_HANDSHAKE) https.emit('connection', socket);
    else if (isThisMachine(address, socket.localAddress)) http.emit('connection', socket);
    else {
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nThis hubless serves HTTPS: open its https:// address.\n',
      );
      return;
    }
    process.nextTick(() => socket.resume());
  });
  socket.on('error', () => socket.destroy());
  socket.resume();
}

/** Loopback, or this machine calling its own address (HUBLESS_HOST set to a LAN address). */
function isThisMachine(remote: string, local: string | undefined): boolean {
  return (
    remote === local || remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.')
  );
}
