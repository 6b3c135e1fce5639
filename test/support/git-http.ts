import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

/**
 * Runs git as a course's teacher would in a test: a fixed author, and none of the machine's
 * own git configuration. Returns what git printed.
 */
export function teacherGit(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    stdio: 'pipe',
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Teacher',
      GIT_AUTHOR_EMAIL: 'teacher@example.edu',
      GIT_COMMITTER_NAME: 'Teacher',
      GIT_COMMITTER_EMAIL: 'teacher@example.edu',
    },
  }).toString();
}

/**
 * Serves the bare git repositories under `root` over git's plain ("dumb") HTTP protocol,
 * read-only, on loopback, as a course's git host would. Labs pull as their user's own
 * account, and git refuses a file:// repository another user owns ("dubious ownership"),
 * so tests that run as root hand labs an http URL. Call `published(bare)` after each push
 * (git's dumb protocol reads the refs list `git update-server-info` writes).
 */
export async function serveGitRepos(root: string): Promise<{
  url: (bare: string) => string;
  published: (bare: string) => void;
  close: () => Promise<void>;
}> {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    createReadStream(join(root, path))
      .on('error', () => response.writeHead(404).end())
      .pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (bare) =>
      `http://127.0.0.1:${port}/${normalize(bare).slice(normalize(root).length).replace(/^\/+/, '')}`,
    published: (bare) => {
      execFileSync('git', ['update-server-info'], { cwd: bare, stdio: 'pipe' });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
