import type { IncomingMessage } from 'node:http';

/** What the gateway needs to know about a request's path before it decides anything. */

export function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0 ? raw : raw.slice(0, q);
}

/** No "." or ".." segments, also percent-encoded: the route table matches plain prefixes. */
export function isSafePath(path: string): boolean {
  if (!path.startsWith('/')) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  return !decoded.split(/[/\\]/).some((segment) => segment === '.' || segment === '..');
}

/** Only same-origin paths: never an absolute URL or a protocol-relative one (open redirect). */
export function safeReturnTo(url: string | undefined): string {
  if (!url?.startsWith('/') || url.startsWith('//') || url.startsWith('/\\')) return '/';
  return url;
}

/**
 * Whether the browser is loading a page (rather than an image, a script or a script's
 * fetch). Browsers say so in Sec-Fetch-Dest; /favicon.ico is fetched without a page.
 */
export function isPageNavigation(req: IncomingMessage): boolean {
  const dest = req.headers['sec-fetch-dest'];
  if (dest !== undefined && dest !== 'document' && dest !== 'iframe') return false;
  return pathOf(req.url) !== '/favicon.ico';
}
