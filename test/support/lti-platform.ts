import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, exportJWK, generateKeyPair, type JWTPayload, jwtVerify, SignJWT } from 'jose';

/**
 * A simulated LMS for LTI 1.3 tests: its own RSA keys and JWKS, an OIDC authorization
 * endpoint that answers the tool's login redirect with an auto-posting form carrying a
 * signed id_token (response_mode=form_post), as Canvas and Moodle do. `tamper` lets a
 * test change the claims or the signing key of the next launch. `deepLinkUrl` starts a
 * teacher's deep linking request instead; the tool's answer comes back to `/deep-link-return`,
 * where it is checked as an LMS checks it (the tool's JWKS, iss, aud) and kept in `linked`.
 */
export const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
export const DEEP_LINKING = 'https://purl.imsglobal.org/spec/lti-dl/claim/';

export interface LaunchSpecifics {
  user: { sub: string; username: string; name: string; email: string; roles: string[] };
  course: { id: string; label: string; title: string };
  custom?: Record<string, string>;
}

export interface Tamper {
  claims?: (claims: JWTPayload) => JWTPayload;
  /** Sign with a key the platform does not publish (same kid). */
  foreignKey?: boolean;
  /** Post this id_token instead of a fresh one (a replay). */
  idToken?: string;
}

export class SimulatedPlatform {
  readonly clientId = 'hubless-tool-1';
  readonly deploymentId = 'deployment-1';
  readonly kid = randomUUID();
  url = '';
  /** Every id_token this platform posted, newest last. */
  readonly posted: string[] = [];
  next: LaunchSpecifics | undefined;
  tamper: Tamper = {};
  /** Deep linking answers the tool posted back, verified, newest last. */
  readonly linked: JWTPayload[] = [];
  #deepLinking: { toolUrl: string; data: string } | undefined;
  #server: http.Server | undefined;
  #keys!: Awaited<ReturnType<typeof generateKeyPair>>;
  #foreign!: Awaited<ReturnType<typeof generateKeyPair>>;

  get issuer(): string {
    return this.url;
  }

  async start(): Promise<void> {
    this.#keys = await generateKeyPair('RS256', { extractable: true });
    this.#foreign = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(this.#keys.publicKey)), kid: this.kid, alg: 'RS256', use: 'sig' };
    this.#server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', this.url);
      if (url.pathname === '/jwks') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
        return;
      }
      if (url.pathname === '/deep-link-return' && req.method === 'POST') {
        void this.#receiveDeepLink(req).then(
          (title) =>
            res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1>Added to the course: ${title}</h1>`),
          (error: Error) => res.writeHead(400, { 'content-type': 'text/plain' }).end(error.message),
        );
        return;
      }
      if (url.pathname === '/auth') {
        void this.#authorize(url).then(
          (page) => res.writeHead(200, { 'content-type': 'text/html' }).end(page),
          (error: Error) => res.writeHead(400).end(error.message),
        );
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  /** The login URL for a teacher adding the tool to a course (a deep linking request follows). */
  deepLinkUrl(toolUrl: string, launch: LaunchSpecifics): string {
    const url = this.loginUrl(toolUrl, launch);
    this.#deepLinking = { toolUrl, data: `opaque-${randomUUID()}` };
    return url;
  }

  /** The third-party-initiated login URL the LMS sends the browser to when a student clicks the activity. */
  loginUrl(toolUrl: string, launch: LaunchSpecifics): string {
    this.next = launch;
    this.#deepLinking = undefined;
    const url = new URL(`${toolUrl}/lti/login`);
    url.searchParams.set('iss', this.issuer);
    url.searchParams.set('login_hint', launch.user.sub);
    url.searchParams.set('target_link_uri', `${toolUrl}/lti/launch`);
    url.searchParams.set('lti_message_hint', `resource-${launch.course.id}`);
    url.searchParams.set('client_id', this.clientId);
    url.searchParams.set('lti_deployment_id', this.deploymentId);
    return url.toString();
  }

  /** What an LMS does with the tool's answer: verify it against the tool's published keys. */
  async #receiveDeepLink(req: http.IncomingMessage): Promise<string> {
    const pending = this.#deepLinking;
    if (!pending) throw new Error('no deep linking request is pending');
    let body = '';
    for await (const chunk of req) body += chunk;
    const jwt = new URLSearchParams(body).get('JWT') ?? '';
    const keys = createRemoteJWKSet(new URL(`${pending.toolUrl}/lti/jwks`));
    const { payload } = await jwtVerify(jwt, keys, { issuer: this.clientId, audience: this.issuer });
    if (payload[`${LTI}message_type`] !== 'LtiDeepLinkingResponse')
      throw new Error('not a deep linking response');
    if (payload[`${LTI}deployment_id`] !== this.deploymentId) throw new Error('wrong deployment');
    if (payload[`${DEEP_LINKING}data`] !== pending.data) throw new Error('data not echoed');
    this.linked.push(payload);
    const items = payload[`${DEEP_LINKING}content_items`] as Array<{ title: string }>;
    return items.map((item) => item.title).join(', ');
  }

  async #authorize(url: URL): Promise<string> {
    const q = (name: string) => url.searchParams.get(name) ?? '';
    const launch = this.next;
    if (!launch) throw new Error('no launch prepared');
    if (q('client_id') !== this.clientId || q('response_mode') !== 'form_post' || q('scope') !== 'openid')
      throw new Error('bad authorization request');
    if (q('login_hint') !== launch.user.sub) throw new Error('login_hint mismatch');
    const now = Math.floor(Date.now() / 1000);
    let claims: JWTPayload = {
      iss: this.issuer,
      aud: this.clientId,
      sub: launch.user.sub,
      iat: now,
      exp: now + 300,
      nonce: q('nonce'),
      name: launch.user.name,
      email: launch.user.email,
      [`${LTI}message_type`]: 'LtiResourceLinkRequest',
      [`${LTI}version`]: '1.3.0',
      [`${LTI}deployment_id`]: this.deploymentId,
      [`${LTI}target_link_uri`]: q('redirect_uri'),
      [`${LTI}resource_link`]: { id: `link-${launch.course.id}`, title: 'Week 1' },
      [`${LTI}roles`]: launch.user.roles,
      [`${LTI}context`]: { id: launch.course.id, label: launch.course.label, title: launch.course.title },
      [`${LTI}custom`]: launch.custom ?? {},
      [`${LTI}ext`]: { user_username: launch.user.username },
    };
    if (this.#deepLinking) {
      delete claims[`${LTI}resource_link`];
      claims[`${LTI}message_type`] = 'LtiDeepLinkingRequest';
      claims[`${DEEP_LINKING}deep_linking_settings`] = {
        deep_link_return_url: `${this.url}/deep-link-return`,
        accept_types: ['ltiResourceLink'],
        accept_presentation_document_targets: ['window', 'iframe'],
        data: this.#deepLinking.data,
      };
    }
    if (this.tamper.claims) claims = this.tamper.claims(claims);
    const key = this.tamper.foreignKey ? this.#foreign.privateKey : this.#keys.privateKey;
    const idToken =
      this.tamper.idToken ??
      (await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: this.kid, typ: 'JWT' }).sign(key));
    this.posted.push(idToken);
    const field = (name: string, value: string) =>
      `<input type="hidden" name="${name}" value="${value.replace(/"/g, '&quot;')}">`;
    return `<!DOCTYPE html><html><body onload="document.forms[0].submit()">
<p>Simulated LMS: launching hubless…</p>
<form method="post" action="${q('redirect_uri')}">${field('id_token', idToken)}${field('state', q('state'))}</form>
</body></html>`;
  }
}
