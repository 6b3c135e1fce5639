import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlbJwtVerifier } from 'aws-jwt-verify';
import { AlbJwksCache } from 'aws-jwt-verify/alb-cache';

/**
 * A small stand-in for a lab task, so a thousand fit on one machine. It answers what
 * the control plane and the ALB ask of a Jupyter server: `<base>api` (the health check,
 * open to anyone), `<base>api/status`, `<base>api/kernels`, `<base>api/terminals`, and
 * any other page under its base URL. Everything but the health check passes the same
 * gate as the real lab (containers/lab/hubless_lab/gate.py): the control plane's token
 * in `Authorization: token …`, or the ALB-signed `x-amzn-oidc-data` naming the owner,
 * verified with aws-jwt-verify against the keys the simulated ALB serves. Anyone else
 * gets 403.
 *
 * The activity switch: an active lab reports activity now; an idle one reports its
 * last activity as when it started.
 */
export interface LabKeys {
  /** PEM of `kid`, as `<keysUrl>/<kid>` would answer. */
  pem(kid: string): string | undefined;
}

export class FakeLab {
  readonly env: Record<string, string>;
  active = true;
  /** Requests that passed the gate as the owner (browser traffic through the ALB). */
  ownerRequests = 0;
  refused = 0;
  readonly #server: Server;
  readonly #startedAt = new Date().toISOString();
  #closed = false;
  readonly #verify: (header: string) => Promise<string>;

  private constructor(env: Record<string, string>, verify: (header: string) => Promise<string>) {
    this.env = env;
    this.#verify = verify;
    this.#server = createServer((req, res) => void this.#answer(req.url ?? '/', req.headers, res));
    this.#server.keepAliveTimeout = 1000;
  }

  static async start(env: Record<string, string>, verifier: LabVerifier): Promise<FakeLab> {
    const lab = new FakeLab(env, (header) => verifier.owner(header));
    await new Promise<void>((resolve) => lab.#server.listen(0, '127.0.0.1', resolve));
    return lab;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get owner(): string {
    return this.env.HUBLESS_OWNER ?? '';
  }

  /**
   * The ALB's health check, answered as `<base>api` over HTTP would be but without a
   * connection: a class of labs checked twice a second each was most of the simulator's
   * work (a socket write per check), and it is the control plane, not the lab's HTTP
   * stack, that the runs test. A closed lab answers nothing (0).
   */
  healthCheck(path: string): number {
    if (this.#closed) return 0;
    const base = this.env.HUBLESS_BASE_URL ?? '/';
    if (!path.startsWith(base)) return 404;
    return path.slice(base.length) === 'api' ? 200 : 403;
  }

  close(): void {
    this.#closed = true;
    this.#server.closeAllConnections();
    this.#server.close();
  }

  async #answer(
    url: string,
    headers: Record<string, string | string[] | undefined>,
    res: import('node:http').ServerResponse,
  ): Promise<void> {
    const base = this.env.HUBLESS_BASE_URL ?? '/';
    const path = url.split('?')[0] ?? '/';
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!path.startsWith(base)) return send(404, { message: `Not under ${base}` });
    const rest = path.slice(base.length);
    if (rest === 'api') return send(200, { version: '2.14.2' });
    const caller = await this.#caller(headers);
    if (!caller.ok) {
      this.refused += 1;
      return send(403, { message: caller.reason });
    }
    if (!caller.token) this.ownerRequests += 1;
    const last = this.active ? new Date().toISOString() : this.#startedAt;
    if (rest === 'api/status')
      return send(200, { started: this.#startedAt, last_activity: last, connections: 0, kernels: 1 });
    if (rest === 'api/kernels')
      return send(200, [
        { id: 'k1', name: 'python3', last_activity: last, execution_state: 'idle', connections: 0 },
      ]);
    if (rest === 'api/terminals') return send(200, []);
    return send(200, { lab: this.owner, path: rest });
  }

  async #caller(
    headers: Record<string, string | string[] | undefined>,
  ): Promise<{ ok: true; token: boolean } | { ok: false; reason: string }> {
    const auth = String(headers.authorization ?? '');
    const match = /^token\s+(\S+)\s*$/i.exec(auth);
    if (match?.[1] && this.#tokenMatches(match[1])) return { ok: true, token: true };
    const header = headers['x-amzn-oidc-data'];
    if (typeof header !== 'string') return { ok: false, reason: 'No identity header.' };
    try {
      const user = await this.#verify(header);
      if (user.toLowerCase() !== this.owner.toLowerCase())
        return { ok: false, reason: `This server belongs to ${this.owner}.` };
      return { ok: true, token: false };
    } catch (error) {
      return { ok: false, reason: `Identity refused: ${(error as Error).message}` };
    }
  }

  /** The token itself (today), or its SHA-256 (a lab that is given only the hash). */
  #tokenMatches(token: string): boolean {
    const plain = this.env.HUBLESS_LAB_TOKEN;
    if (plain) return equal(token, plain);
    const hash = this.env.HUBLESS_LAB_TOKEN_SHA256 ?? this.env.HUBLESS_LAB_TOKEN_HASH;
    return !!hash && equal(createHash('sha256').update(token).digest('hex'), hash);
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The owner check's verifier, shared by every lab (their identity settings are the same). */
export class LabVerifier {
  readonly #verifier: { verify(token: string): Promise<Record<string, unknown>> };

  constructor(env: Record<string, string>, keys: LabKeys) {
    const signer = (env.HUBLESS_IDENTITY_SIGNER ?? '').split(',').filter(Boolean);
    const jwksCache = new AlbJwksCache({
      fetcher: {
        fetch: async (uri: string) => {
          const pem = keys.pem(uri.split('/').pop() ?? '');
          if (!pem) throw new Error(`no key at ${uri}`);
          return new TextEncoder().encode(pem).buffer as ArrayBuffer;
        },
      },
    });
    this.#verifier = AlbJwtVerifier.create(
      {
        albArn: signer,
        issuer: env.HUBLESS_IDENTITY_ISSUER ?? '',
        clientId: env.HUBLESS_IDENTITY_CLIENT ?? null,
        jwksUri: (env.HUBLESS_IDENTITY_KEYS_URL ?? '').replace(/\/+$/, ''),
      },
      { jwksCache },
    ) as never;
  }

  async owner(header: string): Promise<string> {
    const payload = await this.#verifier.verify(header);
    return String(payload.username ?? '');
  }
}
