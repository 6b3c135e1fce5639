import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The design and operations pages live in docs/, inside the repository: someone who
 * clones hubless has them, and every pointer to them (README, code comments) resolves.
 */
const root = path.resolve(import.meta.dirname, '../..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file && existsSync(path.join(root, file)));
const docs = ['README.md', ...tracked.filter((file) => /^docs\/.*\.md$/.test(file))];

describe('the project documentation', () => {
  it('is never pointed at outside the repository (a design file users do not have)', () => {
    // Spelled in pieces, so that this file does not match what it looks for.
    const outside = new RegExp(`\\.\\./${'shared'}/|${'DES'}IGN`);
    const offenders = tracked
      // JupyterHub's own REST API spec has routes for shared servers: not a pointer.
      .filter((file) => file !== 'test/support/jupyterhub/rest-api.yml')
      .filter((file) => !/\.(png|jpg|ico|woff2?)$/.test(file))
      .filter((file) => outside.test(readFileSync(path.join(root, file), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('has an architecture page with the parts, ports, lifecycle, security model and AWS limits', () => {
    const page = readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
    for (const heading of [
      'Parts and their local stand-ins',
      'Ports and their contracts',
      'Session lifecycle',
      'Security model',
      'AWS limits the design respects',
    ]) {
      expect(page).toMatch(new RegExp(`^## \\d\\. ${heading}$`, 'm'));
    }
  });

  it.each(docs)('%s links only to files that exist', (doc) => {
    const text = readFileSync(path.join(root, doc), 'utf8');
    const missing = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
      .map((match) => match[1] as string)
      .filter((target) => !/^[a-z]+:/.test(target))
      .filter((target) => !existsSync(path.resolve(root, path.dirname(doc), target)));
    expect(missing).toEqual([]);
  });

  it('names, in code comments that point at docs/architecture.md, a section that exists', () => {
    const page = readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
    const sections = new Set([...page.matchAll(/^## (\d)\. /gm)].map((match) => match[1]));
    const cited = tracked
      .filter((file) => /\.(ts|py)$|Dockerfile$/.test(file))
      .flatMap((file) => [
        ...readFileSync(path.join(root, file), 'utf8').matchAll(/docs\/architecture\.md section (\d)/g),
      ])
      .map((match) => match[1]);
    expect(cited.length).toBeGreaterThan(0);
    expect(cited.filter((section) => !sections.has(section))).toEqual([]);
  });
});
