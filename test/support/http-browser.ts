import { expect } from 'vitest';

/**
 * A browser made of fetch and a hand-made cookie jar: follows redirects like a browser
 * and submits the embedded provider's login form. Enough to drive the gateway's code
 * flow over real HTTP without Chromium.
 */
export class Browser {
  readonly jar = new Map<string, string>();
  /** Every Set-Cookie line received, in order. */
  readonly setCookies: string[] = [];
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size) headers.set('cookie', [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(new URL(path, this.base), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair = '', ...attributes] = line.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (!value || attributes.some((a) => /^max-age=0$/i.test(a))) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return response;
  }

  /** Follows redirects like a browser; returns the last response and its URL. */
  async follow(
    path: string,
    init: RequestInit = {},
  ): Promise<{ response: Response; url: string; hops: string[] }> {
    let url = new URL(path, this.base).href;
    let response = await this.request(url, init);
    const hops = [url];
    for (let i = 0; i < 15 && response.status >= 300 && response.status < 400; i++) {
      await response.body?.cancel();
      url = new URL(response.headers.get('location') ?? '/', url).href;
      hops.push(url);
      response = await this.request(url);
    }
    return { response, url, hops };
  }
}

/** Opens the login page for a fresh visit to `path` and submits the form. */
export async function signIn(browser: Browser, username: string, password: string, path = '/') {
  const { response: page, url } = await browser.follow(path);
  const html = await page.text();
  expect(page.status).toBe(200);
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&#38;/g, '&');
  if (!action) throw new Error(`no login form at ${url}`);
  return browser.follow(new URL(action, url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  });
}
