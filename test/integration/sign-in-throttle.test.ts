import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDirectory } from '../../functions/adapters/local/local-directory.ts';
import { type GatewayFixture, startGatewayFixture } from '../support/gateway-fixture.ts';
import { Browser } from '../support/http-browser.ts';

/**
 * Password guessing at the front door, as an attacker on the class network tries it: many
 * wrong passwords for one account, and one wrong password for each of many accounts from
 * one address. Each guess comes from a loopback address of its own (127.0.0.x), which the
 * gateway sees as a different machine.
 */
const root = resolve(import.meta.dirname, '../..');

/** A login form ready to be posted: where, and the cookies of its interaction. */
async function loginForm(url: string): Promise<{ action: string; cookie: string }> {
  const browser = new Browser(url);
  const { response, url: at } = await browser.follow('/');
  const html = await response.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no login form at ${at}`);
  return {
    action: new URL(action.replace(/&#38;/g, '&'), at).pathname,
    cookie: [...browser.jar].map(([k, v]) => `${k}=${v}`).join('; '),
  };
}

/** Posts the login form from `from` (a loopback address); resolves with the status and page. */
function post(
  port: number,
  form: { action: string; cookie: string },
  from: string,
  username: string,
  password: string,
): Promise<{ status: number; body: string; retryAfter?: string }> {
  const body = new URLSearchParams({ username, password }).toString();
  return new Promise((done, fail) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: form.action,
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: {
          cookie: form.cookie,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}),
          }),
        );
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

function hubless(args: string[], dataDir: string): Promise<{ status: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['functions/local/cli.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HUBLESS_DATA_DIR: dataDir },
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stdin.end();
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout }));
  });
}

/** A successful sign-in goes on to the provider (303); a refused one shows the form again. */
const SIGNED_IN = 303;

describe('sign-in throttling and lockout', () => {
  let fixture: GatewayFixture;
  let port: number;

  beforeAll(async () => {
    fixture = await startGatewayFixture();
    port = fixture.gateway.port;
    await fixture.directory.upsert({ name: 'bob', password: 'bob-password' });
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it('locks an account after 200 wrong passwords: the right one is refused until an admin unlocks it', async () => {
    const form = await loginForm(fixture.gateway.url);
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++)
      statuses.push((await post(port, form, '127.0.0.2', 'alice', `guess-${i}`)).status);
    // Ten are checked (and wrong); every later one is refused without a password check.
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(190);

    // The right password, from the same address and from another: refused, and told why.
    for (const from of ['127.0.0.2', '127.0.0.3']) {
      const right = await post(port, form, from, 'ALICE', 'alice-password');
      expect(right.status, from).toBe(429);
      expect(right.body).toContain('Too many failed sign-ins for this account');
      expect(right.body).toMatch(/Try again in 1[45] minutes, or ask your administrator to unlock it/);
      expect(Number(right.retryAfter)).toBeGreaterThan(14 * 60);
    }

    // The lock is in the users file: another process (the CLI) sees it, as a restart would.
    expect(await new LocalDirectory({ dataDir: fixture.dataDir }).lockedUntil('alice')).toBeInstanceOf(Date);
    const list = await hubless(['users', 'list'], fixture.dataDir);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^alice \(locked until \d{4}-\d\d-\d\dT[\d:.]+Z\)$/m);
    expect(list.stdout).toMatch(/^bob$/m);

    const unlock = await hubless(['users', 'unlock', 'alice'], fixture.dataDir);
    expect(unlock.status).toBe(0);
    expect(unlock.stdout).toContain('Unlocked alice');
    expect((await hubless(['users', 'list'], fixture.dataDir)).stdout).toMatch(/^alice$/m);

    const after = await post(
      port,
      await loginForm(fixture.gateway.url),
      '127.0.0.3',
      'alice',
      'alice-password',
    );
    expect(after.status).toBe(SIGNED_IN);
    // Unlocking again says there was nothing to do.
    expect((await hubless(['users', 'unlock', 'alice'], fixture.dataDir)).stdout).toContain('was not locked');
  });

  it('slows down an address guessing one password for each of many accounts, and only that address', async () => {
    const form = await loginForm(fixture.gateway.url);
    const statuses: number[] = [];
    // One guess per name never locks an account: the address is what gives the attacker away.
    for (let i = 0; i < 40; i++)
      statuses.push((await post(port, form, '127.0.0.4', `student-${i}`, 'Password1')).status);
    expect(statuses.slice(0, 31).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(31).every((s) => s === 429)).toBe(true);

    const refused = await post(port, form, '127.0.0.4', 'bob', 'bob-password');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatch(/Too many failed sign-ins from your network. Try again in \d+ seconds?\./);

    // Another machine signs bob in at once, and no account was locked by the sweep.
    expect((await post(port, form, '127.0.0.5', 'bob', 'bob-password')).status).toBe(SIGNED_IN);
    expect((await new LocalDirectory({ dataDir: fixture.dataDir }).locks()).size).toBe(0);
  });

  it('says the same about an account that does not exist, so a lock tells nobody who has one', async () => {
    const form = await loginForm(fixture.gateway.url);
    const answers = [];
    for (let i = 0; i < 11; i++)
      answers.push(await post(port, form, '127.0.0.6', 'nobody-here', `guess-${i}`));
    expect(answers.slice(0, 10).map((a) => a.status)).toEqual(Array(10).fill(401));
    expect(answers[10]?.status).toBe(429);
    expect(answers[10]?.body).toContain('Too many failed sign-ins for this account');
  });
});
