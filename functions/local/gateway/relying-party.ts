import { request } from 'node:https';
import * as client from 'openid-client';

/**
 * The gateway's OpenID relying party (what the ALB's `authenticate-cognito` action does):
 * authorization code + PKCE + state + nonce against the embedded provider, discovered
 * through the provider's own public URL, or against the school's upstream provider
 * (HUBLESS_OIDC_ISSUER). Discovery is lazy because the embedded provider is served by the
 * very server that must be listening before it can be discovered.
 */
export interface SignedIn {
  sub: string;
  username: string;
  email?: string;
}

/** What the provider said about who signed in: its ID token's claims, plus userinfo's when asked. */
export interface ProviderIdentity {
  issuer: string;
  subject: string;
  claims: Record<string, unknown>;
}

export class RelyingParty {
  readonly #issuer: URL;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #redirectUri: string;
  readonly #ca: string | undefined;
  readonly #scope: string;
  readonly #userinfo: boolean;
  #config: Promise<client.Configuration> | undefined;

  /**
   * `ca`: the gateway's own certificate, trusted for these calls to itself (it may be self-signed).
   * `userinfo`: also read the userinfo endpoint (an upstream provider may put groups only there).
   */
  constructor(options: {
    issuer: string;
    clientId: string;
    clientSecret: string;
    redirectUri: string;
    ca?: string;
    scope?: string;
    userinfo?: boolean;
  }) {
    this.#issuer = new URL(options.issuer);
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#redirectUri = options.redirectUri;
    this.#ca = options.ca;
    this.#scope = options.scope ?? 'openid email profile';
    this.#userinfo = options.userinfo ?? false;
  }

  #configuration(): Promise<client.Configuration> {
    this.#config ??= client
      .discovery(this.#issuer, this.#clientId, undefined, client.ClientSecretBasic(this.#clientSecret), {
        // Local mode serves the provider over plain HTTP on the loopback interface.
        execute: this.#issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [],
        timeout: 5,
        ...(this.#ca ? { [client.customFetch]: fetchTrusting(this.#ca) } : {}),
      })
      .catch((error: unknown) => {
        this.#config = undefined; // try again on the next sign-in
        throw error;
      });
    return this.#config;
  }

  /** Where to send the browser, and the secrets to keep until it comes back. */
  async startLogin(): Promise<{ url: string; state: string; nonce: string; codeVerifier: string }> {
    const config = await this.#configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.#redirectUri,
      scope: this.#scope,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, nonce, codeVerifier };
  }

  /** Exchanges the code in `callbackUrl` and checks state, nonce, PKCE and the ID token. */
  async finishLogin(
    callbackUrl: URL,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<ProviderIdentity> {
    const config = await this.#configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw new Error('The provider returned no ID token.');
    let claims: Record<string, unknown> = { ...idClaims };
    if (this.#userinfo && config.serverMetadata().userinfo_endpoint) {
      // fetchUserInfo checks that userinfo's sub is the ID token's; the ID token's iss and sub win.
      const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      claims = { ...info, ...idClaims };
    }
    return { issuer: idClaims.iss, subject: idClaims.sub, claims };
  }
}

/**
 * fetch for openid-client that trusts one certificate: the gateway calls its own
 * provider through the public https URL, whose certificate may be self-signed.
 */
function fetchTrusting(ca: string): client.CustomFetch {
  return (url, options) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        { method: options.method, headers: options.headers, ca, signal: options.signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
            }
            const status = res.statusCode ?? 500;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status, headers }));
          });
        },
      );
      req.on('error', reject);
      const { body } = options;
      if (body === undefined || body === null) req.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
      else if (body instanceof URLSearchParams) req.end(body.toString());
      else if (body instanceof ArrayBuffer) req.end(Buffer.from(body));
      else reject(new TypeError('The provider call has a body this fetch cannot send.'));
    });
}
