import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, runHublessCli } from '../support/cli-run.ts';

/**
 * The hubless command line as a user runs it (functions/local/cli.ts in a child Node):
 * help that never starts anything, a version, and `users add` that never changes an
 * existing user behind the operator's back.
 */
const root = path.resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(path.join(tmpdir(), 'hubless-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run extends CliRun {
  dataDir: string;
}

/** The CLI on a data dir of its own unless given one (support/cli-run.ts). */
async function hubless(args: string[], options: { dataDir?: string; input?: string } = {}): Promise<Run> {
  const dataDir = options.dataDir ?? path.join(scratch, `untouched-${Math.random().toString(36).slice(2)}`);
  return { ...(await runHublessCli(args, { dataDir, input: options.input ?? '' })), dataDir };
}

// Each case starts a Node process: on a busy CI machine that alone can take seconds.
describe('hubless (the local-mode CLI)', { timeout: 60_000 }, () => {
  describe('--version', () => {
    it("prints the package's version", async () => {
      const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
      const run = await hubless(['--version']);
      expect(run.status).toBe(0);
      expect(run.stdout.trim()).toBe(`hubless ${version}`);
    });
  });

  describe('--help', () => {
    it.concurrent.each([['--help'], ['-h'], []])('lists every command for %j', async (...args) => {
      const run = await hubless(args as string[]);
      expect(run.status).toBe(0);
      for (const command of [
        'start',
        'users add',
        'users passwd',
        'clients add',
        'tokens create',
        '--version',
      ])
        expect(run.stdout).toContain(`hubless ${command}`);
    });

    it.concurrent.each([
      [['start', '--help'], 'Usage: hubless start'],
      [['users', '--help'], 'Usage: hubless users <command>'],
      [['users', 'add', '--help'], 'Usage: hubless users add NAME'],
      [['users', 'add', 'alice', '--admin', '-h'], 'Usage: hubless users add NAME'],
      [['users', 'disable', '--help'], 'Usage: hubless users disable NAME'],
      [['users', 'passwd', 'alice', '--help'], 'Usage: hubless users passwd NAME'],
      [['clients', '--help'], 'Usage: hubless clients <command>'],
      [['clients', 'add', 'moodle', '--help'], 'Usage: hubless clients <command>'],
      [['tokens', 'revoke', '-h'], 'Usage: hubless tokens <command>'],
      [['help', 'users', 'add'], 'Usage: hubless users add NAME'],
    ])('%j prints its usage and changes nothing', async (args, usage) => {
      const run = await hubless(args);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(usage);
      // Nothing started, nothing written: not even the data dir exists.
      expect(existsSync(run.dataDir)).toBe(false);
    });
  });

  describe('bad input', () => {
    it('names an unknown command and shows the usage, exit status 2', async () => {
      const run = await hubless(['sart']);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('Unknown command "sart"');
      expect(run.stderr).toContain('hubless start');
    });

    it("shows the command's own usage for a missing argument", async () => {
      const run = await hubless(['users', 'disable']);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('hubless users disable needs a NAME');
      expect(run.stderr).toContain('Usage: hubless users disable NAME');
    });
  });

  describe('users add', () => {
    it('refuses an existing user and leaves their password and admin flag as they were', async () => {
      const dataDir = path.join(scratch, 'data-existing');
      const first = await hubless(['users', 'add', 'alice', '--admin', '--password-stdin'], {
        dataDir,
        input: 'first-password-123\n',
      });
      expect(first.status).toBe(0);
      const stored = () => readFileSync(path.join(dataDir, 'users.json'), 'utf8');
      const before = stored();

      const again = await hubless(['users', 'add', 'alice'], { dataDir });
      expect(again.status).toBe(1);
      expect(again.stderr).toContain('The user alice already exists (admin); nothing was changed.');
      expect(again.stderr).toContain('hubless users passwd alice');
      expect(again.stdout).not.toContain('Password');
      expect(stored()).toBe(before);
      expect((await hubless(['users', 'list'], { dataDir })).stdout).toContain('alice (admin)');
    });
  });

  describe('tokens', () => {
    it('creates a service token shown once and stored as a hash, lists it, and revokes it', async () => {
      const dataDir = path.join(scratch, 'data-tokens');
      const made = await hubless(
        ['tokens', 'create', 'idle-culler', '--culls', '--scopes', 'list:users,read:servers,delete:servers'],
        { dataDir },
      );
      expect(made.status, made.stderr).toBe(0);
      const token = /Token \(shown once\): (hbs_\S+)/.exec(made.stdout)?.[1] ?? '';
      expect(token).toMatch(/^hbs_/);
      const file = readFileSync(path.join(dataDir, 'service-tokens.json'), 'utf8');
      expect(file).not.toContain(token);
      const listed = await hubless(['tokens', 'list'], { dataDir });
      expect(listed.stdout).toContain('idle-culler (culls)  scopes: list:users read:servers delete:servers');
      expect(listed.stdout).not.toContain(token);
      const revoked = await hubless(['tokens', 'revoke', 'idle-culler'], { dataDir });
      expect(revoked.stdout).toContain('Revoked idle-culler');
      expect((await hubless(['tokens', 'list'], { dataDir })).stdout).toContain('No service tokens');
    });

    it('registers a HubOAuth service with --oauth-redirect-uri, and refuses a redirect URI it cannot trust', async () => {
      const dataDir = path.join(scratch, 'data-oauth');
      const made = await hubless(
        [
          'tokens',
          'create',
          'dash',
          '--oauth-redirect-uri',
          'https://dash.example.edu/services/dash/oauth_callback',
        ],
        { dataDir },
      );
      expect(made.status, made.stderr).toBe(0);
      expect(made.stdout).toContain('JUPYTERHUB_CLIENT_ID=service-dash');
      expect((await hubless(['tokens', 'list'], { dataDir })).stdout).toContain(
        'oauth: service-dash -> https://dash.example.edu/services/dash/oauth_callback',
      );
      const bad = await hubless(['tokens', 'create', 'evil', '--oauth-redirect-uri', 'javascript:alert(1)'], {
        dataDir,
      });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('is not a usable OAuth redirect URI: it must be http(s)');
    });
  });
});
