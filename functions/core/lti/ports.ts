/**
 * LTI 1.3 (IMS LTI Core 1.3 with OpenID Connect third-party-initiated login): what the
 * tool side of hubless needs to remember. Same habits as core/ports.ts: each method's
 * contract is written here.
 */

/** One LMS registration: what the platform's admin page shows when the tool is added. */
export interface LtiPlatform {
  /** The platform's issuer (`iss`), e.g. "https://canvas.instructure.com". */
  issuer: string;
  /** The client id the platform gave hubless (the id_token's `aud`). */
  clientId: string;
  /** Deployments of the tool on this platform allowed to launch (the `deployment_id` claim). */
  deploymentIds: string[];
  /** Where the platform publishes its signing keys (a JWKS). */
  jwksUrl: string;
  /** The platform's OIDC authorization endpoint (login initiation sends the browser there). */
  authUrl: string;
  /**
   * The id_token claim that names the hubless user, as a dotted path into the claims
   * (e.g. "email", "https://purl.imsglobal.org/spec/lti/claim/ext.user_username").
   * Absent: the user is "lti-" plus a hash of (issuer, sub), never the bare `sub`, so two
   * platforms cannot name the same person.
   */
  usernameClaim?: string;
  createdAt: string;
}

export interface LtiPlatforms {
  list(): Promise<LtiPlatform[]>;
  /** The registration of (issuer, client id), or undefined. */
  get(issuer: string, clientId: string): Promise<LtiPlatform | undefined>;
  /** Creates or replaces the registration of (issuer, client id). */
  put(platform: LtiPlatform): Promise<void>;
  /** Removes it; returns false when there was none. */
  remove(issuer: string, clientId: string): Promise<boolean>;
}

/** A login between initiation and launch (the OIDC `state`). */
export interface LtiLogin {
  state: string;
  nonce: string;
  issuer: string;
  clientId: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface LtiReplayGuard {
  /** Remembers a login until it expires. */
  putLogin(login: LtiLogin): Promise<void>;
  /** Returns the login of `state` and forgets it (a state works once); undefined when unknown or expired. */
  takeLogin(state: string): Promise<LtiLogin | undefined>;
  /** True the first time a nonce is seen (until `expiresAt`, epoch ms), false ever after. */
  claimNonce(nonce: string, expiresAt: number): Promise<boolean>;
}

/**
 * The tool's own RS256 key, the one /lti/jwks publishes: signs what hubless sends a
 * platform (a deep linking response) and what it hands itself through a browser (the
 * deep linking page's pending request), so neither can be forged on the way.
 */
export interface LtiToolKey {
  /** A compact JWS of `claims`, RS256 under the published key id. */
  sign(claims: Record<string, unknown>): Promise<string>;
  /** The claims of a JWS this key signed, checking `exp`; throws for any other token. */
  verify(token: string): Promise<Record<string, unknown>>;
}
