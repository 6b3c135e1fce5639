import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayTls } from '../../functions/local/tls.ts';
import { launchChromium } from '../support/chromium.ts';
import { startTestLocalMode, type TestLocalMode } from '../support/local-mode.ts';

/**
 * A class on a network: local mode with an https:// public URL and no certificate given
 * makes a self-signed one, and a browser that trusts exactly that certificate (by the
 * public-key hash printed at start, as a student checks the fingerprint) signs in over
 * HTTPS with Secure cookies and HSTS.
 */
let local: TestLocalMode;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  local = await startTestLocalMode({}, { https: true });
  await local.addUser('alice', 'alice-password');
  const spki = local.runtime.tls?.spkiSha256;
  if (!spki) throw new Error('local mode did not make a certificate for its https URL');
  ({ browser, close: closeBrowser } = await launchChromium([
    `--ignore-certificate-errors-spki-list=${spki}`,
  ]));
});

afterAll(async () => {
  await closeBrowser?.();
  await local?.stop();
});

describe('local mode over HTTPS', () => {
  it('makes a self-signed certificate on first start, its key readable only by hubless', async () => {
    const tls = local.runtime.tls!;
    expect(tls.source).toBe('generated');
    expect(tls.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect((await stat(join(local.dataDir, 'tls', 'key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(local.dataDir, 'tls'))).mode & 0o777).toBe(0o700);
    // The next start keeps it (students checked its fingerprint once).
    const again = await loadGatewayTls({ publicUrl: local.url, dataDir: local.dataDir });
    expect(again).toMatchObject({ source: 'kept', fingerprint: tls.fingerprint });
    // An operator's certificate needs its key too, and says so.
    await expect(
      loadGatewayTls({ publicUrl: local.url, dataDir: local.dataDir, certFile: tls.certFile }),
    ).rejects.toThrow(/HUBLESS_TLS_CERT and HUBLESS_TLS_KEY go together/);
    const operator = await loadGatewayTls({
      publicUrl: local.url,
      dataDir: local.dataDir,
      certFile: tls.certFile,
      keyFile: join(local.dataDir, 'tls', 'key.pem'),
    });
    expect(operator).toMatchObject({ source: 'operator', fingerprint: tls.fingerprint });
  });

  it('signs a student in over HTTPS in Chromium, with Secure cookies and HSTS', async () => {
    expect(local.url).toMatch(/^https:\/\//);
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await page.goto(local.url);
    expect(first).not.toBeNull();
    await expect.poll(() => page.locator('#username').isVisible()).toBe(true);
    expect(page.url()).toMatch(/^https:\/\//);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-password');
    const home = page.waitForResponse((response) => response.url() === `${local.url}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${local.url}/`);
    expect((await home).headers()['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(await page.getByRole('button', { name: 'Start my server' }).isVisible()).toBe(true);
    const session = (await context.cookies()).find((c) => c.name === 'hubless_session');
    expect(session).toMatchObject({ secure: true, httpOnly: true });
    await context.close();
  });
});
