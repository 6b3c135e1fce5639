import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (no browser download: `npx playwright
 * install` cannot work offline). Flags keep it from reaching for the network.
 */
/** Keep Chromium off the network (this machine has none) and out of first-run chores. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM_PATH = process.env.HUBLESS_CHROMIUM ?? '/usr/bin/chromium';

/** `extraArgs`: e.g. --ignore-certificate-errors-spki-list=<hash> to trust one self-signed certificate. */
export async function launchChromium(
  extraArgs: string[] = [],
): Promise<{ browser: Browser; close(): Promise<void> }> {
  // playwright gives every launch() a fresh, empty profile of its own (it refuses
  // --user-data-dir here), so no state leaks between runs.
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'e2e');
