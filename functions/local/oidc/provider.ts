import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type InteractionDetails, errors as oidcErrors } from 'oidc-provider';
import { DataFileError, parseDataFile } from '../../adapters/local/data-file.ts';
import type { LocalDirectory } from '../../adapters/local/local-directory.ts';
import { JsonLogger } from '../../adapters/log/json-logger.ts';
import { DEFAULT_RESOURCE_SERVER } from '../../core/api/scopes.ts';
import type { Log } from '../../core/log.ts';
import { type SignInLimits, SignInThrottle, waitText } from '../../core/sign-in-throttle.ts';
import { normaliseUsername } from '../../core/username.ts';
import { BodyTooLargeError, readBody } from '../gateway/body.ts';
import { escapeHtml, newNonce, sendPage } from '../gateway/html.ts';
import { OIDC_COOKIES } from '../gateway/identity-headers.ts';
import { memoryAdapterFactory } from './memory-adapter.ts';

/**
 * The embedded OpenID provider: Cognito's stand-in in local mode, built on oidc-provider
 * and mounted under `/oidc` on the gateway's own server (issuer `<publicUrl>/oidc`).
 *
 * - Browsers sign in with authorization code + PKCE through the gateway's confidential
 *   client (the ALB's `authenticate-cognito` counterpart). The login page is ours,
 *   server-rendered, checked against LocalDirectory.verifyPassword, and says only
 *   "wrong username or password", so it does not tell who has an account.
 * - Machine clients (an LMS) use client_credentials and receive JWT access tokens for
 *   the hubless API resource, with the scopes their configuration allows, like a Cognito
 *   resource server with custom scopes.
 * - Claims: sub = username, plus `username` and `email`, as Cognito puts them.
 * - Signing keys and cookie keys persist in `<dataDir>/oidc/keys.json` (0600), so tokens
 *   and API clients' cached keys stay valid across restarts.
 * - Sessions, grants, codes and interactions live in memory (memory-adapter.ts). That
 *   is deliberate: the gateway's own sessions are in memory too (a restart means signing
 *   in again either way), codes live for a minute, and issued JWT access tokens are
 *   verified by signature, not looked up. A persistent adapter would add a store to run
 *   and back up for no benefit a single-machine deployment can see.
 */
export const OIDC_MOUNT_PATH = '/oidc';
/** oidc-provider's default scopes for sign-in; API scopes come from the machine clients. */
const SIGN_IN_SCOPES = ['openid', 'email', 'profile'];

/** An LMS or other program that calls the hubless API with client credentials. */
export interface MachineClientConfig {
  clientId: string;
  clientSecret: string;
  /** API scopes it may request, e.g. ["sessions:write"]. */
  scopes: string[];
}

export interface BrowserClientConfig {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
}

export interface EmbeddedOidcOptions {
  /** `<publicUrl>/oidc`. */
  issuer: string;
  /** Where the provider's server errors are logged. Default: JSON lines. */
  report?: Log;
  dataDir: string;
  directory: LocalDirectory;
  browserClient: BrowserClientConfig;
  extraClients?: MachineClientConfig[];
  /** The resource indicator (and `aud`) of API access tokens. Default `<publicUrl>/api/v1`. */
  apiResource?: string;
  /** Scopes the API accepts besides those the machine clients name. */
  apiScopes?: string[];
  /** Trust X-Forwarded-* (set when a TLS terminator sits in front of the gateway). */
  trustProxy?: boolean;
  /** Password sign-in throttling; defaults in core/sign-in-throttle.ts. */
  signInLimits?: Partial<SignInLimits>;
}

