import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_CLIENT_ID, gatewayIssuer } from '../../functions/local/gateway/index.ts';
import { ALB_KEYS_PATH, LOCAL_SIGNER_ARN } from '../../functions/local/identity-signer.ts';
import { type BareLab, startBareLab } from '../support/bare-lab.ts';
import { type GatewayFixture, startGatewayFixture } from '../support/gateway-fixture.ts';
import { Browser, signIn } from '../support/http-browser.ts';

/**
 * An identity header captured while its owner was signed in (the gateway's lab stand-in
 * records what it is sent), replayed straight to a real lab's port after she signed out:
 * the lab refuses it at once, not 120 s later. The lab is jupyter-server with the lab's
 * own config and owner check, told the gateway's keys and its list of ended sign-ins, as
 * local mode starts labs.
 */
const BASE = '/user/alice/';

describe('identity headers after sign-out', () => {
  let fixture: GatewayFixture;
  let workDir: string;
  let endedFile: string;
  let lab: BareLab;
  let labUrl: string;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'hubless-ended-'));
    endedFile = path.join(workDir, 'identity', 'ended-sessions.json');
    fixture = await startGatewayFixture({ endedSessionsFile: endedFile });
    // Any answer to <base>api will do: without an identity the owner check refuses (403).
    lab = await startBareLab({
      workDir,
      baseUrl: BASE,
      env: {
        HUBLESS_OWNER: 'alice',
        HUBLESS_IDENTITY_KEYS_URL: `${fixture.gateway.url}${ALB_KEYS_PATH}`,
        HUBLESS_IDENTITY_SIGNER: LOCAL_SIGNER_ARN,
        HUBLESS_IDENTITY_ISSUER: gatewayIssuer(fixture.gateway.url),
        HUBLESS_IDENTITY_CLIENT: DEFAULT_GATEWAY_CLIENT_ID,
        HUBLESS_IDENTITY_ENDED_SESSIONS: endedFile,
      },
    });
    labUrl = lab.url;
  });

  afterAll(async () => {
    await lab?.stop();
    await fixture?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** Signs alice in and returns the identity header the gateway sent her lab, and her browser. */
  async function captureHeader(): Promise<{ header: string; browser: Browser }> {
    const browser = new Browser(fixture.gateway.url);
    await signIn(browser, 'alice', 'alice-password');
    const response = await browser.request('/user/alice/api/status');
    expect(response.status).toBe(200);
    const header = fixture.lab.seen.at(-1)?.['x-amzn-oidc-data'];
    if (typeof header !== 'string') throw new Error('the lab stand-in saw no identity header');
    return { header, browser };
  }

  const replay = (header: string) =>
    fetch(`${labUrl}${BASE}api/contents`, { headers: { 'x-amzn-oidc-data': header } });

  it('publishes the list for labs to read and no lab to change', () => {
    expect(statSync(endedFile).mode & 0o777).toBe(0o644);
    expect(statSync(path.dirname(endedFile)).mode & 0o777).toBe(0o755);
    const list = JSON.parse(readFileSync(endedFile, 'utf8'));
    expect(list).toMatchObject({ version: 1, ended: {} });
    expect(list.since).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });

  it('refuses a header replayed after its session signed out, at once; other sessions keep working', async () => {
    const first = await captureHeader();
    const second = await captureHeader();
    expect((await replay(first.header)).status).toBe(200);

    const out = await first.browser.request('/logout', {
      method: 'POST',
      headers: { origin: fixture.gateway.url },
    });
    expect(out.status).toBe(303);

    const refused = await replay(first.header);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('This sign-in has ended');
    // alice's other browser is still signed in, and its header still opens her lab.
    expect((await replay(second.header)).status).toBe(200);
    // The cookie's session id never reaches the lab or the list.
    const cookieId = first.browser.setCookies
      .find((c) => c.startsWith('hubless_session=') && !c.startsWith('hubless_session=;'))
      ?.split(/[=;]/)[1];
    expect(cookieId).toBeTruthy();
    expect(readFileSync(endedFile, 'utf8')).not.toContain(cookieId);
  });
});
