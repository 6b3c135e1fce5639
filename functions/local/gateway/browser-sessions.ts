import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ALB_AUTH } from '../../adapters/aws/names.ts';
import type { LocalDirectory } from '../../adapters/local/local-directory.ts';
import type { UpstreamProvider } from '../../core/config.ts';
import { ForbiddenError, HublessError } from '../../core/errors.ts';
import { type FederationPolicy, signInFederated } from '../../core/federation.ts';
import type { Log } from '../../core/log.ts';
import type { SignInLimits } from '../../core/sign-in-throttle.ts';
import { isSameOriginRequest } from '../../handlers/http.ts';
import type { IdentitySigner } from '../identity-signer.ts';
import { createEmbeddedOidc, type EmbeddedOidc, type MachineClientConfig } from '../oidc/provider.ts';
import type { EndedSessions } from './ended-sessions.ts';
import { escapeHtml, securityHeaders, sendPage } from './html.ts';
import { LOGIN_COOKIE, SESSION_COOKIE } from './identity-headers.ts';
import { gatewayIssuer } from './options.ts';
import { isPageNavigation, safeReturnTo } from './paths.ts';
import { refuse } from './refusals.ts';
import { type ProviderIdentity, RelyingParty, type SignedIn } from './relying-party.ts';
import {
  type BrowserSession,
  ExpiringStore,
  type PendingLogin,
  randomId,
  readCookie,
  serializeCookie,
} from './sessions.ts';

/**
 * Browser sign-in, as the ALB's `authenticate-cognito` does it: an unknown browser is
 * sent to the embedded provider (code + PKCE), comes back at /oauth2/idpresponse and
 * gets an opaque session cookie; a POST to /logout ends both the session and the provider's.
 */
export const CALLBACK_PATH = '/oauth2/idpresponse';
export const LOGOUT_PATH = '/logout';
/** How often a signed-in session re-checks the directory (a disabled user is let go within this). */
const DIRECTORY_RECHECK_MS = 30_000;
/** Logins in flight expire after this (the login cookie too). */
const LOGIN_TTL_SECONDS = 600;

export interface BrowserSignInOptions {
  /** The gateway's public URL, without a trailing slash. */
  publicUrl: string;
  /** Its clientId is the gateway's own client id at the provider. */
  signer: IdentitySigner;
  dataDir: string;
  directory: LocalDirectory;
  /** Machine clients (an LMS) allowed to get API tokens with client credentials. */
  extraClients: MachineClientConfig[];
  /** How long a browser session lasts. Default: the ALB's session timeout (12 hours). */
  sessionTtlSeconds?: number;
  /** Where warnings and failed sign-ins are logged. */
  report: Log;
  /** Password sign-in throttling and lockout; defaults in core/sign-in-throttle.ts. */
  signInLimits?: Partial<SignInLimits>;
  /** Where ended sessions are published for labs (gateway/ended-sessions.ts). */
  ended?: EndedSessions;
  /** The gateway's certificate when it serves HTTPS: trusted for its calls to its own provider. */
  tls?: { cert: string };
  /**
   * The school's OpenID provider: browsers sign in there instead of at the embedded
   * provider, whose machine clients (client credentials) keep working.
   */
  upstream?: UpstreamProvider;
}

/** Turns what the provider said into the user to sign in, or throws an exposed HublessError. */
type UserOf = (identity: ProviderIdentity) => Promise<SignedIn>;

/** The embedded provider's claims name the user as Cognito's do (`username`; sub is the username). */
const embeddedUser: UserOf = async ({ subject, claims }) => {
  const signedIn: SignedIn = {
    sub: subject,
    username: typeof claims.username === 'string' ? claims.username : subject,
  };
  if (typeof claims.email === 'string') signedIn.email = claims.email;
  return signedIn;
};

/** An upstream provider's identity goes through core's mapping; the directory records who owns the name. */
function federatedUser(directory: LocalDirectory, policy: FederationPolicy): UserOf {
  return async ({ issuer, subject, claims }) => {
    const user = await signInFederated(directory, { issuer, subject, claims }, policy);
    if (user.disabled) {
      throw new ForbiddenError('Your account is disabled. Ask an administrator to enable it.', 'disabled');
    }
    const signedIn: SignedIn = { sub: subject, username: user.name };
    if (user.email) signedIn.email = user.email;
    return signedIn;
  };
}

