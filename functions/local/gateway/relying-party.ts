import * as client from 'openid-client';

/**
 * The gateway's OpenID relying party (what the ALB's `authenticate-cognito` action does):
 * authorization code + PKCE + state + nonce against the embedded provider, discovered
 * through the provider's own public URL. Discovery is lazy because the provider is
 * served by the very server that must be listening before it can be discovered.
 */
export interface SignedIn {
  sub: string;
  username: string;
  email?: string;
  idToken?: string;
}

export class RelyingParty {
  readonly #issuer: URL;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #redirectUri: string;
  #config: Promise<client.Configuration> | undefined;

  constructor(options: { issuer: string; clientId: string; clientSecret: string; redirectUri: string }) {
    this.#issuer = new URL(options.issuer);
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#redirectUri = options.redirectUri;
  }

  #configuration(): Promise<client.Configuration> {
    this.#config ??= client
      .discovery(this.#issuer, this.#clientId, undefined, client.ClientSecretBasic(this.#clientSecret), {
        // Local mode serves the provider over plain HTTP on the loopback interface.
        execute: this.#issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [],
        timeout: 5,
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
      scope: 'openid email profile',
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
  ): Promise<SignedIn> {
    const config = await this.#configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('The provider returned no ID token.');
    const username = typeof claims.username === 'string' ? claims.username : claims.sub;
    const signedIn: SignedIn = { sub: claims.sub, username };
    if (typeof claims.email === 'string') signedIn.email = claims.email;
    if (tokens.id_token) signedIn.idToken = tokens.id_token;
    return signedIn;
  }

  /** The provider's end-session URL, coming back to `postLogoutRedirectUri`. */
  async logoutUrl(options: { idToken?: string; postLogoutRedirectUri: string }): Promise<string> {
    const config = await this.#configuration();
    const params: Record<string, string> = {
      post_logout_redirect_uri: options.postLogoutRedirectUri,
      client_id: this.#clientId,
    };
    if (options.idToken) params.id_token_hint = options.idToken;
    return client.buildEndSessionUrl(config, params).href;
  }
}
