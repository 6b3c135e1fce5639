import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLtiPlatforms } from '../../functions/adapters/local/lti-platforms.ts';
import { SESSION_COOKIE } from '../../functions/local/gateway/identity-headers.ts';
import { launchChromium } from '../support/chromium.ts';
import { serveGitRepos, teacherGit } from '../support/git-http.ts';
import { startTestLocalMode, type TestLocalMode } from '../support/local-mode.ts';
import { DEEP_LINKING, type LaunchSpecifics, LTI, SimulatedPlatform } from '../support/lti-platform.ts';

/**
 * LTI 1.3 launches in a real browser: a simulated LMS (its own keys, JWKS and OIDC
 * authorization endpoint) sends a student through hubless's login initiation and launch
 * into local mode; the student lands, signed in, in a notebook of the course repository
 * hubless has just pulled into their home. Every id_token hubless must refuse shows a
 * page that says why, and leaves the browser without a hubless session.
 */
const ARTIFACTS = 'test-artifacts/e2e';
const STUDENT = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
const TEACHER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';

let local: TestLocalMode;
let lms: SimulatedPlatform;
let course: { bare: string; work: string; url: string };
let repos: Awaited<ReturnType<typeof serveGitRepos>>;
let chromiumBrowser: Awaited<ReturnType<typeof launchChromium>> | undefined;
const transcript: string[] = [];

const git = teacherGit;

function notebook(title: string) {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      { id: 'intro', cell_type: 'markdown', metadata: {}, source: [`# ${title}`] },
      {
        id: 'task',
        cell_type: 'code',
        metadata: {},
        execution_count: null,
        outputs: [],
        source: ['answer = 6 * 7'],
      },
    ],
  });
}