/** Starts the embedded provider with the gateway as its browser client, and the sessions that use it. */
export async function startBrowserSignIn(
  options: BrowserSignInOptions,
): Promise<{ oidc: EmbeddedOidc; sessions: BrowserSessions }> {
  const { publicUrl, signer } = options;
  const issuer = gatewayIssuer(publicUrl);
  const clientId = signer.clientId;
  if (signer.issuer !== issuer) {
    options.report(
      'warn',
      "gateway: the identity signer's issuer is not this gateway's; labs will refuse it",
      {
        signerIssuer: signer.issuer,
        issuer,
      },
    );
  }
  // Both ends of the browser client live in this process, so a fresh secret per start is enough.
  const clientSecret = randomBytes(32).toString('base64url');
  const redirectUri = `${publicUrl}${CALLBACK_PATH}`;
  const oidc = await createEmbeddedOidc({
    issuer,
    dataDir: options.dataDir,
    directory: options.directory,
    browserClient: {
      clientId,
      clientSecret,
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [`${publicUrl}/`],
    },
    extraClients: options.extraClients,
    report: options.report,
    ...(options.signInLimits ? { signInLimits: options.signInLimits } : {}),
  });
  const { upstream } = options;
  const rp = upstream
    ? new RelyingParty({
        issuer: upstream.issuer,
        clientId: upstream.clientId,
        clientSecret: upstream.clientSecret,
        redirectUri,
        scope: upstream.scopes,
        userinfo: true,
      })
    : new RelyingParty({
        issuer,
        clientId,
        clientSecret,
        redirectUri,
        ...(options.tls ? { ca: options.tls.cert } : {}),
      });
  const ttlSeconds = options.sessionTtlSeconds ?? ALB_AUTH.sessionTimeoutSeconds;
  return {
    oidc,
    sessions: new BrowserSessions({
      rp,
      userOf: upstream ? federatedUser(options.directory, upstream.policy) : embeddedUser,
      directory: options.directory,
      publicUrl,
      ttlSeconds,
      report: options.report,
      endProviderSession: (req, res) => oidc.endSession(req, res),
      ...(options.ended ? { ended: options.ended } : {}),
    }),
  };
}

/**
 * The signed-in browsers and the logins in flight, in memory (see sessions.ts). Cookies
 * are Secure when the public URL is https.
 */
export class BrowserSessions {
  readonly #sessions = new ExpiringStore<BrowserSession>(100_000);
  readonly #pending = new ExpiringStore<PendingLogin>(10_000);
  readonly #rp: RelyingParty;
  readonly #userOf: UserOf;
  readonly #directory: LocalDirectory;
  readonly #publicUrl: string;
  readonly #ttlSeconds: number;
  readonly #secure: boolean;
  readonly #report: Log;
  readonly #endProviderSession: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  readonly #ended: EndedSessions | undefined;

  constructor(options: {
    rp: RelyingParty;
    /** Who the provider's identity is in hubless (the embedded provider's claims, or core's federation mapping). */
    userOf: UserOf;
    directory: LocalDirectory;
    publicUrl: string;
    ttlSeconds: number;
    report: Log;
    /** Ends the embedded provider's session of the browser that sent the request. */
    endProviderSession: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    /** Where ended sessions are published for labs; absent: headers live out their 120 s. */
    ended?: EndedSessions;
  }) {
    this.#report = options.report;
    this.#rp = options.rp;
    this.#userOf = options.userOf;
    this.#directory = options.directory;
    this.#publicUrl = options.publicUrl;
    this.#ttlSeconds = options.ttlSeconds;
    this.#secure = options.publicUrl.startsWith('https:');
    this.#endProviderSession = options.endProviderSession;
    this.#ended = options.ended;
  }

