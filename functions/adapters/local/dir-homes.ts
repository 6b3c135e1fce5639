import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../../core/errors.ts';
import type { Homes } from '../../core/ports.ts';
import { normaliseUsername } from '../../core/username.ts';

/**
 * Local stand-in for per-user EFS access points: one directory per user under `root`.
 * `ensure` accepts only a safe user key (normaliseUsername's rule, and already normalised),
 * so "../bob" or "Alice" can never name a directory outside `root` or another user's home.
 * Mode 0750: the server runs as the local user, and other accounts on the machine stay out.
 */
export class DirHomes implements Homes {
  readonly root: string;

  constructor(options: { root: string }) {
    this.root = path.resolve(options.root);
  }

  /** Returns the absolute home path. Idempotent; throws ValidationError for an unsafe key. */
  async ensure(user: string): Promise<string> {
    const key = normaliseUsername(user);
    if (key !== user) {
      // Callers pass keys, not logins: rewriting here would hide a bug upstream.
      throw new ValidationError(
        `"${user}" is not a normalised user key (expected "${key}").`,
        'invalid_username',
      );
    }
    const home = path.join(this.root, key);
    await mkdir(home, { recursive: true, mode: 0o750 });
    // mkdir's mode is filtered by the umask and ignored for an existing directory.
    await chmod(home, 0o750);
    return home;
  }
}
