import { Agent, request } from 'node:http';

/**
 * A student's browser: a cookie jar per host, redirects followed, and every https URL
 * of the simulated deployment (the pool hosts, Cognito's hosted UI) sent to the loopback
 * port that plays that host, with the real Host header.
 */
export interface Page {
  status: number;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type Resolver = (host: string) => number | undefined;

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export class Browser {
  readonly #jar = new Map<string, Map<string, string>>();
  readonly #resolve: Resolver;

  constructor(resolve: Resolver) {
    this.#resolve = resolve;
  }

  /** A GET; with `follow: false` the first answer, as script code (XHR, WebSocket) sees a redirect. */
  async get(
    url: string,
    headers: Record<string, string> = {},
    options: { follow?: boolean } = {},
  ): Promise<Page> {
    if (options.follow === false) return this.#send('GET', url, undefined, headers);
    return this.#follow('GET', url, undefined, headers);
  }

  /** A form post from `url`'s own origin (the portal refuses cross-site forms). */
  async post(url: string, form: Record<string, string>, options: { follow?: boolean } = {}): Promise<Page> {
    const body = new URLSearchParams(form).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin };
    if (options.follow === false) return this.#send('POST', url, body, headers);
    return this.#follow('POST', url, body, headers);
  }

  async #follow(
    method: string,
    url: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<Page> {
    let current = url;
    let currentMethod = method;
    let currentBody = body;
    for (let hop = 0; hop < 12; hop++) {
      const page = await this.#send(currentMethod, current, currentBody, headers).catch((error: unknown) => {
        // A kept-alive connection the server closed as we reused it: a browser retries a GET.
        if (currentMethod !== 'GET' || !/ECONNRESET|socket hang up/.test(String(error))) throw error;
        return this.#send(currentMethod, current, currentBody, headers);
      });
      const location = page.headers.location;
      if (page.status < 300 || page.status >= 400 || typeof location !== 'string') return page;
      current = new URL(location, current).toString();
      if (page.status === 303 || page.status === 302 || page.status === 301) {
        currentMethod = 'GET';
        currentBody = undefined;
        headers = {};
      }
    }
    throw new Error(`Too many redirects from ${url}`);
  }

  #send(
    method: string,
    url: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<Page> {
    const target = new URL(url);
    const port = this.#resolve(target.hostname);
    if (!port) return Promise.reject(new Error(`No simulated host answers ${target.hostname}`));
    const jar = this.#jar.get(target.hostname);
    const cookie = jar ? [...jar].map(([name, value]) => `${name}=${value}`).join('; ') : '';
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: `${target.pathname}${target.search}`,
          agent,
          headers: {
            host: target.host,
            'x-forwarded-proto': 'https',
            ...(cookie ? { cookie } : {}),
            ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            this.#store(target.hostname, res.headers['set-cookie']);
            resolve({
              status: res.statusCode ?? 0,
              url,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  #store(host: string, cookies: string[] | undefined): void {
    for (const line of cookies ?? []) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const jar = this.#jar.get(host) ?? new Map<string, string>();
      this.#jar.set(host, jar);
      if (attributes.some((a) => /^max-age=0$/i.test(a)) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }
}