beforeAll(async () => {
  lms = new SimulatedPlatform();
  await lms.start();
  local = await startTestLocalMode();
  await new LocalLtiPlatforms({ dataDir: local.dataDir }).put({
    issuer: lms.issuer,
    clientId: lms.clientId,
    deploymentIds: [lms.deploymentId],
    jwksUrl: `${lms.url}/jwks`,
    authUrl: `${lms.url}/auth`,
    usernameClaim: `${LTI}ext.user_username`,
    createdAt: new Date().toISOString(),
  });
  // The teacher's course repository, served over git's plain HTTP protocol as a course's
  // host would serve it: the lab pulls as the student's own account, and git refuses a
  // file:// repository owned by another user ("dubious ownership").
  const root = await mkdtemp(join(tmpdir(), 'hubless-lti-course-'));
  repos = await serveGitRepos(root);
  course = {
    bare: join(root, 'intro-python.git'),
    work: join(root, 'teacher'),
    url: repos.url(join(root, 'intro-python.git')),
  };
  git(root, 'init', '-q', '--bare', '--initial-branch=main', course.bare);
  git(root, 'clone', '-q', course.bare, course.work);
  await writeFile(join(course.work, 'week1.ipynb'), notebook('Week 1: hello from the course repository'));
  git(course.work, 'add', '-A');
  git(course.work, 'commit', '-q', '-m', 'week 1');
  git(course.work, 'push', '-q', 'origin', 'HEAD:main');
  repos.published(course.bare);
  await mkdir(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await chromiumBrowser?.close().catch(() => undefined);
  await local?.stop();
  await lms?.stop();
  await repos?.close();
  if (transcript.length)
    await writeFile(`${ARTIFACTS}/lti-launch-transcript.txt`, `${transcript.join('\n')}\n`);
});

async function newPage(record = false): Promise<Page> {
  // One browser for the file, a fresh context (its own cookies) per person: much cheaper
  // than a browser each on a busy machine.
  chromiumBrowser ??= await launchChromium();
  const context = await chromiumBrowser.browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  if (record)
    page.on('response', (response) => {
      const request = response.request();
      if (request.resourceType() !== 'document') return;
      const url = new URL(response.url());
      const shown = url.searchParams.has('state')
        ? `${url.origin}${url.pathname}?…state,nonce,login_hint…`
        : url.toString().replace(/([?&](token|id_token)=)[^&]+/, '$1…');
      transcript.push(`${request.method()} ${shown} -> ${response.status()}`);
    });
  return page;
}

const hasSession = async (page: Page) =>
  (await page.context().cookies()).some((cookie) => cookie.name === SESSION_COOKIE);

function student(username: string, custom?: Record<string, string>): LaunchSpecifics {
  return {
    user: {
      sub: `sub-${username}`,
      username,
      name: username.toUpperCase(),
      email: `${username}@example.edu`,
      roles: [STUDENT],
    },
    course: { id: 'course-42', label: 'PY 101', title: 'Introduction to Python' },
    custom: custom ?? {},
  };
}

const NOTEBOOK_URL =
  /\/user\/ada\/(notebooks\/intro-python\/week1\.ipynb|lab\/tree\/intro-python\/week1\.ipynb)$/;

describe('LTI 1.3 launch from a simulated LMS, in Chromium', () => {
  it('lands a new student, signed in, in the course notebook hubless pulled into her home', async () => {
    const page = await newPage(true);
    lms.tamper = {};
    const login = lms.loginUrl(
      local.url,
      student('ada', {
        repository: course.url,
        branch: 'main',
        path: 'intro-python/week1.ipynb',
      }),
    );
    transcript.push(
      `# LMS: the student clicks "Week 1" in PY 101; the browser goes to hubless's login initiation`,
    );
    await page.goto(login);
    await page.waitForURL(NOTEBOOK_URL, { timeout: 120_000 });
    await page
      .getByRole('heading', { name: /Week 1: hello from the course repository/ })
      .first()
      .waitFor({ timeout: 60_000 });
    await page.screenshot({ path: `${ARTIFACTS}/lti-1-notebook.png`, fullPage: true });
    transcript.push(`# the notebook shows: "Week 1: hello from the course repository"`);

    const ada = await local.runtime.directory.get('ada');
    expect(ada?.groups).toEqual([expect.stringMatching(/^py-101-[0-9a-f]{8}$/)]);
    expect(ada?.email).toBe('ada@example.edu');
    const home = join(local.runtime.homesDir, 'ada', 'intro-python');
    expect(await readFile(join(home, 'week1.ipynb'), 'utf8')).toContain('hello from the course repository');
    transcript.push(
      `# hubless user: ada, groups: ${ada?.groups.join(', ')}; ~/intro-python is a clone of the course`,
    );
  });

  it('puts an instructor in the course admin group', async () => {
    const page = await newPage();
    lms.tamper = {};
    const launch = student('grace');
    launch.user.roles = [TEACHER];
    await page.goto(lms.loginUrl(local.url, launch));
    await page.waitForURL(
      (url) => url.pathname.startsWith('/user/grace/') || url.pathname === '/spawn-pending',
    );
    const grace = await local.runtime.directory.get('grace');
    expect(grace?.groups).toHaveLength(2);
    expect(grace?.groups[1]).toBe(`${grace?.groups[0]}-admins`);
  });

  it('lets a teacher choose the notebook an activity opens (deep linking), and a student lands in it', async () => {
    const teacher = await newPage();
    lms.tamper = {};
    const launch = student('hopper');
    launch.user.roles = [TEACHER];
    await teacher.goto(lms.deepLinkUrl(local.url, launch));
    await teacher.getByRole('heading', { name: 'Choose what this activity opens' }).waitFor();
    expect(await hasSession(teacher)).toBe(false);
    await teacher.getByLabel('Title').fill('Week 1 with hubless');
    await teacher.getByLabel('Repository').fill(course.url);
    await teacher.getByLabel('Branch').fill('main');
    await teacher.getByLabel('Notebook').fill('intro-python/week1.ipynb');
    await teacher.screenshot({ path: `${ARTIFACTS}/lti-deep-linking-choice.png`, fullPage: true });
    await teacher.getByRole('button', { name: 'Add to the course' }).click();
    await teacher.getByRole('heading', { name: 'Added to the course: Week 1 with hubless' }).waitFor();

    const [item] = lms.linked.at(-1)![`${DEEP_LINKING}content_items`] as Array<{
      type: string;
      url: string;
      custom: Record<string, string>;
    }>;
    expect(item).toEqual({
      type: 'ltiResourceLink',
      title: 'Week 1 with hubless',
      url: `${local.url}/lti/launch`,
      custom: { repository: course.url, branch: 'main', path: 'intro-python/week1.ipynb' },
    });

    // A student clicks the new activity: the LMS launches with the custom parameters it stored.
    const page = await newPage();
    await page.goto(lms.loginUrl(local.url, student('lin', item?.custom)));
    await page.waitForURL(/\/user\/lin\/(notebooks|lab\/tree)\/intro-python\/week1\.ipynb$/, {
      timeout: 120_000,
    });
  });

  it('refuses a deep linking request from a student, with a page that says so', async () => {
    const page = await newPage();
    lms.tamper = {};
    const launched = page.waitForResponse((r) => new URL(r.url()).pathname === '/lti/launch');
    await page.goto(lms.deepLinkUrl(local.url, student('eve')));
    expect((await launched).status()).toBe(403);
    await page.getByText(/Only the course's teachers choose/).waitFor();
    expect(await hasSession(page)).toBe(false);
  });

  const refusals: Array<[string, () => void, number, RegExp]> = [
    ['a bad signature', () => (lms.tamper = { foreignKey: true }), 401, /not signed by a key of/],
    [
      'a wrong audience',
      () => (lms.tamper = { claims: (c) => ({ ...c, aud: 'another-tool' }) }),
      401,
      /not for hubless's client id/,
    ],
    [
      'an unknown deployment',
      () => (lms.tamper = { claims: (c) => ({ ...c, [`${LTI}deployment_id`]: 'deployment-9' }) }),
      401,
      /deployment "deployment-9" .* is not registered/,
    ],
    [
      'an expired token',
      () => {
        const past = Math.floor(Date.now() / 1000) - 3600;
        lms.tamper = { claims: (c) => ({ ...c, iat: past - 300, exp: past }) };
      },
      401,
      /expired/,
    ],
    [
      'a replayed id_token (its nonce was used)',
      () => (lms.tamper = { idToken: lms.posted[0] }),
      401,
      /already used/,
    ],
  ];

  for (const [what, tamper, status, message] of refusals) {
    it(`refuses ${what} with a page that says so, and no session`, async () => {
      const page = await newPage();
      tamper();
      const launched = page.waitForResponse((r) => new URL(r.url()).pathname === '/lti/launch');
      await page.goto(lms.loginUrl(local.url, student('mallory')));
      const response = await launched;
      expect(response.status()).toBe(status);
      await page.getByRole('heading', { name: 'hubless could not open this activity' }).waitFor();
      await expect(page.getByText(message).count()).resolves.toBeGreaterThan(0);
      expect(await hasSession(page)).toBe(false);
      // And the portal still asks this browser to sign in.
      await page.goto(`${local.url}/`);
      expect(new URL(page.url()).pathname).toMatch(/^\/oidc\/interaction\//);
      expect(await local.runtime.directory.get('mallory')).toBeUndefined();
    });
  }
});
