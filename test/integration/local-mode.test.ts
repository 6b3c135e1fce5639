import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentitySigner } from '../../functions/local/identity-signer.ts';
import { GATEWAY_CLIENT_ID } from '../../functions/local/runtime.ts';
import { Browser, signIn } from '../support/http-browser.ts';
import { executeInKernel } from '../support/jupyter-kernel.ts';
import { startTestLocalMode, type TestLocalMode, waitFor } from '../support/local-mode.ts';

/**
 * Local mode end to end with its real parts: DynamoDB Local, the gateway and provider,
 * real Jupyter processes with the owner check. Drives it the way a browser does.
 */
let local: TestLocalMode;

beforeAll(async () => {
  local = await startTestLocalMode();
  await local.addUser('alice', 'alice-password');
  await local.addUser('bob', 'bob-password');
});

afterAll(async () => {
  await local?.stop();
});

const form = (browser: Browser, path: string, fields: Record<string, string> = {}) =>
  browser.request(path, {
    method: 'POST',
    headers: { origin: local.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });

async function progress(browser: Browser) {
  const response = await browser.request('/progress', { headers: { accept: 'application/json' } });
  return (await response.json()) as {
    state: string;
    ready: boolean;
    failed: boolean;
    progress: number;
    url?: string;
    message: string;
  };
}

const untilReady = (browser: Browser, timeoutMs = 90_000) =>
  waitFor(
    'the server to be ready',
    async () => {
      const p = await progress(browser);
      if (p.failed) throw new Error(`start failed: ${p.message}`);
      return p.ready ? p : undefined;
    },
    timeoutMs,
  );

/** Jupyter wants its _xsrf cookie echoed in a header on writes. */
function xsrfHeaders(browser: Browser): Record<string, string> {
  return { 'x-xsrftoken': browser.jar.get('_xsrf') ?? '', origin: local.url };
}

describe('local mode', () => {
  it('takes a user from sign-in to a running kernel, and keeps their files across a restart', async () => {
    const alice = new Browser(local.url);
    const { response: home } = await signIn(alice, 'alice', 'alice-password');
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Start my server');

    const started = await form(alice, '/start');
    expect(started.status).toBe(303);
    expect(started.headers.get('location')).toBe('/spawn-pending');
    const ready = await untilReady(alice);
    expect(ready.progress).toBe(100);
    expect(ready.url).toMatch(/^\/user\/alice\/(lab|tree)$/);

    // A proxied page, then a file written through the contents API.
    const ui = await alice.request(ready.url!);
    expect(ui.status).toBe(200);
    const put = await alice.request('/user/alice/api/contents/notes.txt', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...xsrfHeaders(alice) },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'remember the milk' }),
    });
    expect(put.status).toBe(201);

    // A kernel runs 1+1 over the proxied WebSocket.
    const kernel = await alice.request('/user/alice/api/kernels', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...xsrfHeaders(alice) },
      body: JSON.stringify({ name: 'python3' }),
    });
    expect(kernel.status).toBe(201);
    const { id } = (await kernel.json()) as { id: string };
    const cookie = [...alice.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const run = await executeInKernel(
      `${local.url.replace('http', 'ws')}/user/alice/api/kernels/${id}/channels`,
      '1+1',
      { cookie },
    );
    expect(run).toEqual({ result: '2', status: 'ok' });

    // Stop: the route disappears at once.
    const stopped = await form(alice, '/stop');
    expect(stopped.status).toBe(303);
    const after = await local.runtime.deps.store.get('alice', '');
    expect(after?.state).toBe('stopped');
    expect(after?.reason?.code).toBe('user');
    const gone = await alice.request('/user/alice/api/contents/notes.txt');
    expect(gone.status).toBe(404);
    expect(await gone.text()).toContain('Your server is not running');

    // Start again: the file is still there.
    await form(alice, '/start');
    await untilReady(alice);
    const file = await alice.request('/user/alice/api/contents/notes.txt');
    expect(file.status).toBe(200);
    expect(((await file.json()) as { content: string }).content).toBe('remember the milk');
    await form(alice, '/stop');
  });

  it('makes exactly one server for 50 simultaneous start requests of one user', async () => {
    const bob = new Browser(local.url);
    await signIn(bob, 'bob', 'bob-password');
    const responses = await Promise.all(Array.from({ length: 50 }, () => form(bob, '/start')));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(303));
    await untilReady(bob);
    const tasks = (await local.runtime.deps.compute.list()).filter(
      (t) => t.alive && t.sessionId.startsWith('bob_'),
    );
    expect(tasks).toHaveLength(1);
    await form(bob, '/stop');
  });
});

