import { chmod, chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../../core/errors.ts';
import type { Homes } from '../../core/ports.ts';
import { normaliseUsername } from '../../core/username.ts';
import type { LabAccounts } from './lab-accounts.ts';

/**
 * Local stand-in for per-user EFS access points: one directory per user under `root`.
 * `ensure` accepts only a safe user key (normaliseUsername's rule, and already normalised),
 * so "../bob" or "Alice" can never name a directory outside `root` or another user's home.
 *
 * Each home is mode 0700 and owned by the account its labs run as (`accounts`): with
 * per-user system accounts, alice's code cannot list, read or write bob's home. `root`
 * itself is 0711 when accounts are isolated: a lab may pass through it to its own home
 * but cannot list the others.
 */
export class DirHomes implements Homes {
  readonly root: string;
  readonly #accounts: LabAccounts | undefined;

  constructor(options: { root: string; accounts?: LabAccounts }) {
    this.root = path.resolve(options.root);
    this.#accounts = options.accounts;
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
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    if (this.#accounts?.isolated) await chmod(this.root, 0o711);
    const home = path.join(this.root, key);
    await mkdir(home, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask and ignored for an existing directory.
    await chmod(home, 0o700);
    if (this.#accounts?.isolated) {
      const account = await this.#accounts.ensure(key, home);
      await chown(home, account.uid, account.gid);
    }
    return home;
  }
}
