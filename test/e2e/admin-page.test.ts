import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../functions/core/ports.ts';
import { ARTIFACTS, launchChromium } from '../support/chromium.ts';
import { startTestLocalMode, type TestLocalMode } from '../support/local-mode.ts';

/**
 * An administrator runs a class of 1,000 from the admin page, in Chromium against one
 * local-mode instance: search and paging, add a user (with the password shown once),
 * reset a password, edit groups/admin/profile, disable and enable, start a server for a
 * user with a profile and stop it, stop a group's servers, set an announcement, and the
 * notice of when an idle server will be culled (the control plane's clock is moved on
 * for the cull, so the test does not wait an idle timeout).
 */
let local: TestLocalMode;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let admin: { context: BrowserContext; page: Page };
const offset = { ms: 0 };
const clock: Clock = { now: () => new Date(Date.now() + offset.ms) };
const CLASS_SIZE = 1000;
const student = (i: number) => `student-${String(i).padStart(4, '0')}`;

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  local = await startTestLocalMode(
    {
      HUBLESS_IDLE_TIMEOUT_SECONDS: '600',
      HUBLESS_CULL_EVERY_SECONDS: '3600',
      HUBLESS_PROFILES: JSON.stringify([
        { name: 'standard', description: 'small' },
        { name: 'big', description: 'for class-a', groups: ['class-a'] },
      ]),
    },
    {
      clock,
      // The class, written as the users file (no passwords: hashing 1,000 would take a minute).
      beforeStart: async (dataDir) => {
        const users: Record<string, unknown> = {};
        for (let i = 1; i <= CLASS_SIZE; i++)
          users[student(i)] = {
            name: student(i),
            groups: [i % 2 ? 'class-a' : 'class-b'],
            admin: false,
            disabled: false,
            createdAt: '2026-09-01T08:00:00.000Z',
          };
        await writeFile(join(dataDir, 'users.json'), JSON.stringify({ version: 1, users }), { mode: 0o600 });
      },
    },
  );
  await local.addUser('boss', 'boss-password', { admin: true });
  await local.addUser('alice', 'alice-password', { groups: ['class-a'] });
  ({ browser, close: closeBrowser } = await launchChromium());
  admin = await signIn('boss', 'boss-password');
});

afterAll(async () => {
  await closeBrowser?.();
  await local?.stop();
});

