import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/**
 * Pages the gateway and the embedded provider produce themselves (login, sign-out,
 * "lab unreachable"). Each is self-contained: no external fonts or scripts, so the
 * Content-Security-Policy can forbid everything but inline styles and, where a page
 * needs one, a single script marked with a per-response nonce.
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Where a page may send a form and who may frame it: only this origin, except on the LTI
 * deep linking pages, which an LMS opens in its own frame and which post back to it.
 */
export interface PageEmbedding {
  /** An extra origin forms may post to. */
  formTarget?: string;
  /** The one origin that may frame the page (else none may). */
  frameAncestor?: string;
}

export function securityHeaders(nonce?: string, embedding: PageEmbedding = {}): Record<string, string> {
  const script = nonce ? `'nonce-${nonce}'` : `'none'`;
  const formAction = embedding.formTarget ? `'self' ${embedding.formTarget}` : `'self'`;
  return {
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; script-src ${script}; img-src 'self' data:; form-action ${formAction}; frame-ancestors ${embedding.frameAncestor ?? `'none'`}; base-uri 'none'`,
    'x-content-type-options': 'nosniff',
    // X-Frame-Options cannot name an origin: frame-ancestors alone speaks when one may frame.
    ...(embedding.frameAncestor ? {} : { 'x-frame-options': 'DENY' }),
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
}

const STYLE = `
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",sans-serif}
body{margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:Canvas;color:CanvasText}
main{width:min(22rem,90vw);padding:2rem;border:1px solid GrayText;border-radius:.75rem}
h1{font-size:1.4rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.9rem 0 .3rem}
input{box-sizing:border-box;width:100%;padding:.55rem;font-size:1rem;border:1px solid GrayText;border-radius:.4rem}
button{margin-top:1.3rem;width:100%;padding:.65rem;font-size:1rem;font-weight:600;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.error{border-left:4px solid #b91c1c;padding:.5rem .75rem;background:#fee2e2;color:#7f1d1d;border-radius:.25rem}
p{line-height:1.45}`;

/** A complete HTML document. `body` must already be escaped. */
export function renderPage(
  title: string,
  body: string,
  options: { nonce?: string; script?: string } = {},
): string {
  const script =
    options.script && options.nonce ? `<script nonce="${options.nonce}">${options.script}</script>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · hubless</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
${script}
</body>
</html>`;
}

export function sendPage(
  res: ServerResponse,
  status: number,
  title: string,
  body: string,
  options: {
    nonce?: string;
    script?: string;
    headers?: Record<string, string | string[]>;
    embedding?: PageEmbedding;
  } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const html = renderPage(title, body, options);
  res.writeHead(status, {
    ...securityHeaders(options.nonce, options.embedding),
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    ...options.headers,
  });
  res.end(html);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}