describe('a class starting together', () => {
  it('brings 20 users who press Start at the same moment all to ready, one server each', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `student-${i + 1}`);
    const browsers: Browser[] = [];
    for (const name of names) {
      await local.addUser(name, `${name}-password`);
      const browser = new Browser(local.url);
      await signIn(browser, name, `${name}-password`);
      browsers.push(browser);
    }
    const starts = await Promise.all(browsers.map((browser) => form(browser, '/start')));
    expect(starts.map((r) => r.status)).toEqual(Array(20).fill(303));
    const ready = await Promise.all(browsers.map((browser) => untilReady(browser, 180_000)));
    expect(ready.map((p) => p.url)).toEqual(
      names.map((name) => expect.stringMatching(new RegExp(`^/user/${name}/`))),
    );
    const alive = (await local.runtime.deps.compute.list()).filter(
      (t) => t.alive && t.sessionId.startsWith('student-'),
    );
    expect(alive).toHaveLength(20);
    await Promise.all(browsers.map((browser) => form(browser, '/stop')));
  }, 300_000);
});

describe('who may reach a lab', () => {
  let aliceLab: { host: string; port: number };
  const alice = () => new Browser(local.url);
  let aliceBrowser: Browser;

  beforeAll(async () => {
    aliceBrowser = alice();
    await signIn(aliceBrowser, 'alice', 'alice-password');
    await form(aliceBrowser, '/start');
    await untilReady(aliceBrowser);
    aliceLab = (await local.runtime.deps.store.get('alice', ''))!.target!;
  });

  afterAll(async () => {
    await form(aliceBrowser, '/stop');
  });

  const signer = () =>
    loadOrCreateIdentitySigner(local.dataDir, { issuer: `${local.url}/oidc`, clientId: GATEWAY_CLIENT_ID });
  const direct = (headers: Record<string, string>) =>
    fetch(`http://${aliceLab.host}:${aliceLab.port}/user/alice/api/contents`, { headers });

  it('sends an anonymous visitor to the login page', async () => {
    const response = await new Browser(local.url).request('/user/alice/tree');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toContain('/oidc/auth');
  });

  it('refuses another signed-in user at the gateway', async () => {
    const bob = new Browser(local.url);
    await signIn(bob, 'bob', 'bob-password');
    const response = await bob.request('/user/alice/api/contents');
    expect(response.status).toBe(403);
  });

  it('lets the owner in directly with a valid header (so the refusals below mean something)', async () => {
    // Bound to a sign-in (sid) that has not ended, as every header the gateway signs is.
    const header = await (await signer()).sign({ sub: 'alice', username: 'alice', sid: 'live-session' });
    expect((await direct({ 'x-amzn-oidc-data': header })).status).toBe(200);
    // Without a session id the lab cannot tell whether its sign-in ended: refused.
    const unbound = await (await signer()).sign({ sub: 'alice', username: 'alice' });
    expect((await direct({ 'x-amzn-oidc-data': unbound })).status).toBe(403);
  });

  it("refuses bob's valid header sent straight to alice's lab port", async () => {
    const header = await (await signer()).sign({ sub: 'bob', username: 'bob' });
    expect((await direct({ 'x-amzn-oidc-data': header })).status).toBe(403);
  });

  it('refuses forged, expired and unsigned headers at the lab', async () => {
    const real = await signer();
    const expired = await real.sign({ sub: 'alice', username: 'alice' }, -120);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: 'alice', username: 'alice', iss: real.issuer, exp: now + 60 })
      .setProtectedHeader({
        alg: 'ES256',
        typ: 'JWT',
        kid: real.kid,
        signer: real.signerArn,
        iss: real.issuer,
        client: real.clientId,
        exp: now + 60,
      })
      .sign(privateKey);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'none', kid: real.kid, signer: real.signerArn })}.${encode({ username: 'alice', exp: now + 60 })}.`;
    for (const header of [expired, forged, unsigned]) {
      expect((await direct({ 'x-amzn-oidc-data': header })).status).toBe(403);
    }
    expect((await direct({})).status).toBe(403);
  });
});