async function signIn(name: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  await page.goto(local.url);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${local.url}/`);
  return { context, page };
}

/** Whether `name` can sign in with `password` (a fresh browser context each time). */
async function canSignIn(name: string, password: string): Promise<boolean> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(local.url);
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('networkidle');
    return new URL(page.url()).pathname === '/' && (await page.getByText(`Signed in as ${name}`).count()) > 0;
  } finally {
    await context.close();
  }
}

async function adminSearch(query: string): Promise<Page> {
  const { page } = admin;
  await page.goto(`${local.url}/admin`);
  await page.getByLabel('Search users').fill(query);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(/\/admin\?q=/);
  return page;
}

describe('the admin page', () => {
  it('lists a class of 1,000 in pages of 50, with a search box', async () => {
    const { page } = admin;
    await page.goto(`${local.url}/admin`);
    await expect.poll(() => page.locator('#user-count').textContent()).toBe('1,002 users');
    expect(await page.locator('tr[id^="u-"]').count()).toBe(50);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-1000-users.png'), fullPage: false });
    await page.getByRole('link', { name: 'Next page' }).click();
    await expect.poll(() => page.getByText('Page 2 of 21').first().isVisible()).toBe(true);
    await adminSearch('student-0999');
    expect(await page.locator('tr[id^="u-"]').count()).toBe(1);
    expect(await page.locator('#user-count').textContent()).toContain('1 of 1,002 users match');
  });

  it('adds a user, shows their password once, and they sign in with it', async () => {
    const { page } = admin;
    await page.goto(`${local.url}/admin`);
    await page.getByText('Add a user').click();
    await page.getByLabel('Username').fill('newbie');
    await page.locator('#new-groups').fill('class-b');
    await page.getByRole('button', { name: 'Add user' }).click();
    const password = (await page.locator('#password-value').textContent()) ?? '';
    expect(password.length).toBeGreaterThanOrEqual(12);
    expect(await canSignIn('newbie', password)).toBe(true);
    await page.goto(`${local.url}/admin?q=newbie`);
    expect(await page.locator('#password-value').count()).toBe(0);
  });

  it('resets a password: the new one works, the old one no longer does', async () => {
    const page = await adminSearch('alice');
    await page.getByRole('button', { name: 'Reset the password of alice' }).click();
    const password = (await page.locator('#password-value').textContent()) ?? '';
    expect(await canSignIn('alice', 'alice-password')).toBe(false);
    expect(await canSignIn('alice', password)).toBe(true);
    await local.runtime.directory.setPassword('alice', 'alice-password');
  });

  it('sets groups, the admin flag and the default profile', async () => {
    const page = await adminSearch('newbie');
    await page.getByText('Edit', { exact: true }).click();
    await page.locator('#u-newbie-groups').fill('class-a, tutors');
    await page.locator('#u-newbie-admin').check();
    await page.locator('#u-newbie-profile').selectOption('big');
    await page.getByRole('button', { name: 'Save newbie' }).click();
    await expect.poll(() => page.locator('#admin-notice').textContent()).toContain('newbie was saved');
    expect(await local.runtime.directory.get('newbie')).toMatchObject({
      groups: ['class-a', 'tutors'],
      admin: true,
      profile: 'big',
    });
  });

  it('disables a user (who then cannot sign in) and enables them again', async () => {
    const page = await adminSearch('student-0002');
    await page.getByRole('button', { name: 'Disable student-0002' }).click();
    await expect
      .poll(() => page.locator('#admin-notice').textContent())
      .toContain('student-0002 is disabled');
    expect(await page.locator('#u-student-0002 [data-disabled]').count()).toBe(1);
    await local.runtime.directory.setPassword('student-0002', 'student-password');
    expect(await canSignIn('student-0002', 'student-password')).toBe(false);
    await page.getByRole('button', { name: 'Enable student-0002' }).click();
    await expect.poll(() => page.locator('#admin-notice').textContent()).toContain('can sign in again');
    expect(await canSignIn('student-0002', 'student-password')).toBe(true);
  });

  it('is refused to a user who is not an administrator', async () => {
    const { page, context } = await signIn('alice', 'alice-password');
    const answer = await page.goto(`${local.url}/admin`);
    expect(answer?.status()).toBe(403);
    expect(await page.getByText('Only administrators').count()).toBe(1);
    await context.close();
  });

  it('sets an announcement every page shows, escaped, and clears it', async () => {
    const { page } = admin;
    await page.goto(`${local.url}/admin`);
    await page.getByLabel('Message').fill('Lab closes at <b>17:00</b> & reopens Monday');
    await page.getByRole('button', { name: 'Set announcement' }).click();
    await expect.poll(() => page.locator('#admin-notice').textContent()).toContain('announcement is set');
    const alice = await signIn('alice', 'alice-password');
    expect(await alice.page.locator('#announcement').textContent()).toContain(
      'Lab closes at <b>17:00</b> & reopens Monday',
    );
    expect(await alice.page.locator('#announcement b').count()).toBe(0);
    await alice.page.screenshot({ path: join(ARTIFACTS, 'announcement.png') });
    await page.getByRole('button', { name: 'Clear announcement' }).click();
    await alice.page.reload();
    expect(await alice.page.locator('#announcement').count()).toBe(0);
    await alice.context.close();
  });

  it('starts a server for a user with a profile; the user sees when it stops for inactivity, and why after', async () => {
    const page = await adminSearch('alice');
    await page.locator('#u-alice-start-profile').selectOption('big');
    await page.getByRole('button', { name: 'Start a server for alice' }).click();
    await expect
      .poll(() => page.locator('#admin-notice').textContent())
      .toContain('A server is starting for alice');
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('#u-alice .state').first().textContent();
        },
        { timeout: 120_000, interval: 1000 },
      )
      .toBe('running');
    expect(await page.locator('#servers').textContent()).toContain('big');
    expect(await page.locator('#u-alice [data-planned-stop]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-server-running.png') });

    const alice = await signIn('alice', 'alice-password');
    const notice = (await alice.page.locator('#server-stop-notice').textContent()) ?? '';
    expect(notice).toMatch(/Stops for inactivity at \d\d:\d\d UTC \(after 10 minutes without activity\)/);
    await alice.page.screenshot({ path: join(ARTIFACTS, 'cull-notice.png') });

    // Twenty minutes later, for the control plane: the culler finds the lab idle.
    offset.ms = 20 * 60_000;
    try {
      await local.runtime.cull();
    } finally {
      offset.ms = 0;
    }
    await alice.page.reload();
    expect(await alice.page.locator('#server-state').textContent()).toBe(
      'stopped: Stopped after 10 minutes without activity.',
    );
    await alice.page.screenshot({ path: join(ARTIFACTS, 'cull-reason.png') });
    await alice.context.close();
    await page.reload();
    expect(await page.locator('#u-alice [data-stop-reason="idle"]').count()).toBe(1);
  });

  it('stops a server from the servers table, and every server of a group at once', async () => {
    const page = await adminSearch('alice');
    await page.getByRole('button', { name: 'Start a server for alice' }).click();
    await page.locator('#servers').getByRole('button', { name: 'Stop alice' }).click();
    await expect
      .poll(() => page.locator('#admin-notice').textContent())
      .toContain('The server alice is stopping');
    await expect
      .poll(async () => (await local.runtime.deps.store.get('alice', ''))?.reason?.code)
      .toBe('admin');

    await page.goto(`${local.url}/admin?q=alice`);
    await page.getByRole('button', { name: 'Start a server for alice' }).click();
    await page.locator('#stop-group').selectOption('class-a');
    await page.getByRole('button', { name: "Stop the group's servers" }).click();
    await expect.poll(() => page.locator('#admin-notice').textContent()).toContain('of the group class-a');
    const session = await local.runtime.deps.store.get('alice', '');
    expect(session?.reason?.message).toContain('every server of the group class-a');
  });
});
