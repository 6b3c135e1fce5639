import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The gateway's HTTP server: listening, the sockets it holds open, and closing them all. */
export interface Listener {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function listen(host: string, port: number): Promise<Listener> {
  const server = createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A request Node cannot parse never reaches the gateway: answer it here, once.
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
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
