import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileServiceTokenStore } from '../../functions/adapters/local/service-tokens.ts';
import { OAUTH_CODE_SECONDS } from '../../functions/core/api/oauth.ts';
import { createServiceToken } from '../../functions/core/api/service-tokens.ts';
import { Browser, signIn } from '../support/http-browser.ts';
import { hubClient } from '../support/jupyterhub/hub-client.ts';
import { hubAnswerProblems } from '../support/jupyterhub/rest-api.ts';
import { startTestLocalMode, type TestLocalMode } from '../support/local-mode.ts';

/**
 * A HubOAuth service signing a user in through local mode, over HTTP, the way
 * jupyterhub/services/auth.py does it: the browser opens /hub/api/oauth2/authorize with
 * the service's client_id, redirect_uri and a state; the front door signs the user in;
 * the browser comes back to the service's oauth_callback with a code and the same state;
 * the service POSTs the code with client_id and client_secret (its API token) to
 * /hub/api/oauth2/token and asks GET /hub/api/user who the token belongs to.
 */
let local: TestLocalMode;
let service: { server: Server; url: string; callbacks: URL[] };
let secret: string;
const CLIENT_ID = 'service-dash';

/** The service's oauth_callback: records what the browser brought back. */
async function startService(): Promise<typeof service> {
  const callbacks: URL[] = [];
  const server = createServer((req, res) => {
    callbacks.push(new URL(req.url ?? '/', 'http://service.invalid'));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('signed in');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/services/dash/oauth_callback`, callbacks };
}

function authorizeUrl(params: Record<string, string>): string {
  return `/hub/api/oauth2/authorize?${new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: service.url,
    response_type: 'code',
    ...params,
  })}`;
}

/** HubOAuth's token_for_code: a form POST to the token URL. */
async function tokenFor(code: string, overrides: Record<string, string> = {}) {
  const response = await fetch(`${local.url}/hub/api/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: CLIENT_ID,
      client_secret: secret,
      grant_type: 'authorization_code',
      code,
      redirect_uri: service.url,
      ...overrides,
    }).toString(),
  });
  const body = await response.text();
  return { status: response.status, body, json: JSON.parse(body) };
}

/** HubAuth's user_for_token: GET /hub/api/user, every answer checked against rest-api.yml. */
function whoAmI(token: string) {
  return hubClient(
    async (method, path, init) => {
      const response = await fetch(`${local.url}${path}`, { method, headers: init.headers });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name] = value;
      });
      return { status: response.status, headers, body: await response.text() };
    },
    () => token,
  ).call('GET', '/user');
}

/** A signed-in browser's round to the authorize URL, ending at the service's callback. */
async function codeFor(browser: Browser, state: string): Promise<string> {
  const { url } = await browser.follow(authorizeUrl({ state }));
  const back = new URL(url);
  expect(back.pathname).toBe('/services/dash/oauth_callback');
  expect(back.searchParams.get('state')).toBe(state);
  return back.searchParams.get('code') ?? '';
}

beforeAll(async () => {
  service = await startService();
  local = await startTestLocalMode();
  await local.addUser('ada', 'ada-password');
  ({ token: secret } = await createServiceToken(
    new FileServiceTokenStore({ dataDir: local.dataDir }),
    { name: 'dash', scopes: [], oauthRedirectUri: service.url, createdBy: 'test' },
    new Date(),
  ));
});

afterAll(async () => {
  await local?.stop();
  await new Promise<void>((resolve) => service?.server.close(() => resolve()));
});

