import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (no browser download: `npx playwright
 * install` cannot work offline). Flags keep it from reaching for the network.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  // playwright gives every launch() a fresh, empty profile of its own (it refuses
  // --user-data-dir here), so no state leaks between runs.
  const browser = await chromium.launch({
    executablePath: process.env.HUBLESS_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e');
