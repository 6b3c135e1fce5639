import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { AlbEvent, AlbResult } from '../../functions/handlers/http-types.ts';
import { toAlbEvent, writeAlbResult } from '../../functions/local/gateway/lambda-events.ts';
import type { SimCognito } from './directory.ts';
import { type Balancer, ruleMatches, type SimElb } from './elb.ts';

/**
 * The data plane: an HTTP front per load balancer, and Cognito's hosted UI.
 *
 * The front does what an ALB listener does with a request: evaluates the listener's
 * rules in priority order by host and path; runs `authenticate-cognito` (a request
 * without a live ALB session, no cookie or one older than the rule's SessionTimeout,
 * gets what the rule's OnUnauthenticatedRequest says: "deny" a 401, "allow" forwarded
 * with no identity, "authenticate" a redirect to the hosted UI, coming back through
 * /oauth2/idpresponse; with one, the request gets `x-amzn-oidc-data` signed ES256 with
 * `kid`, `signer`, `iss`, `client` and `exp` in its header, `x-amzn-oidc-accesstoken`
 * and `x-amzn-oidc-identity`, whatever the client sent under those names removed);
 * then forwards to the portal Lambda or to a target of the rule's target group (healthy
 * targets, or all of them when none is, as ALB fails open).
 */

export interface AlbSigner {
  kid: string;
  pem: string;
  /** `claims`: Cognito's userinfo answer, which is what the ALB passes: the user's attributes. */
  sign(
    claims: { sub: string; username: string; email?: string; claims?: Record<string, string> },
    signer: string,
  ): Promise<string>;
  accessToken(claims: { sub: string; username: string; scope: string }): Promise<string>;
}

export async function createAlbSigner(options: { issuer: string; clientId: string }): Promise<AlbSigner> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const access = await generateKeyPair('RS256');
  const kid = randomUUID();
  const pem = await exportSPKI(publicKey);
  return {
    kid,
    pem,
    async sign(claims, signer) {
      const exp = Math.floor(Date.now() / 1000) + 120;
      const payload: Record<string, unknown> = {
        ...claims.claims,
        sub: claims.sub,
        username: claims.username,
        exp,
        iss: options.issuer,
      };
      if (claims.email) payload.email = claims.email;
      return new SignJWT(payload)
        .setProtectedHeader({
          alg: 'ES256',
          typ: 'JWT',
          kid,
          signer,
          iss: options.issuer,
          client: options.clientId,
          exp,
        })
        .sign(privateKey as CryptoKey);
    },
    async accessToken(claims) {
      return new SignJWT({
        sub: claims.sub,
        username: claims.username,
        scope: claims.scope,
        token_use: 'access',
        client_id: options.clientId,
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'cognito-sim' })
        .setIssuer(options.issuer)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(access.privateKey as CryptoKey);
    },
  };
}

interface AlbSession {
  sub: string;
  username: string;
  email?: string;
  /** The user's other attributes at sign-in (preferred_username, custom:..., identities). */
  claims: Record<string, string>;
  scope: string;
  /** When the ALB session ends (ms): sign-in time plus the SessionTimeout of the rule that began it. */
  until: number;
  /** The access token Cognito issued (valid an hour): the ALB forwards the same one until it is refreshed. */
  accessToken?: { value: string; until: number };
  /** The last identity header signed per balancer, reused while it has more than a minute to live. */
  signed: Map<string, { value: string; until: number }>;
}

export interface FrontOptions {
  elb: SimElb;
  cognito: SimCognito;
  signer: AlbSigner;
  hostedUiHost: string;
  cookieName: string;
  /** Invokes the portal Lambda. */
  portal: (event: AlbEvent) => Promise<AlbResult>;
  /** The loopback port of a target IP's lab. */
  targetPort: (ip: string, port: number) => number | undefined;
}

/** ALB sessions and hosted-UI codes, shared by every balancer of the account. */
export class DataPlane {
  readonly fronts: Array<{ balancer: Balancer; server: Server; port: number }> = [];
  hostedUi?: { server: Server; port: number };
  readonly #sessions = new Map<string, AlbSession>();
  readonly #codes = new Map<string, { username: string; clientId: string; redirectUri: string }>();
  /** Sign-ins under way: where to return, and the session timeout of the rule that asked. */
  readonly #states = new Map<string, { target: string; timeoutSeconds: number }>();
  readonly #cognitoSessions = new Map<string, string>();
  readonly #options: FrontOptions;
  /** Requests answered per rule kind, for the run's figures. */
  readonly served = { portal: 0, lab: 0, signIn: 0, denied: 0, notFound: 0, failed: 0 };