export interface EmbeddedOidc {
  issuer: string;
  apiResource: string;
  provider: Provider;
  /** Serves a request whose path starts with `/oidc`. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /**
   * Ends the provider's session of the browser that sent `req` (its session cookie), so the
   * next sign-in asks for the password again. Done here, on the server, rather than by the
   * end-session page's self-submitting form, which a browser without JavaScript, or one
   * that is closed first, would never send.
   */
  endSession(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/**
 * A machine client's scopes in both spellings: bare ("users:read") and with Cognito's
 * resource-server prefix ("hubless/users:read"), so the token request of the AWS
 * deployment works here unchanged. oidc-provider silently drops a requested scope it
 * does not know, which would hand out a token without scopes (403 on every route).
 */
export function withResourceServerPrefix(scopes: readonly string[]): string[] {
  const prefix = `${DEFAULT_RESOURCE_SERVER}/`;
  const bare = scopes.map((scope) => (scope.startsWith(prefix) ? scope.slice(prefix.length) : scope));
  return [...new Set(bare.flatMap((scope) => [scope, `${prefix}${scope}`]))];
}

/** oidc-provider client metadata for a machine client: client_credentials only, no redirects. */
export function machineClientMetadata(client: MachineClientConfig): Record<string, unknown> {
  if (!client.clientId || !client.clientSecret) {
    throw new Error('A machine client needs a clientId and a clientSecret.');
  }
  return {
    client_id: client.clientId,
    client_secret: client.clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: withResourceServerPrefix(client.scopes).join(' '),
  };
}

function browserClientMetadata(client: BrowserClientConfig): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_secret: client.clientSecret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SIGN_IN_SCOPES.join(' '),
  };
}

interface StoredKeys {
  jwks: { keys: JWK[] };
  cookieKeys: string[];
}

async function loadOrCreateKeys(dataDir: string): Promise<StoredKeys> {
  const dir = join(dataDir, 'oidc');
  const file = join(dir, 'keys.json');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    const fix =
      'Remove it (or move it away) and start hubless again: new keys are made, and everyone signs in again.';
    const stored = parseDataFile(file, text, fix) as StoredKeys | null;
    if (Array.isArray(stored?.jwks?.keys) && stored.jwks.keys.length > 0 && Array.isArray(stored.cookieKeys))
      return stored;
    throw new DataFileError(file, 'is not a hubless OIDC key file', fix);
  }
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = {
    ...(await exportJWK(privateKey)),
    kid: randomBytes(12).toString('base64url'),
    alg: 'RS256',
    use: 'sig',
  };
  const stored: StoredKeys = { jwks: { keys: [jwk] }, cookieKeys: [randomBytes(32).toString('base64url')] };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
  return stored;
}

/** The subset of oidc-provider's Koa context the configuration functions read or write. */
interface OidcContext {
  host: string;
  type: string;
  status: number;
  body: unknown;
  set(name: string, value: string): void;
  oidc: { client?: { clientId: string; grantTypes?: string[] } };
}

