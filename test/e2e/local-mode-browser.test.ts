import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, launchChromium } from '../support/chromium.ts';
import { startTestLocalMode, type TestLocalMode } from '../support/local-mode.ts';

/**
 * What a student does on their first day, in a real browser: sign in, watch the
 * progress bar, land in their own Jupyter, run a cell, go back, stop the server.
 */
let local: TestLocalMode;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  local = await startTestLocalMode();
  await local.addUser('alice', 'alice-password');
  ({ browser, close: closeBrowser } = await launchChromium());
});

afterAll(async () => {
  await closeBrowser?.();
  await local?.stop();
});

const NOTEBOOK = {
  cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: '' }],
  metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' } },
  nbformat: 4,
  nbformat_minor: 5,
};

describe('a student in the browser', () => {
  it('signs in, watches the progress bar, runs a cell in their lab, and stops it', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();

    await page.goto(local.url);
    await expect.poll(() => page.locator('#username').isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'login.png') });
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${local.url}/`);
    await page.screenshot({ path: join(ARTIFACTS, 'home.png') });

    await page.getByRole('button', { name: 'Start my server' }).click();
    await page.waitForURL('**/spawn-pending');
    const bar = page.getByRole('progressbar');
    expect(await bar.isVisible()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'progress.png') });

    await page.waitForURL(/\/user\/alice\/(tree|lab)/, { timeout: 120_000 });
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(ARTIFACTS, 'lab.png') });

    // A notebook to run a cell in (created through the lab's own API, as the UI would).
    const xsrf = (await context.cookies()).find((c) => c.name === '_xsrf')?.value ?? '';
    const created = await page.request.put(`${local.url}/user/alice/api/contents/first-day.ipynb`, {
      headers: { 'x-xsrftoken': xsrf, 'content-type': 'application/json' },
      data: { type: 'notebook', content: NOTEBOOK },
    });
    expect(created.status()).toBe(201);

    const ui = new URL(page.url()).pathname.includes('/lab') ? 'lab' : 'tree';
    await page.goto(`${local.url}/user/alice/${ui === 'lab' ? 'lab/tree' : 'notebooks'}/first-day.ipynb`);
    const editor =
      ui === 'lab' ? page.locator('.jp-Cell .cm-content').first() : page.locator('.CodeMirror').first();
    await editor.click({ timeout: 60_000 });
    await page.keyboard.type('21 * 2');
    await page.keyboard.press('Shift+Enter');
    const output =
      ui === 'lab' ? page.locator('.jp-OutputArea-output').first() : page.locator('.output_subarea').first();
    await expect.poll(() => output.textContent(), { timeout: 60_000 }).toContain('42');
    await page.screenshot({ path: join(ARTIFACTS, 'cell.png') });

    await page.goto(local.url);
    await page.getByRole('button', { name: 'Stop my server' }).click();
    await page.waitForURL(`${local.url}/`);
    await expect
      .poll(() => page.locator('#server-state').textContent(), { timeout: 30_000 })
      .toMatch(/stopped/);
    await page.screenshot({ path: join(ARTIFACTS, 'stopped.png') });
    const session = await local.runtime.deps.store.get('alice', '');
    expect(session?.state).toBe('stopped');
    await context.close();
  });
});