describe('HubOAuth sign-in through /hub/api/oauth2', () => {
  it('signs the user in at the front door, returns code and state, and the token identifies the user', async () => {
    const browser = new Browser(local.url);
    // No browser session yet: the authorize page sends the browser to sign in first.
    const first = await browser.request(authorizeUrl({ state: 's-1' }));
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toContain('/oidc/');

    const { url } = await signIn(
      browser,
      'ada',
      'ada-password',
      authorizeUrl({ state: 'state-from-service' }),
    );
    const back = new URL(url);
    expect(`${back.origin}${back.pathname}`).toBe(service.url);
    expect(back.searchParams.get('state')).toBe('state-from-service');
    const code = back.searchParams.get('code');
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const token = await tokenFor(code!);
    expect(token.status, token.body).toBe(200);
    expect(hubAnswerProblems('POST', '/hub/api/oauth2/token', token)).toEqual([]);
    expect(token.json).toMatchObject({ token_type: 'Bearer', expires_in: 14 * 86_400 });
    expect(token.json.access_token).not.toBe(secret);

    const me = await whoAmI(token.json.access_token);
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ kind: 'user', name: 'ada', admin: false });
    // A non-admin cannot pass on scopes over other users: identity only.
    expect(me.json.scopes).toEqual([]);
    const list = await fetch(`${local.url}/hub/api/users`, {
      headers: { authorization: `token ${token.json.access_token}` },
    });
    expect(list.status).toBe(403);
  });

  it('refuses a redirect_uri other than the registered one with a page, never sending the browser there', async () => {
    const browser = new Browser(local.url);
    await signIn(browser, 'ada', 'ada-password');
    const response = await browser.request(
      authorizeUrl({ state: 's', redirect_uri: 'https://evil.example/steal' }),
    );
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const page = await response.text();
    expect(page).toContain('https://evil.example/steal');
    expect(page).toContain('is not the one registered for the service');
  });

  it('refuses an unknown client_id with a page that says how to register one', async () => {
    const browser = new Browser(local.url);
    await signIn(browser, 'ada', 'ada-password');
    const response = await browser.request(authorizeUrl({ client_id: 'service-nobody' }));
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('hubless tokens create NAME --oauth-redirect-uri');
  });

  it('exchanges a code once: a replay is refused and revokes the token it gave', async () => {
    const browser = new Browser(local.url);
    await signIn(browser, 'ada', 'ada-password');
    const code = await codeFor(browser, 'replay');
    const first = await tokenFor(code);
    expect(first.status).toBe(200);
    expect((await whoAmI(first.json.access_token)).status).toBe(200);

    const again = await tokenFor(code);
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('invalid_grant');
    expect(again.json.error_description).toContain('already used');
    const revoked = await whoAmI(first.json.access_token);
    expect(revoked.status).toBe(401);
  });

  it('refuses a wrong client secret (invalid_client, 401) and keeps the code usable', async () => {
    const browser = new Browser(local.url);
    await signIn(browser, 'ada', 'ada-password');
    const code = await codeFor(browser, 'secret');
    const wrong = await tokenFor(code, { client_secret: `${secret.slice(0, -2)}xx` });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_client');
    expect(wrong.json.error_description).toContain('client_secret');
    expect((await tokenFor(code)).status).toBe(200);
  });

  it('refuses a code after 5 minutes (invalid_grant, "expired")', async () => {
    const browser = new Browser(local.url);
    await signIn(browser, 'ada', 'ada-password');
    const code = await codeFor(browser, 'late');
    const later = new Date(Date.now() + (OAUTH_CODE_SECONDS + 1) * 1000);
    // Local mode runs in this process: move its clock for the token request only.
    const clock = vi.spyOn(local.runtime.deps.clock, 'now').mockReturnValue(later);
    try {
      const late = await tokenFor(code);
      expect(late.status).toBe(400);
      expect(late.json.error).toBe('invalid_grant');
      expect(late.json.error_description).toContain('expired');
    } finally {
      clock.mockRestore();
    }
  });

  it('refuses a token request whose redirect_uri differs from the authorization request', async () => {
    const browser = new Browser(local.url);
    await signIn(browser, 'ada', 'ada-password');
    const code = await codeFor(browser, 'uri');
    const other = await tokenFor(code, { redirect_uri: 'http://127.0.0.1:1/elsewhere' });
    expect(other.status).toBe(400);
    expect(other.json.error_description).toContain(
      'redirect_uri must be the one of the authorization request',
    );
  });

  it('stops accepting the service’s users’ tokens once the service’s token is revoked', async () => {
    const browser = new Browser(local.url);
    await signIn(browser, 'ada', 'ada-password');
    const token = await tokenFor(await codeFor(browser, 'revoke'));
    expect((await whoAmI(token.json.access_token)).status).toBe(200);
    const store = new FileServiceTokenStore({ dataDir: local.dataDir });
    const [record] = await store.list();
    await store.delete(record!.id);
    try {
      const after = await whoAmI(token.json.access_token);
      expect(after.status).toBe(401);
      expect(after.json.message).toContain('no longer registered');
    } finally {
      await store.put(record!);
    }
  });
});

/** Debian's jupyterhub package (a CI prerequisite: .ci/run, scripts/hubless.sh). */
const PYTHON = '/usr/bin/python3';
const HUBOAUTH_SCRIPT = fileURLToPath(new URL('../support/jupyterhub/huboauth.py', import.meta.url));
const hasHubOAuth = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import jupyterhub.services.auth'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasHubOAuth)(
  'JupyterHub’s own HubOAuth class (jupyterhub.services.auth) against local mode',
  () => {
    /** Runs huboauth.py with the environment JupyterHub gives a service. */
    async function huboauth(...args: string[]): Promise<Record<string, any>> {
      const { stdout } = await promisify(execFile)(PYTHON, [HUBOAUTH_SCRIPT, ...args], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          JUPYTERHUB_API_URL: `${local.url}/hub/api`,
          JUPYTERHUB_HOST: local.url,
          JUPYTERHUB_API_TOKEN: secret,
          JUPYTERHUB_CLIENT_ID: CLIENT_ID,
          JUPYTERHUB_OAUTH_CALLBACK_URL: service.url,
          JUPYTERHUB_SERVICE_PREFIX: '/services/dash/',
        },
        timeout: 30_000,
      });
      return JSON.parse(stdout);
    }

    it('sends the browser to hubless’s authorize page, exchanges the code and identifies the user', async () => {
      const { login_url: loginUrl, token_url: tokenUrl } = await huboauth('login-url');
      expect(tokenUrl).toBe(`${local.url}/hub/api/oauth2/token`);
      expect(loginUrl.startsWith(`${local.url}/hub/api/oauth2/authorize?`)).toBe(true);
      // HubOAuthenticated adds the state it keeps in a cookie; the browser brings it back.
      const browser = new Browser(local.url);
      const { url } = await signIn(browser, 'ada', 'ada-password', `${loginUrl}&state=from-huboauth`);
      const back = new URL(url);
      expect(back.searchParams.get('state')).toBe('from-huboauth');

      const signedIn = await huboauth('sign-in', back.searchParams.get('code') ?? '');
      expect(signedIn.token).toMatch(/^hbo_/);
      expect(signedIn.user).toMatchObject({ kind: 'user', name: 'ada', admin: false });
    });
  },
);
