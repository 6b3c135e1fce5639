import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type CliRun, runHublessCli } from '../support/cli-run.ts';
import { Browser, signIn } from '../support/http-browser.ts';
import { type HublessProcess, startHubless } from '../support/hubless-process.ts';
import { clientToken } from '../support/machine-client.ts';

/**
 * The README's local-mode operator story on one data dir, as the operator types it:
 * the first `hubless start` creates `admin` and prints its password once; `hubless users …`
 * and `hubless clients …` change the data dir while hubless is stopped; the next start
 * prints no password and honours every change (sign-ins, a disabled user, the new client).
 */
let dataDir: string;
const running: HublessProcess[] = [];

afterEach(async () => {
  for (const hubless of running.splice(0)) await hubless.stop();
});
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** `npx hubless ARGS` on the data dir: stdout, stderr and the exit status. */
function hubless(args: string[], input = ''): Promise<CliRun> {
  return runHublessCli(args, { dataDir, input });
}

/**
 * `hubless start` on the data dir. A first start that lost its port to another process
 * already made admin: the data dir is emptied so that the retry is a first start again.
 */
async function start(options: { first?: boolean } = {}): Promise<HublessProcess> {
  return startHubless(dataDir, {
    track: (process) => running.push(process),
    ...(options.first
      ? {
          beforeRetry: async () => {
            await rm(dataDir, { recursive: true, force: true });
            await mkdir(dataDir);
          },
        }
      : {}),
  });
}

/** Signs in through the login page; true when the gateway gave a session. */
async function signsIn(url: string, name: string, password: string): Promise<boolean> {
  const browser = new Browser(url);
  await signIn(browser, name, password);
  return browser.jar.has('hubless_session');
}

const FIRST_ADMIN = /First start: created the admin user "admin" with the password (\S+)/g;

describe('first start, then users and clients from the command line', { timeout: 600_000 }, () => {
  let adminPassword = '';

  it('the first start creates admin and prints its password once; it signs in', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'hubless-first-start-'));
    const first = await start({ first: true });
    const printed = [...first.output.matchAll(FIRST_ADMIN)];
    expect(printed).toHaveLength(1);
    adminPassword = printed[0]?.[1] ?? '';
    expect(adminPassword.length).toBeGreaterThanOrEqual(16);
    expect(first.output).toContain('It is shown only this once.');
    expect(await signsIn(first.url, 'admin', adminPassword)).toBe(true);
    expect(await signsIn(first.url, 'admin', `${adminPassword}x`)).toBe(false);
  });

  let alicePassword = '';
  let moodle = { clientId: '', clientSecret: '', scopes: ['users:read'] };

  it('users and clients commands change the data dir while hubless is stopped', async () => {
    const alice = await hubless(['users', 'add', 'alice']);
    expect(alice.status).toBe(0);
    expect(alice.stdout).toContain('Added alice.');
    alicePassword = /Password \(shown once\): (\S+)/.exec(alice.stdout)?.[1] ?? '';
    expect(alicePassword).not.toBe('');

    expect((await hubless(['users', 'add', 'bob', '--password-stdin'], 'bob-first-password\n')).stdout).toBe(
      'Added bob.\n',
    );
    expect((await hubless(['users', 'add', 'carol', '--admin', '--groups', 'research'])).stdout).toContain(
      'Added carol (admin).',
    );
    const passwd = await hubless(['users', 'passwd', 'bob', '--password-stdin'], 'bob-second-password\n');
    expect(passwd.stdout).toBe('Changed the password of bob.\n');
    const disable = await hubless(['users', 'disable', 'carol']);
    expect(disable.stdout).toContain('Disabled carol. Their files are kept');
    expect((await hubless(['users', 'list'])).stdout).toBe(
      ['admin (admin)', 'alice', 'bob', 'carol (admin, disabled) groups: research', ''].join('\n'),
    );
    const unknown = await hubless(['users', 'disable', 'dave']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('dave');

    const added = await hubless(['clients', 'add', 'moodle', '--scopes', 'users:read']);
    expect(added.status).toBe(0);
    const secret = /Client secret \(shown once\): (\S+)/.exec(added.stdout)?.[1] ?? '';
    expect(added.stdout).toContain('Client id: moodle');
    expect(secret).not.toBe('');
    moodle = { clientId: 'moodle', clientSecret: secret, scopes: ['users:read'] };
    expect((await hubless(['clients', 'list'])).stdout).toBe('moodle  scopes: users:read\n');
  });

  it('the next start prints no password, and every change holds', async () => {
    const second = await start();
    expect(second.output).not.toMatch(FIRST_ADMIN);
    expect(second.output).not.toContain(adminPassword);

    expect(await signsIn(second.url, 'admin', adminPassword)).toBe(true);
    expect(await signsIn(second.url, 'alice', alicePassword)).toBe(true);
    expect(await signsIn(second.url, 'bob', 'bob-second-password')).toBe(true);
    expect(await signsIn(second.url, 'bob', 'bob-first-password')).toBe(false);
    expect(await signsIn(second.url, 'carol', 'any-password-at-all')).toBe(false);

    const token = await clientToken(second.url, moodle);
    const users = await fetch(`${second.url}/api/v1/users`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(users.status).toBe(200);
    const names = ((await users.json()) as { items?: Array<{ name: string }> }).items?.map((u) => u.name);
    expect(names).toEqual(['admin', 'alice', 'bob', 'carol']);
  });

  it('a removed client and a re-enabled user take effect at the next start', async () => {
    expect((await hubless(['clients', 'remove', 'moodle'])).stdout).toContain('Removed moodle.');
    expect((await hubless(['clients', 'list'])).stdout).toBe('');
    expect((await hubless(['users', 'enable', 'carol'])).stdout).toBe('Enabled carol.\n');
    const carol = await hubless(['users', 'passwd', 'carol']);
    const carolPassword = /New password \(shown once\): (\S+)/.exec(carol.stdout)?.[1] ?? '';
    expect(carolPassword).not.toBe('');

    const third = await start();
    expect(third.output).not.toMatch(FIRST_ADMIN);
    expect(await signsIn(third.url, 'carol', carolPassword)).toBe(true);
    await expect(clientToken(third.url, moodle)).rejects.toThrow(/answered 401/);
  });
});
