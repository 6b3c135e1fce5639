import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../support/chromium.ts';
import { freePort, startTestLocalMode, type TestLocalMode } from '../support/local-mode.ts';
import { startUniversity, type University } from '../support/university-idp.ts';

/**
 * Local mode signing students in at their school's OpenID provider (HUBLESS_OIDC_ISSUER),
 * in Chromium: a second oidc-provider plays the university. Jane's preferred_username
 * "Jane.Doe" maps to the hubless name "jane-doe" and her groups to hubless groups and the
 * admin flag; another person whose name maps to "jane-doe" too, and one whose name is an
 * account made in hubless, are refused with a page that says why, never merged.
 */
let local: TestLocalMode;
let university: University;
let browser: Browser;
let closeBrowser: () => Promise<void>;

const PEOPLE = [
  {
    login: 'jdoe',
    sub: 'uni-1001',
    claims: {
      preferred_username: 'Jane.Doe',
      email: 'jane.doe@uni.example',
      email_verified: true,
      groups: ['cs101-staff', 'it-admins', 'library'],
    },
  },
  // Another person whose name maps to the same hubless name.
  { login: 'jane_doe', sub: 'uni-2002', claims: { preferred_username: 'jane_doe', groups: [] } },
  // A university account named like the local account created below with a password.
  { login: 'alice', sub: 'uni-3003', claims: { preferred_username: 'alice', groups: [] } },
];

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  university = await startUniversity({
    people: PEOPLE,
    redirectUri: `${url}/oauth2/idpresponse`,
    postLogoutRedirectUri: `${url}/`,
  });
  local = await startTestLocalMode({
    HUBLESS_PORT: String(port),
    HUBLESS_PUBLIC_URL: url,
    HUBLESS_OIDC_ISSUER: university.issuer,
    HUBLESS_OIDC_CLIENT_ID: university.clientId,
    HUBLESS_OIDC_CLIENT_SECRET: university.clientSecret,
    HUBLESS_OIDC_SCOPES: 'openid email profile groups',
    HUBLESS_OIDC_USERNAME_CLAIM: 'preferred_username',
    HUBLESS_OIDC_GROUPS_CLAIM: 'groups',
    HUBLESS_OIDC_GROUP_MAP: 'cs101-staff=staff,it-admins=admins',
    HUBLESS_OIDC_ADMIN_GROUPS: 'it-admins',
  });
  await local.addUser('alice', 'alice-password');
  ({ browser, close: closeBrowser } = await launchChromium());
});

afterAll(async () => {
  await closeBrowser?.();
  await local?.stop();
  await university?.close();
});

/** Signs in at the university's login and consent pages (oidc-provider's development pages). */
async function signInAtUniversity(
  login: string,
  screenshot?: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  await page.goto(local.url);
  await page.waitForURL(`${university.issuer}/**`);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  if (screenshot) await page.screenshot({ path: join(ARTIFACTS, screenshot) });
  await page.getByRole('button', { name: 'Sign-in' }).click();
  // The consent page, first time only.
  const consent = page.getByRole('button', { name: 'Continue' });
  await page.waitForURL((url) => url.origin === local.url || url.pathname.includes('/interaction/'));
  if (new URL(page.url()).origin !== local.url) {
    await consent.click();
    await page.waitForURL(`${local.url}/**`);
  }
  return { context, page };
}

describe('sign-in through the school’s OpenID provider (local mode)', () => {
  it('maps Jane.Doe to jane-doe with her mapped groups and admin flag, and her lab is hers', async () => {
    const { context, page } = await signInAtUniversity('jdoe', 'federated-university-login.png');
    await page.waitForURL(`${local.url}/`);
    await expect.poll(() => page.locator('body').textContent()).toContain('jane-doe');
    await page.screenshot({ path: join(ARTIFACTS, 'federated-sign-in.png') });

    const jane = await local.runtime.directory.get('jane-doe');
    expect(jane).toMatchObject({
      name: 'jane-doe',
      email: 'jane.doe@uni.example',
      groups: ['admins', 'staff'],
      admin: true,
      disabled: false,
    });
    // Federated users have no hubless password: the embedded provider cannot sign them in.
    expect(await local.runtime.directory.verifyPassword('jane-doe', '')).toBeUndefined();

    await page.getByRole('button', { name: 'Start my server' }).click();
    await page.waitForURL(/\/user\/jane-doe\/(tree|lab)/, { timeout: 120_000 });
    const status = await page.request.get(`${local.url}/user/jane-doe/api/status`);
    expect(status.status()).toBe(200);
    await page.goto(local.url);
    await page.getByRole('button', { name: 'Stop my server' }).click();
    await expect
      .poll(() => page.locator('#server-state').textContent(), { timeout: 30_000 })
      .toMatch(/stopped/);
    await context.close();
  });

  it('refuses another person whose name also maps to jane-doe, with a page that says why', async () => {
    const { context, page } = await signInAtUniversity('jane_doe');
    const refusal = page.locator('#refusal');
    await expect.poll(() => refusal.textContent()).toContain('"jane-doe"');
    expect(await refusal.getAttribute('data-code')).toBe('username_taken');
    expect(await refusal.textContent()).toContain(
      'another person who signed in through the identity provider',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'federated-collision.png') });
    // Nothing merged: jane-doe is still Jane's, and no session was made for the newcomer.
    expect((await local.runtime.directory.get('jane-doe'))?.email).toBe('jane.doe@uni.example');
    const portal = await page.request.get(`${local.url}/`, { maxRedirects: 0 });
    expect(portal.status()).not.toBe(200);
    await context.close();
  });

  it('refuses a university account named like an account made in hubless', async () => {
    const { context, page } = await signInAtUniversity('alice');
    const refusal = page.locator('#refusal');
    await expect.poll(() => refusal.textContent()).toContain('created in hubless itself');
    expect((await local.runtime.directory.verifyPassword('alice', 'alice-password'))?.name).toBe('alice');
    await context.close();
  });
});
