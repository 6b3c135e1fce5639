import {
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Target } from '../../core/session.ts';
import { escapeHtml } from './html.ts';
import { refuse } from './refusals.ts';

/**
 * Reverse proxy to a lab, HTTP and WebSocket, streaming both ways (no buffering, so
 * large downloads and kernel channels flow as they come). The Host header is kept, as
 * the ALB keeps it, so the lab's origin checks see the public host. Failures on either
 * side become a 502 page (or a closed socket for an upgrade) instead of a crash.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
]);

/** Headers to send upstream: the gateway's (identity-headers.ts) minus hop-by-hop ones. */
export function upstreamHeaders(
  req: IncomingMessage,
  cleaned: Record<string, string | string[]>,
  options: { upgrade?: boolean },
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const connectionTokens = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  for (const [name, value] of Object.entries(cleaned)) {
    if (HOP_BY_HOP.has(name) || connectionTokens.has(name)) continue;
    headers[name] = value;
  }
  if (options.upgrade) {
    headers.connection = 'Upgrade';
    headers.upgrade = req.headers.upgrade ?? 'websocket';
  }
  return headers;
}

/** The same method and path, sent to the lab with the headers the gateway chose. */
function upstreamRequest(req: IncomingMessage, target: Target, headers: OutgoingHttpHeaders): ClientRequest {
  return request({ host: target.host, port: target.port, method: req.method, path: req.url, headers });
}

export function proxyHttp(
  req: IncomingMessage,
  res: ServerResponse,
  target: Target,
  headers: OutgoingHttpHeaders,
): void {
  const upstream = upstreamRequest(req, target, headers);
  const fail = (reason: string) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    refuse(req, res, {
      status: 502,
      code: 'lab_unreachable',
      title: 'Server unreachable',
      message: `Your server is not answering. ${reason}`,
      page: `<h1>Your server is not answering</h1><p>${escapeHtml(reason)}</p><p>It may still be starting or may have stopped. <a href="/">Go to the portal</a></p>`,
    });
  };
  upstream.on('response', (upstreamRes) => {
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(upstreamRes.headers)) {
      if (value === undefined || name === 'connection' || name === 'keep-alive') continue;
      out[name] = value;
    }
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, out);
    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  });
  upstream.on('error', () => fail('The gateway could not reach it.'));
  upstream.setTimeout(300_000, () => upstream.destroy(new Error('timeout')));
  // The client went away: stop the upstream request too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('error', () => upstream.destroy());
  req.pipe(upstream);
}

export function proxyUpgrade(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  target: Target,
  headers: OutgoingHttpHeaders,
): void {
  const upstream = upstreamRequest(req, target, headers);
  socket.on('error', () => upstream.destroy());
  upstream.on('error', () => {
    if (socket.writable)
      socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    socket.destroy();
  });
  upstream.on('response', (upstreamRes) => {
    // The lab refused the upgrade (e.g. 403 for another user): pass its answer on.
    const lines = [`HTTP/1.1 ${upstreamRes.statusCode} ${upstreamRes.statusMessage ?? ''}`];
    for (let i = 0; i < upstreamRes.rawHeaders.length; i += 2) {
      const name = upstreamRes.rawHeaders[i] ?? '';
      if (name.toLowerCase() === 'connection' || name.toLowerCase() === 'transfer-encoding') continue;
      lines.push(`${name}: ${upstreamRes.rawHeaders[i + 1] ?? ''}`);
    }
    socket.write(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
    upstreamRes.pipe(socket);
  });
  upstream.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
    const lines = [`HTTP/1.1 101 ${upstreamRes.statusMessage || 'Switching Protocols'}`];
    for (let i = 0; i < upstreamRes.rawHeaders.length; i += 2) {
      lines.push(`${upstreamRes.rawHeaders[i]}: ${upstreamRes.rawHeaders[i + 1]}`);
    }
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upstreamHead.length) socket.write(upstreamHead);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  upstream.end();
}
