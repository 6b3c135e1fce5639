import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AlbEvent, AlbResult, HttpApiEvent, HttpApiResult } from '../../handlers/http-types.ts';
import { readBody } from './body.ts';

/**
 * Translates between Node's HTTP messages and the Lambda event shapes the handlers take
 * (handlers/http-types.ts), the way the ALB and API Gateway do in AWS, so handlers behave
 * the same in both modes.
 *
 * ALB fidelity notes (multi-value headers off):
 * - header names are lower case; a repeated header keeps its last value;
 * - query string values are passed as received, NOT url-decoded (the ALB does not
 *   decode them; handlers must), and a repeated parameter keeps its last value;
 * - a textual body is passed as utf8, anything else base64 with isBase64Encoded.
 */
/** The ALB's Lambda target limit on a request body; larger ones are refused with 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** How a handler is invoked: the ALB's event shape (the portal) or API Gateway's (the API). */
export interface EventShape<TEvent, TResult> {
  toEvent(req: IncomingMessage, body: Buffer, headers: Record<string, string>): TEvent;
  write(res: ServerResponse, result: TResult): void;
}

/**
 * Hands a request to a Lambda-style handler as AWS would: the body read whole (refused
 * past MAX_BODY_BYTES), the event in `shape`, the handler's answer written back.
 */
export async function invoke<TEvent, TResult>(
  req: IncomingMessage,
  res: ServerResponse,
  handler: (event: TEvent) => Promise<TResult>,
  shape: EventShape<TEvent, TResult>,
  headers: Record<string, string>,
): Promise<void> {
  const body = await readBody(req, MAX_BODY_BYTES);
  shape.write(res, await handler(shape.toEvent(req, body, headers)));
}

export const LOCAL_TARGET_GROUP_ARN =
  'arn:aws:elasticloadbalancing:zz-local-1:000000000000:targetgroup/hubless-local-portal/0000000000000000';

const TEXT_TYPES =
  /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript|graphql)|[^;]*\+(json|xml))/i;

function isTextual(contentType: string | undefined, contentEncoding: string | undefined): boolean {
  return !contentEncoding && (!contentType || TEXT_TYPES.test(contentType));
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? (value.at(-1) ?? '') : value;
  }
  return out;
}

function encodeBody(
  body: Buffer,
  headers: Record<string, string>,
): { body: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { body: '', isBase64Encoded: false };
  if (isTextual(headers['content-type'], headers['content-encoding'])) {
    const text = body.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(body)) return { body: text, isBase64Encoded: false };
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
}

export function toAlbEvent(
  req: IncomingMessage,
  body: Buffer,
  headers: Record<string, string> = flatHeaders(req.headers),
): AlbEvent {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  const event: AlbEvent = {
    requestContext: { elb: { targetGroupArn: LOCAL_TARGET_GROUP_ARN } },
    httpMethod: req.method ?? 'GET',
    path,
    headers,
    body: null,
    isBase64Encoded: false,
  };
  const params: Record<string, string> = {};
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    params[eq < 0 ? pair : pair.slice(0, eq)] = eq < 0 ? '' : pair.slice(eq + 1);
  }
  // The ALB always sends the object, empty when the URL has no query.
  event.queryStringParameters = params;
  const encoded = encodeBody(body, headers);
  event.body = encoded.body;
  event.isBase64Encoded = encoded.isBase64Encoded;
  return event;
}

export function writeAlbResult(res: ServerResponse, result: AlbResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name.toLowerCase()] = values.map(String);
  const body = result.body
    ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);
  headers['content-length'] = String(body.length);
  delete headers['transfer-encoding'];
  res.writeHead(result.statusCode, result.statusDescription?.replace(/^\d+\s*/, '') || undefined, headers);
  res.end(body);
}

export function toHttpApiEvent(
  req: IncomingMessage,
  body: Buffer,
  headers: Record<string, string>,
): HttpApiEvent {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const rawQueryString = q < 0 ? '' : raw.slice(q + 1);
  // API Gateway joins repeated headers and query values with commas, and decodes the query.
  const joined: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'cookie') continue;
    if (name in headers) joined[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const method = req.method ?? 'GET';
  const event: HttpApiEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: joined,
    requestContext: {
      http: {
        method,
        path: safeDecode(rawPath),
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
    },
    isBase64Encoded: false,
  };
  const cookieHeader = req.headers.cookie;
  if (cookieHeader)
    event.cookies = cookieHeader
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean);
  if (rawQueryString) {
    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(rawQueryString))
      params[k] = k in params ? `${params[k]},${v}` : v;
    event.queryStringParameters = params;
  }
  if (body.length > 0) {
    const encoded = encodeBody(body, headers);
    event.body = encoded.body;
    event.isBase64Encoded = encoded.isBase64Encoded;
  }
  return event;
}

export function writeHttpApiResult(res: ServerResponse, result: HttpApiResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  if (!headers['content-type'] && result.body) headers['content-type'] = 'application/json';
  const body = result.body
    ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);
  headers['content-length'] = String(body.length);
  delete headers['transfer-encoding'];
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export const ALB_TARGET: EventShape<AlbEvent, AlbResult> = { toEvent: toAlbEvent, write: writeAlbResult };
export const HTTP_API: EventShape<HttpApiEvent, HttpApiResult> = {
  toEvent: toHttpApiEvent,
  write: writeHttpApiResult,
};