  constructor(options: FrontOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    for (const balancer of this.#options.elb.balancers) {
      const server = createServer((req, res) => {
        this.#front(balancer, req, res).catch((error: unknown) => {
          this.served.failed += 1;
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`502 Bad Gateway (simulated ALB): ${(error as Error).message}`);
        });
      });
      server.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      this.fronts.push({ balancer, server, port: (server.address() as AddressInfo).port });
    }
    const ui = createServer((req, res) => {
      // A failing trigger must not leave the browser waiting: Cognito answers an error page.
      this.#hostedUi(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`500 (simulated Cognito): ${(error as Error).message}`);
      });
    });
    await new Promise<void>((resolve) => ui.listen(0, '127.0.0.1', resolve));
    this.hostedUi = { server: ui, port: (ui.address() as AddressInfo).port };
  }

  /** The loopback port playing `host` (a pool host, or the hosted UI). */
  resolve(host: string): number | undefined {
    if (host === this.#options.hostedUiHost) return this.hostedUi?.port;
    return this.fronts.find((front) => front.balancer.host === host)?.port;
  }

  close(): void {
    for (const { server } of this.fronts) {
      server.closeAllConnections();
      server.close();
    }
    this.hostedUi?.server.closeAllConnections();
    this.hostedUi?.server.close();
  }

  async #front(balancer: Balancer, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
    const url = new URL(req.url ?? '/', `https://${host}`);
    if (url.pathname === '/oauth2/idpresponse') return this.#idpResponse(url, res);
    const rule = this.#options.elb
      .rulesOf(balancer.listenerArn)
      .find((r) => ruleMatches(r, host, url.pathname));
    if (!rule) {
      this.served.notFound += 1;
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('Not found (listener default action)');
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith('x-amzn-oidc-')) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    for (const action of [...rule.Actions].sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0))) {
      if (action.Type === 'authenticate-cognito') {
        const config = action.AuthenticateCognitoConfig ?? {};
        const cookieName = String(config.SessionCookieName ?? 'AWSELBAuthSessionCookie');
        const cookie = cookieOf(req, `${cookieName}-0`) ?? '';
        let session = this.#sessions.get(cookie);
        if (session && Date.now() >= session.until) {
          this.#sessions.delete(cookie);
          session = undefined;
        }
        if (!session && config.OnUnauthenticatedRequest === 'allow') continue;
        if (!session) {
          if (config.OnUnauthenticatedRequest === 'deny') {
            this.served.denied += 1;
            res.writeHead(401, { 'content-type': 'text/html' });
            return void res.end('<html><body><h1>401 Authorization Required</h1></body></html>');
          }
          this.served.signIn += 1;
          const state = randomBytes(12).toString('hex');
          this.#states.set(state, {
            target: url.toString(),
            timeoutSeconds: Number(config.SessionTimeout ?? 604_800),
          });
          const authorize = new URL(`https://${this.#options.hostedUiHost}/oauth2/authorize`);
          authorize.search = new URLSearchParams({
            client_id: String(config.UserPoolClientId ?? ''),
            redirect_uri: `https://${host}/oauth2/idpresponse`,
            response_type: 'code',
            scope: String(config.Scope ?? 'openid'),
            state,
          }).toString();
          res.writeHead(302, { location: authorize.toString() });
          return void res.end();
        }
        headers['x-amzn-oidc-data'] = await this.#identity(session, balancer.loadBalancerArn);
        if (!session.accessToken || session.accessToken.until <= Date.now())
          session.accessToken = {
            value: await this.#options.signer.accessToken(session),
            until: Date.now() + 50 * 60_000,
          };
        headers['x-amzn-oidc-accesstoken'] = session.accessToken.value;
        headers['x-amzn-oidc-identity'] = session.sub;
        continue;
      }
      if (action.Type === 'forward' && action.lambda) {
        this.served.portal += 1;
        const body = await readAll(req);
        const event = toAlbEvent(req, body, headers);
        return writeAlbResult(res, await this.#options.portal(event));
      }
      if (action.Type === 'forward' && action.TargetGroupArn) {
        const group = this.#options.elb.targetGroups.get(action.TargetGroupArn);
        const targets = [...(group?.targets.values() ?? [])];
        const healthy = targets.filter((t) => t.state === 'healthy');
        const pick = (healthy.length > 0 ? healthy : targets)[0];
        const port = pick ? this.#options.targetPort(pick.id, pick.port) : undefined;
        if (!pick || !port) {
          res.writeHead(503, { 'content-type': 'text/plain' });
          return void res.end('503 Service Temporarily Unavailable');
        }
        this.served.lab += 1;
        return proxy(req, res, port, headers);
      }
      if (action.Type === 'fixed-response') return void res.writeHead(404).end();
    }
    res.writeHead(500).end('rule without a terminal action');
  }

  /**
   * The identity header for a session on a balancer. Signing ES256 per request costs the
   * one-threaded simulator more than anything a lab does; the header is reused while it
   * has more than a minute to live (its expiry is two minutes), which a lab cannot tell
   * from a fresh one. A clock moved past it (clock.ts) gets a new one.
   */
  async #identity(session: AlbSession, signer: string): Promise<string> {
    const cached = session.signed.get(signer);
    if (cached && cached.until > Date.now()) return cached.value;
    const value = await this.#options.signer.sign(session, signer);
    session.signed.set(signer, { value, until: Date.now() + 60_000 });
    return value;
  }

  #idpResponse(url: URL, res: ServerResponse): void {
    const code = this.#codes.get(url.searchParams.get('code') ?? '');
    const state = this.#states.get(url.searchParams.get('state') ?? '');
    if (!code || !state)
      return void res.writeHead(401, { 'content-type': 'text/plain' }).end('401 Authorization Required');
    this.#codes.delete(url.searchParams.get('code') ?? '');
    this.#states.delete(url.searchParams.get('state') ?? '');
    const user = this.#options.cognito.users.get(code.username);
    if (!user) return void res.writeHead(401).end();
    const id = randomBytes(24).toString('base64url');
    const email = user.attributes.find((a) => a.Name === 'email')?.Value;
    const claims: Record<string, string> = {};
    for (const { Name, Value } of user.attributes) if (Name && Value !== undefined) claims[Name] = Value;
    this.#sessions.set(id, {
      sub: user.sub,
      username: user.username,
      claims,
      ...(email ? { email } : {}),
      scope: 'openid email profile',
      until: Date.now() + state.timeoutSeconds * 1000,
      signed: new Map(),
    });
    res.writeHead(302, {
      location: state.target,
      'set-cookie': `${this.#options.cookieName}-0=${id}; Path=/; Secure; HttpOnly; SameSite=None`,
    });
    res.end();
  }

  /** Cognito's hosted UI: /oauth2/authorize, and the sign-in form's POST /login. */
  async #hostedUi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `https://${this.#options.hostedUiHost}`);
    const params = url.searchParams;
    const redirectTo = (username: string) => {
      const code = randomBytes(16).toString('hex');
      this.#codes.set(code, {
        username,
        clientId: params.get('client_id') ?? '',
        redirectUri: params.get('redirect_uri') ?? '',
      });
      const back = new URL(params.get('redirect_uri') ?? '');
      back.search = new URLSearchParams({ code, state: params.get('state') ?? '' }).toString();
      res.writeHead(302, { location: back.toString() });
      res.end();
    };
    if (url.pathname === '/oauth2/authorize') {
      const known = this.#cognitoSessions.get(cookieOf(req, 'cognito') ?? '');
      if (known) return redirectTo(known);
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end(`<form method="post" action="/login${url.search}">sign in</form>`);
    }
    // The school's identity provider answered for `subject` (the test plays the provider):
    // Cognito signs the person in, or sends the refusal back to the client's redirect URI.
    if (url.pathname === '/federated') {
      const result = await this.#options.cognito.federatedSignIn(
        params.get('provider') ?? '',
        params.get('subject') ?? '',
        JSON.parse(params.get('attributes') ?? '{}') as Record<string, string>,
      );
      if ('refused' in result) {
        const back = new URL(params.get('redirect_uri') ?? '');
        back.search = new URLSearchParams({
          error_description: result.refused,
          error: 'invalid_request',
          state: params.get('state') ?? '',
        }).toString();
        return void res.writeHead(302, { location: back.toString() }).end();
      }
      const id = randomBytes(16).toString('hex');
      this.#cognitoSessions.set(id, result.username);
      res.setHeader('set-cookie', `cognito=${id}; Path=/; Secure; HttpOnly`);
      return redirectTo(result.username);
    }
    if (url.pathname === '/login' && req.method === 'POST') {
      const form = new URLSearchParams((await readAll(req)).toString('utf8'));
      const result = this.#options.cognito.signIn(
        form.get('username') ?? '',
        form.get('password') ?? '',
        form.get('new_password') ?? undefined,
      );
      if ('refused' in result) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return void res.end(`<p class="error">${result.refused}</p>`);
      }
      const id = randomBytes(16).toString('hex');
      this.#cognitoSessions.set(id, result.username);
      res.setHeader('set-cookie', `cognito=${id}; Path=/; Secure; HttpOnly`);
      return redirectTo(result.username);
    }
    res.writeHead(404).end();
  }
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  port: number,
  headers: Record<string, string>,
): Promise<void> {
  return new Promise((resolve) => {
    const upstream = request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', resolve);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end('502 Bad Gateway');
      resolve();
    });
    req.pipe(upstream);
  });
}
