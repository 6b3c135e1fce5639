import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page, type Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MachineClient } from '../../functions/adapters/local/machine-clients.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.ts';
import type { TestLocalMode } from '../support/local-mode.ts';
import { clientToken, startLocalModeWithClients } from '../support/machine-client.ts';

/**
 * LMS launch links in a real browser (Debian's Chromium) against a real local mode: the
 * course platform asks /api/v1 for a link, the student opens it, signs in on the
 * provider's login page, watches the progress page and lands in the notebook. A used,
 * expired or someone else's link shows a page that says so.
 */
const ARTIFACTS = 'test-artifacts/e2e';
const NOTEBOOK = 'assignments/week3.ipynb';

let local: TestLocalMode;
let lms: MachineClient;
let token: string;
const browsers: { context: BrowserContext; profileDir: string }[] = [];

beforeAll(async () => {
  const started = await startLocalModeWithClients({ lms: ['users:write', 'launch'] });
  local = started.local;
  lms = started.clients.lms!;
  token = await clientToken(local.url, lms);
  await local.addUser('alice', 'alice-password');
  await local.addUser('bob', 'bob-password');
  // The assignment is already in alice's home, as nbgitpuller or a teacher's copy leaves it.
  await mkdir(join(local.runtime.homesDir, 'alice', 'assignments'), { recursive: true });
  await writeFile(join(local.runtime.homesDir, 'alice', NOTEBOOK), JSON.stringify(weekThreeNotebook()));
  await mkdir(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  for (const { context, profileDir } of browsers) {
    await context.close().catch(() => undefined);
    await rm(profileDir, { recursive: true, force: true });
  }
  await local?.stop();
});

function weekThreeNotebook() {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      {
        id: 'intro',
        cell_type: 'markdown',
        metadata: {},
        source: ['# Week 3: loops\n', 'Fill in the cell below.'],
      },
      {
        id: 'task',
        cell_type: 'code',
        metadata: {},
        execution_count: null,
        outputs: [],
        source: ['total = sum(range(10))'],
      },
    ],
  };
}

/** What the course platform's backend does when it renders the assignment page. */
async function launchLink(user: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${local.url}/api/v1/users/${user}/launch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { url: string };
  expect(response.status).toBe(201);
  return answer.url;
}

/**
 * A fresh Chromium with its own new profile (so its own cookies): one per person.
 * Playwright takes the profile directory as launchPersistentContext's argument rather
 * than as --user-data-dir.
 */
async function newPage(): Promise<Page> {
  const profileDir = await mkdtemp(join(tmpdir(), 'hubless-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1200, height: 800 },
    args: CHROMIUM_ARGS,
  });
  browsers.push({ context, profileDir });
  return context.pages()[0] ?? context.newPage();
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: `${ARTIFACTS}/launch-link-${name}.png`, fullPage: true });

/** Fills in the provider's login form; resolves with the response to the /launch request it leads back to. */
async function signIn(page: Page, username: string, password: string): Promise<Response> {
  await expect(page.getByRole('heading', { name: 'Sign in to hubless' }).isVisible()).resolves.toBe(true);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  const launched = page.waitForResponse((response) => new URL(response.url()).pathname === '/launch');
  await page.getByRole('button', { name: 'Sign in' }).click();
  return launched;
}

/** The notebook's address in whichever UI the lab runs: nbclassic or JupyterLab. */
const NOTEBOOK_URL =
  /\/user\/alice\/(notebooks\/assignments\/week3\.ipynb|lab\/tree\/assignments\/week3\.ipynb)$/;

describe('LMS launch links in a browser', () => {
  let expiring: string;
  let expiringMadeAt: number;

  beforeAll(async () => {
    // Made first so that its 30 s run out while the other tests run.
    expiring = await launchLink('alice', { path: NOTEBOOK, ttl_seconds: 30 });
    expiringMadeAt = Date.now();
  });

  it('signs alice in, shows the progress page and lands her in the assignment notebook', async () => {
    const link = await launchLink('alice', { path: NOTEBOOK, ttl_seconds: 600 });
    const page = await newPage();
    await page.goto(link);
    expect(new URL(page.url()).pathname).toMatch(/^\/oidc\/interaction\//);
    await shot(page, '1-login');

    const launched = await signIn(page, 'alice', 'alice-password');
    expect(launched.status()).toBe(303);
    expect(await launched.headerValue('location')).toBe('/spawn-pending');
    await page.waitForURL((url) => url.pathname === '/spawn-pending' || NOTEBOOK_URL.test(url.pathname));
    if (new URL(page.url()).pathname === '/spawn-pending') {
      await expect(page.getByRole('heading', { name: 'Starting your server' }).isVisible()).resolves.toBe(
        true,
      );
      await shot(page, '2-progress');
    }

    await page.waitForURL(NOTEBOOK_URL, { timeout: 120_000 });
    await page
      .getByRole('heading', { name: /Week 3: loops/ })
      .first()
      .waitFor({ timeout: 60_000 });
    await expect(
      page.getByText('total = sum(range(10))').filter({ visible: true }).count(),
    ).resolves.toBeGreaterThan(0);
    await shot(page, '3-notebook');
  });

  it('refuses the same link a second time with a page that says it was used', async () => {
    const link = await launchLink('alice', { path: NOTEBOOK });
    const page = await newPage();
    await page.goto(link);
    const first = await signIn(page, 'alice', 'alice-password');
    expect(first.status()).toBe(303);
    await page.waitForURL(NOTEBOOK_URL, { timeout: 120_000 });

    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    await expect(page.getByText('This launch link has already been used').isVisible()).resolves.toBe(true);
    await shot(page, '4-already-used');
  });

  it('gives bob a 403 for alice’s link, and the link still works for alice afterwards', async () => {
    const link = await launchLink('alice', { path: NOTEBOOK });
    const bob = await newPage();
    await bob.goto(link);
    const refused = await signIn(bob, 'bob', 'bob-password');
    expect(refused.status()).toBe(403);
    await expect(bob.getByText('This link is for another user').isVisible()).resolves.toBe(true);
    await shot(bob, '5-other-user');
    // Signed in now, bob tries once more: still refused, still not used up.
    expect((await bob.goto(link))?.status()).toBe(403);

    const alice = await newPage();
    await alice.goto(link);
    const launched = await signIn(alice, 'alice', 'alice-password');
    expect(launched.status()).toBe(303);
    await alice.waitForURL(NOTEBOOK_URL, { timeout: 120_000 });
    await alice
      .getByRole('heading', { name: /Week 3: loops/ })
      .first()
      .waitFor({ timeout: 60_000 });
  });

  it('shows an expired link as expired', async () => {
    const left = expiringMadeAt + 31_000 - Date.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    const page = await newPage();
    await page.goto(expiring);
    const expired = await signIn(page, 'alice', 'alice-password');
    expect(expired.status()).toBe(410);
    await expect(page.getByText('This launch link has expired').isVisible()).resolves.toBe(true);
    await shot(page, '6-expired');
  });
});
