import { HublessError } from '../core/errors.ts';
import type { AlbEvent, AlbResult } from './http-types.ts';

/** Small helpers shared by the HTTP handlers: parsing forms, shaping responses, errors. */

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export function html(statusCode: number, body: string, headers: Record<string, string> = {}): AlbResult {
  return {
    statusCode,
    headers: { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS, ...headers },
    body,
  };
}

export function json(statusCode: number, value: unknown, headers: Record<string, string> = {}): AlbResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(value),
  };
}

export function redirect(location: string, statusCode = 303): AlbResult {
  return { statusCode, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

export function bodyText(event: Pick<AlbEvent, 'body' | 'isBase64Encoded'>): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function formFields(event: AlbEvent): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(bodyText(event)));
}

/** Query parameters as the ALB passes them: still percent-encoded. */
export function queryParam(event: AlbEvent, name: string): string | undefined {
  const raw = event.queryStringParameters?.[name];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * Form posts must come from our own pages: browsers send Origin on every POST, and a
 * cross-site form (CSRF) carries another site's origin. Sec-Fetch-Site covers browsers
 * that omit Origin on same-origin requests. The host compared is the one the browser
 * connected to (the ALB and the gateway pass Host through); never X-Forwarded-Host,
 * which any client can send.
 */
export function isSameOrigin(event: AlbEvent): boolean {
  return isSameOriginRequest(event.headers);
}

/** isSameOrigin on a request's headers (lower-case names), for the local gateway's own forms. */
export function isSameOriginRequest(headers: Record<string, string | string[] | undefined>): boolean {
  const origin = headers.origin;
  const host = headers.host;
  if (typeof origin === 'string' && origin && typeof host === 'string' && host) {
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  }
  return headers['sec-fetch-site'] === 'same-origin';
}

export interface ErrorView {
  status: number;
  title: string;
  message: string;
}

/**
 * What a client may see of an error: the reason of an exposed HublessError, else a
 * generic message (the details go to the log, never to the response).
 */
export function errorView(
  error: unknown,
  log: (message: string, fields: Record<string, unknown>) => void,
): ErrorView {
  if (error instanceof HublessError && error.expose) {
    return { status: error.status, title: titleFor(error), message: error.message };
  }
  log('unhandled error', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return {
    status: 500,
    title: 'Something went wrong',
    message:
      'hubless hit an internal error. Try again in a moment; if it keeps happening, tell your administrator.',
  };
}

function titleFor(error: HublessError): string {
  switch (error.code) {
    case 'capacity':
      return 'No room for another server right now';
    case 'spawn_failed':
      return 'Your server could not start';
    case 'unauthorized':
      return 'Please sign in';
    case 'throttled':
      return 'The cloud is busy';
    case 'store_unavailable':
      return 'The session store is unavailable';
    default:
      return error.status === 403 ? 'Not allowed' : error.status === 404 ? 'Not found' : 'That did not work';
  }
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