  /** Forgets a session and tells labs its identity headers are no longer good. */
  async #end(session: BrowserSession): Promise<void> {
    this.#sessions.delete(session.id);
    await this.#ended?.end(session.sid, session.signed?.expiresAt ?? Date.now());
  }

  /** The request's session, while it lasts and its user is still allowed in. */
  async current(req: IncomingMessage): Promise<BrowserSession | undefined> {
    const session = this.#sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE));
    if (!session) return undefined;
    const now = Date.now();
    if (now - session.checkedAt > DIRECTORY_RECHECK_MS) {
      const user = await this.#directory.get(session.username).catch(() => undefined);
      if (!user || user.disabled) {
        await this.#end(session);
        return undefined;
      }
      session.checkedAt = now;
    }
    return session;
  }

  /** Sends a browser without a session to the provider, remembering where it was going. */
  async startLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only a page navigation starts a sign-in. A browser also fetches /favicon.ico and
    // scripts' XHRs; if those started logins too, each would replace the pending login's
    // cookie and the real callback would fail its state check.
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !isPageNavigation(req)) {
      refuse(req, res, {
        status: 401,
        code: 'unauthorized',
        title: 'Please sign in',
        message: 'Sign in first: open the portal in a browser.',
      });
      return;
    }
    const login = await this.#rp.startLogin();
    const id = randomId();
    const expiresAt = Date.now() + LOGIN_TTL_SECONDS * 1000;
    this.#pending.set({ id, ...login, returnTo: safeReturnTo(req.url), expiresAt });
    this.#redirect(res, login.url, this.#loginCookie(id, LOGIN_TTL_SECONDS));
  }

  /** The provider's callback: checks state, nonce and PKCE, then starts a fresh session. */
  async finishLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.#publicUrl);
    const loginId = readCookie(req.headers.cookie, LOGIN_COOKIE);
    const login = this.#pending.get(loginId);
    const clearLogin = this.#loginCookie('', 0);
    const failed = (title: string, heading: string, next: string, status = 400, code = 'sign_in_failed') =>
      refuse(req, res, {
        status,
        code,
        title,
        message: heading,
        page: `<h1>${heading}</h1>${next}`,
        headers: { 'set-cookie': clearLogin },
      });
    if (url.searchParams.has('error')) {
      this.#pending.delete(loginId);
      failed(
        'Sign-in cancelled',
        'Sign-in did not finish',
        '<p>The sign-in was cancelled or refused.</p><p><a href="/">Try again</a></p>',
      );
      return;
    }
    // Expired, or from another browser: start over (the provider may remember the user).
    if (!login) return this.#redirect(res, '/', clearLogin);
    this.#pending.delete(login.id);
    let identity: ProviderIdentity;
    try {
      identity = await this.#rp.finishLogin(url, login);
    } catch (error) {
      this.#report('warn', 'gateway: sign-in could not be completed', {
        error: error instanceof Error ? error.name : 'error',
      });
      failed('Sign-in failed', 'Sign-in could not be completed', '<p><a href="/">Start again</a></p>');
      return;
    }
    let signedIn: SignedIn;
    try {
      signedIn = await this.#userOf(identity);
    } catch (error) {
      // A genuine identity hubless will not let in (no usable name, a name taken, disabled):
      // the page says why and who can fix it. Starting again would only end here again.
      if (!(error instanceof HublessError) || !error.expose) throw error;
      this.#report('warn', 'gateway: sign-in refused', { code: error.code, issuer: identity.issuer });
      failed(
        'Sign-in refused',
        'hubless cannot sign you in',
        `<p class="error" id="refusal" data-code="${escapeHtml(error.code)}">${escapeHtml(error.message)}</p>`,
        error.status,
        error.code,
      );
      return;
    }
    const session = this.#startSession(req, signedIn);
    this.#redirect(res, login.returnTo, [
      this.#sessionCookie(session.id, Math.floor(this.#ttlSeconds)),
      clearLogin,
    ]);
  }

  /**
   * Signs a browser in as a user another front door has already verified (an LTI launch,
   * whose id_token the LMS signed), then sends it to `location`. A fresh session id, as
   * after any sign-in (session fixation).
   */
  signInVerified(
    req: IncomingMessage,
    res: ServerResponse,
    user: { username: string; sub: string; email?: string },
    location: string,
  ): void {
    const session = this.#startSession(req, user);
    res.writeHead(303, {
      location,
      'set-cookie': this.#sessionCookie(session.id, Math.floor(this.#ttlSeconds)),
      ...securityHeaders(),
    });
    res.end();
  }

  /**
   * A new session for a user who just signed in: never the browser's old session id
   * (session fixation), which is forgotten here.
   */
  #startSession(
    req: IncomingMessage,
    user: { username: string; sub: string; email?: string },
  ): BrowserSession {
    this.#sessions.delete(readCookie(req.headers.cookie, SESSION_COOKIE));
    const now = Date.now();
    const session: BrowserSession = {
      id: randomId(),
      sid: randomId(),
      sub: user.sub,
      username: user.username,
      createdAt: now,
      expiresAt: now + this.#ttlSeconds * 1000,
      checkedAt: now,
    };
    if (user.email) session.email = user.email;
    this.#sessions.set(session);
    return session;
  }

  /**
   * Sign-out. GET only asks (a confirmation form): a link or an image on another site must
   * not sign anyone out (CSRF). POST, from a page of this origin only, ends the browser's
   * session here and its provider session, so the next sign-in asks for the password.
   */
  async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    const session = this.#sessions.get(id);
    if (req.method !== 'POST') {
      const body = session
        ? `<h1>Sign out of hubless?</h1><p>Signed in as <strong>${escapeHtml(session.username)}</strong>.</p>
<form method="post" action="${LOGOUT_PATH}"><button type="submit">Sign out</button></form>
<p><a href="/">Back to the portal</a></p>`
        : '<h1>You are signed out</h1><p><a href="/">Sign in again</a></p>';
      sendPage(res, 200, session ? 'Sign out' : 'Signed out', body);
      return;
    }
    if (!isSameOriginRequest(req.headers)) {
      refuse(req, res, {
        status: 403,
        code: 'forbidden',
        title: 'Sign-out refused',
        message: 'This sign-out was sent from another site. Use the Sign out button in hubless.',
      });
      return;
    }
    this.#sessions.delete(id);
    // Published before the answer: once the browser sees "signed out", labs refuse its headers.
    if (session) await this.#end(session);
    await this.#endProviderSession(req, res);
    // POST, then GET: the answer to a reload is the "signed out" page, not a resubmission.
    res.writeHead(303, {
      location: LOGOUT_PATH,
      'set-cookie': this.#sessionCookie('', 0),
      ...securityHeaders(),
    });
    res.end();
  }

  #sessionCookie(value: string, maxAge: number): string {
    return serializeCookie(SESSION_COOKIE, value, { maxAge, secure: this.#secure });
  }

  #loginCookie(value: string, maxAge: number): string {
    return serializeCookie(LOGIN_COOKIE, value, { path: '/oauth2', maxAge, secure: this.#secure });
  }

  #redirect(res: ServerResponse, location: string, cookies: string | string[]): void {
    res.writeHead(302, { location, 'set-cookie': cookies, ...securityHeaders() });
    res.end();
  }
}
