import type { IncomingMessage } from 'node:http';
import type { Refusal } from './refusals.ts';

/**
 * What the gateway checks before anything else, because it sits on a network: the
 * Host a request names must be the public URL's (a page on another name that resolves
 * here, DNS rebinding, or a request meant for another site gets 421), and headers only a
 * proxy may set are never taken from the client.
 */

export class PublicHost {
  readonly url: string;
  readonly #accepted: Set<string>;

  /**
   * `listening`: the address the gateway listens on (host:port), which labs and the
   * control plane's own calls name; an address literal, so no DNS can be made to point
   * a page's name at it.
   */
  constructor(publicUrl: string, listening: string) {
    const url = new URL(publicUrl);
    this.url = url.origin;
    const defaultPort = url.protocol === 'https:' ? '443' : '80';
    // URL.host drops a default port; a client may still send it.
    this.#accepted = new Set([
      url.host.toLowerCase(),
      `${url.hostname.toLowerCase()}:${url.port || defaultPort}`,
      listening.toLowerCase(),
    ]);
  }

  accepts(host: string | undefined): boolean {
    return (
      host !== undefined &&
      this.#accepted.has(
        host
          .trim()
          .toLowerCase()
          .replace(/\.(?=:|$)/, ''),
      )
    );
  }

  /** The refusal for a request whose Host is not the public one. */
  refusal(host: string | undefined): Refusal {
    if (!host)
      return {
        status: 400,
        code: 'missing_host',
        title: 'Bad request',
        message: `The request has no Host header; open ${this.url}/ in a browser.`,
      };
    return {
      status: 421,
      code: 'wrong_host',
      title: 'Wrong address',
      message: `This hubless answers only as ${this.url}, not as "${host}". Open ${this.url}/ instead (an administrator sets the address with HUBLESS_PUBLIC_URL).`,
    };
  }
}

/**
 * Headers a client must never choose: the ALB and the gateway set the identity and the
 * forwarding ones themselves. A client-sent X-Forwarded-Host would otherwise pass a
 * cross-site form as same-origin, and X-Forwarded-For would forge the address throttling
 * counts.
 */
export function isProxyOnlyHeader(name: string): boolean {
  return name.startsWith('x-amzn-oidc-') || name.startsWith('x-forwarded-') || name === 'forwarded';
}

/** The forwarding headers the gateway sets itself, as the ALB does. */
export function forwardedHeaders(req: IncomingMessage, publicProto: string): Record<string, string> {
  const headers: Record<string, string> = {
    'x-forwarded-for': req.socket.remoteAddress ?? '',
    'x-forwarded-proto': publicProto,
  };
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}

/** One year, as browsers' HSTS preload lists ask; sent only over HTTPS. */
export const HSTS = 'max-age=31536000';
