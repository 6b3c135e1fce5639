import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The README promises that `npm start` names a missing prerequisite with its install command
// and stops. Java is hidden from PATH here: the PATH holds only the tools scripts/hubless.sh
// needs besides it (Node 24 from this run, and a few coreutils).
const root = path.resolve(import.meta.dirname, '../..');
const bin = mkdtempSync(path.join(tmpdir(), 'hubless-path-'));
for (const tool of ['dirname', 'uname', 'head', 'sed', 'cat'])
  symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
symlinkSync(process.execPath, path.join(bin, 'node'));
// Java alone, for the cases that hide something else; and an empty "system bin" so the
// script's fallback to the distribution's /usr/bin finds no Jupyter, Chromium or pytest.
const withJava = mkdtempSync(path.join(tmpdir(), 'hubless-path-java-'));
symlinkSync('/usr/bin/java', path.join(withJava, 'java'));
const emptySystemBin = mkdtempSync(path.join(tmpdir(), 'hubless-system-bin-'));
afterAll(() => {
  for (const dir of [bin, withJava, emptySystemBin]) rmSync(dir, { recursive: true, force: true });
});

function hubless(command: string, options: { java?: boolean } = {}) {
  return spawnSync('/bin/sh', ['scripts/hubless.sh', command], {
    cwd: root,
    env: {
      PATH: options.java ? `${bin}:${withJava}` : bin,
      HOME: process.env.HOME ?? tmpdir(),
      HUBLESS_SYSTEM_BIN: emptySystemBin,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('scripts/hubless.sh prerequisites', () => {
  it('npm start without Java names it with its install command and stops', () => {
    const result = hubless('start');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('hubless: missing prerequisites; install them and run this again:');
    expect(result.stderr).toContain(
      'Java 17+ (DynamoDB Local runs on it): sudo apt-get install default-jre-headless   (macOS: brew install openjdk)',
    );
  });

  it('npm run bench without Java stops the same way', () => {
    const result = hubless('bench');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('sudo apt-get install default-jre-headless');
  });

  it('npm start without Jupyter names it, and only it, with its install command', () => {
    const result = hubless('start', { java: true });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'hubless: missing prerequisites; install them and run this again:\n' +
        '  - Jupyter (the per-user servers): sudo apt-get install jupyter-server python3-nbclassic python3-ipykernel python3-jwt python3-cryptography   (elsewhere: pip install jupyterlab pyjwt cryptography)\n',
    );
  });

  it('npm test without Chromium and pytest names each with its install command', () => {
    const result = hubless('test', { java: true });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('  - Chromium for the browser tests: sudo apt-get install chromium\n');
    expect(result.stderr).toContain(
      "  - pytest for the lab's Python tests: sudo apt-get install python3-pytest\n",
    );
    expect(result.stderr).not.toContain('Java');
  });

  it('names an unknown command and the ones it knows', () => {
    const result = hubless('deploy');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown command deploy (use start, test, bench, mutation or cli)');
  });
});