export async function createEmbeddedOidc(options: EmbeddedOidcOptions): Promise<EmbeddedOidc> {
  const { directory } = options;
  const report = options.report ?? new JsonLogger().log;
  const issuerUrl = new URL(options.issuer);
  const publicOrigin = issuerUrl.origin;
  const apiResource = options.apiResource ?? `${publicOrigin}/api/v1`;
  const extraClients = options.extraClients ?? [];
  const apiScopes = withResourceServerPrefix([
    ...(options.apiScopes ?? []),
    ...extraClients.flatMap((c) => c.scopes),
  ]);
  const keys = await loadOrCreateKeys(options.dataDir);
  const throttle = new SignInThrottle(options.signInLimits);

  const provider = new Provider(options.issuer, {
    adapter: memoryAdapterFactory(),
    clients: [browserClientMetadata(options.browserClient), ...extraClients.map(machineClientMetadata)],
    jwks: keys.jwks,
    cookies: {
      keys: keys.cookieKeys,
      // The gateway keeps these from labs (gateway/identity-headers.ts).
      names: OIDC_COOKIES,
    },
    scopes: [...SIGN_IN_SCOPES, ...apiScopes],
    claims: { openid: ['sub'], email: ['email'], profile: ['username', 'preferred_username'] },
    // Put the scope claims into the ID token too: the gateway, like the ALB, only needs
    // who the user is, and this spares a userinfo round trip on every sign-in.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(_ctx: unknown, sub: string) {
      let user: Awaited<ReturnType<LocalDirectory['get']>>;
      try {
        user = await directory.get(sub);
      } catch {
        return undefined;
      }
      // A disabled user's provider session stops resolving, so silent re-logins fail too.
      if (!user || user.disabled) return undefined;
      const found = user;
      return {
        accountId: found.name,
        async claims() {
          return {
            sub: found.name,
            username: found.name,
            preferred_username: found.name,
            ...(found.email ? { email: found.email } : {}),
          };
        },
      };
    },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) =>
        `${issuerUrl.pathname.replace(/\/$/, '')}/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Machine clients get API tokens without naming the resource; browser sign-ins
        // get an opaque token for userinfo.
        defaultResource: async (
          _ctx: unknown,
          client: { grantTypes?: string[] },
          oneOf?: string | string[],
        ) => oneOf ?? (client.grantTypes?.includes('client_credentials') ? apiResource : undefined),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (
          _ctx: unknown,
          resourceIndicator: string,
          client: { scope?: string },
        ) => {
          if (resourceIndicator !== apiResource) throw new oidcErrors.InvalidTarget();
          // A token never carries an API scope its client was not configured with.
          const allowed = new Set(client.scope?.split(' ') ?? []);
          return {
            scope: apiScopes.filter((scope) => allowed.has(scope)).join(' '),
            audience: apiResource,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: OidcContext, form: string) => {
          // Sign-out always comes from the gateway's /logout, so the confirmation page
          // submits itself; the button is there for browsers without JavaScript.
          const nonce = newNonce();
          ctx.type = 'html';
          ctx.set(
            'content-security-policy',
            `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; form-action 'self' ${publicOrigin}; frame-ancestors 'none'; base-uri 'none'`,
          );
          ctx.body = logoutPage(form, nonce);
        },
        postLogoutSuccessSource: async (ctx: OidcContext) => {
          ctx.type = 'html';
          ctx.body = simplePage(
            'Signed out',
            '<h1>You are signed out</h1><p><a href="/">Sign in again</a></p>',
          );
        },
      },
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      ClientCredentials: 3600,
      IdToken: 3600,
      Interaction: 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
    },
    renderError: async (ctx: OidcContext, out: Record<string, string>) => {
      ctx.type = 'html';
      const description = out.error_description ?? out.error ?? 'The sign-in request was not valid.';
      ctx.body = simplePage(
        'Sign-in problem',
        `<h1>Sign-in problem</h1><p class="error" role="alert">${escapeHtml(description)}</p><p><a href="/">Start again</a></p>`,
      );
    },
  });
  provider.proxy = options.trustProxy ?? false;
  provider.on('server_error', (_ctx: unknown, error: unknown) => {
    report('error', 'oidc: server error', {
      error: error instanceof Error ? error.message : 'unknown error',
    });
  });

  const callback = provider.callback();
  const mountPath = issuerUrl.pathname.replace(/\/$/, '');
  const interactionPrefix = `${mountPath}/interaction/`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (url.startsWith(interactionPrefix)) {
      await handleInteraction(req, res, url.slice(interactionPrefix.length));
      return;
    }
    // Mount like express does: the provider routes on the path below its issuer path
    // and finds the mount path again from originalUrl when it builds URLs.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
    req.url = url.slice(mountPath.length) || '/';
    await callback(req, res);
  }

  async function handleInteraction(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const [uid, action] = rest.split(/[/?]/, 2);
    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      sendPage(
        res,
        400,
        'Sign-in expired',
        '<h1>This sign-in page has expired</h1><p>It was open too long, or in another browser.</p><p><a href="/">Start again</a></p>',
      );
      return;
    }
    if (details.uid !== uid) {
      sendPage(
        res,
        400,
        'Sign-in expired',
        '<h1>This sign-in page has expired</h1><p><a href="/">Start again</a></p>',
      );
      return;
    }

    if (details.prompt.name === 'consent') {
      // Every client here is first-party (the gateway itself): consent is implied.
      const grant = new provider.Grant({
        accountId: details.session?.accountId,
        clientId: String(details.params.client_id),
      });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      await provider.interactionFinished(
        req,
        res,
        { consent: { grantId: await grant.save() } },
        { mergeWithLastSubmission: true },
      );
      return;
    }

    if (req.method === 'POST' && action === 'login') {
      let form: URLSearchParams;
      try {
        form = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          sendPage(res, 413, 'Sign in', loginForm(uid, '', 'The form was too large.'));
          return;
        }
        throw error;
      }
      const username = form.get('username') ?? '';
      // The address of the connection itself: X-Forwarded-For is the client's to invent.
      const address = req.socket.remoteAddress ?? '';
      const name = throttleName(username);
      const stored = await directory.lockedUntil(username);
      const refusal = throttle.check(address, name, stored === null ? null : stored?.getTime());
      if (refusal) {
        const wait = waitText(refusal.retryAt, Date.now());
        const message =
          refusal.by === 'account'
            ? `Too many failed sign-ins for this account. Try again in ${wait}, or ask your administrator to unlock it.`
            : `Too many failed sign-ins from your network. Try again in ${wait}.`;
        sendPage(res, 429, 'Sign in', loginForm(uid, username, message), {
          headers: { 'retry-after': String(Math.max(1, Math.ceil((refusal.retryAt - Date.now()) / 1000))) },
        });
        return;
      }
      const user = await directory.verifyPassword(username, form.get('password') ?? '');
      if (!user) {
        const lockedUntil = throttle.failed(address, name, stored !== null);
        if (lockedUntil !== undefined && stored !== null) {
          await directory.lock(username, new Date(lockedUntil));
          report('warn', 'oidc: account locked after too many failed sign-ins', {
            user: name,
            until: new Date(lockedUntil).toISOString(),
          });
        }
        sendPage(res, 401, 'Sign in', loginForm(uid, username, 'Wrong username or password.'));
        return;
      }
      throttle.succeeded(name);
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user.name } },
        { mergeWithLastSubmission: false },
      );
      return;
    }

    sendPage(res, 200, 'Sign in', loginForm(uid, '', undefined));
  }

  async function endSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Session.get reads the signed cookie with the provider's keys: a forged one finds nothing.
    const session = await provider.Session.get({ req, res });
    if (session.accountId) await session.destroy();
  }

  return { issuer: options.issuer, apiResource, provider, handle, endSession };

  function loginForm(uid: string | undefined, username: string, error: string | undefined): string {
    const action = `${interactionPrefix}${encodeURIComponent(uid ?? '')}/login`;
    const alert = error ? `<p class="error" id="login-error" role="alert">${escapeHtml(error)}</p>` : '';
    const describedBy = error ? ' aria-describedby="login-error"' : '';
    const invalid = error ? ' aria-invalid="true"' : '';
    return `<h1>Sign in to hubless</h1>
${alert}
<form method="post" action="${escapeHtml(action)}" novalidate>
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(username)}"${describedBy}${invalid}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${describedBy}${invalid}>
<button type="submit">Sign in</button>
</form>`;
  }
}

/** The name failures are counted by: the account's key, or the text itself for a name no account could have. */
function throttleName(username: string): string {
  try {
    return normaliseUsername(username);
  } catch {
    return username.trim().toLowerCase().slice(0, 200);
  }
}

function simplePage(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · hubless</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}.error{border-left:4px solid #b91c1c;padding:.5rem .75rem;background:#fee2e2;color:#7f1d1d}</style></head><body><main>${body}</main></body></html>`;
}

function logoutPage(form: string, nonce: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Signing out · hubless</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}</style></head><body><main>
<h1>Signing out…</h1>
${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>
</main>
<script nonce="${nonce}">(function(){var f=document.getElementById('op.logoutForm');var i=document.createElement('input');i.type='hidden';i.name='logout';i.value='yes';f.appendChild(i);f.submit();})();</script>
</body></html>`;
}
