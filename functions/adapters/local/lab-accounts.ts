import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';

/**
 * Who a user's labs run as in local mode.
 *
 * Run as root (the way to serve a class on a Linux machine), hubless gives every user a
 * locked system account of their own, `hubless-<name>`, as The Littlest JupyterHub does
 * with `jupyter-<name>`: the kernel's code then runs with that uid and the kernel keeps
 * users apart (homes 0700, /proc/<pid>/environ, signals), not hubless. Run as anyone
 * else, every lab runs as that one user and nothing keeps users apart: fine for one
 * person on their own machine, which is what start-up says.
 */
export interface LabAccount {
  /** The OS account name, e.g. hubless-alice. */
  name: string;
  uid: number;
  gid: number;
}

export interface LabAccounts {
  /** True when each user's labs run as an OS account of their own. */
  readonly isolated: boolean;
  /** The account `user`'s labs run as, created on first use (`home` becomes its home). */
  ensure(user: string, home: string): Promise<LabAccount>;
  /**
   * The group that owns the shared data folder: a course admin's lab runs with it as its
   * group and may write there; everyone else only reads (core/shared-data.ts).
   */
  sharedGroup(): Promise<number>;
}

/** Every lab runs as the user who runs hubless (not root): users are not kept apart. */
export class CurrentUserAccounts implements LabAccounts {
  readonly isolated = false;
  readonly #account: LabAccount;

  constructor() {
    const me = userInfo();
    this.#account = { name: me.username, uid: me.uid, gid: me.gid };
  }

  async ensure(): Promise<LabAccount> {
    return this.#account;
  }

  async sharedGroup(): Promise<number> {
    return this.#account.gid;
  }
}

export const ACCOUNT_PREFIX = 'hubless-';
/**
 * The shared data folder's group. An underscore never appears in a username, so no user's
 * own group (`hubless-<name>`) can ever be this one.
 */
export const SHARED_GROUP = 'hubless_shared';
/** useradd refuses longer names on most systems (and `ps` truncates past it). */
const ACCOUNT_NAME_MAX = 32;
const NOLOGIN_SHELLS = ['/usr/sbin/nologin', '/sbin/nologin', '/bin/false'];

/**
 * `hubless-<user>`; a user key longer than fits (keys may have 32 characters) keeps its
 * first 14 and gets a hash of the whole key, so two long keys never share an account.
 */
export function accountNameFor(user: string): string {
  const plain = `${ACCOUNT_PREFIX}${user}`;
  if (plain.length <= ACCOUNT_NAME_MAX) return plain;
  const hash = createHash('sha256').update(user).digest('hex').slice(0, 8);
  return `${ACCOUNT_PREFIX}${user.slice(0, 14).replace(/-$/, '')}-${hash}`;
}

/**
 * One locked system account per hubless user (Linux, run as root): `useradd --system`
 * with no login shell and no password (locked), its own group, and the hubless home as
 * its home directory. Accounts are kept when a user is disabled or removed, like their
 * files; `userdel hubless-<name>` removes one.
 */
export class SystemAccounts implements LabAccounts {
  readonly isolated = true;
  readonly #known = new Map<string, Promise<LabAccount>>();
  /** useradd locks /etc/passwd: one at a time from this process (others are retried). */
  #queue: Promise<unknown> = Promise.resolve();
  #sharedGid: Promise<number> | undefined;

  static supported(): string | undefined {
    if (process.platform !== 'linux')
      return `hubless gives each user a system account only on Linux (useradd); on ${process.platform} run it as your own user, not root.`;
    for (const tool of ['useradd', 'groupadd', 'getent']) {
      if (!toolPath(tool))
        return `hubless runs as root, so it gives each user a system account, but ${tool} is missing. Install the passwd package (Debian/Ubuntu: \`apt-get install passwd\`).`;
    }
    return undefined;
  }

  async ensure(user: string, home: string): Promise<LabAccount> {
    let account = this.#known.get(user);
    if (!account) {
      account = this.#create(user, home);
      this.#known.set(user, account);
      account.catch(() => this.#known.delete(user));
    }
    return account;
  }

  async sharedGroup(): Promise<number> {
    this.#sharedGid ??= this.#createSharedGroup();
    this.#sharedGid.catch(() => {
      this.#sharedGid = undefined;
    });
    return this.#sharedGid;
  }

  async #createSharedGroup(): Promise<number> {
    const existing = await lookupGroup(SHARED_GROUP);
    if (existing !== undefined) return existing;
    const run = this.#queue.then(() => exec('groupadd', ['--system', SHARED_GROUP]));
    this.#queue = run.catch(() => undefined);
    // Another hubless may have made it a moment ago: the look-up below is what counts.
    await run.catch(() => undefined);
    const made = await lookupGroup(SHARED_GROUP);
    if (made === undefined)
      throw new Error(
        `Could not create the system group ${SHARED_GROUP} for the shared data folder (groupadd --system ${SHARED_GROUP}).`,
      );
    return made;
  }

  async #create(user: string, home: string): Promise<LabAccount> {
    const name = accountNameFor(user);
    const existing = await lookup(name);
    if (existing) return existing;
    const shell = NOLOGIN_SHELLS.find((path) => existsSync(path)) ?? '/bin/false';
    let lastError: unknown;
    for (let attempt = 0; attempt < 8; attempt++) {
      const run = this.#queue.then(() =>
        exec('useradd', [
          '--system',
          '--user-group',
          '--no-create-home',
          '--home-dir',
          home,
          '--shell',
          shell,
          '--comment',
          `hubless user ${user}`,
          name,
        ]),
      );
      this.#queue = run.catch(() => undefined);
      try {
        await run;
      } catch (error) {
        // Another hubless (or a test) may hold the passwd lock, or have just made it.
        lastError = error;
      }
      const made = await lookup(name);
      // No password is ever set: useradd leaves the shadow entry "!", locked (the tests check it).
      if (made) return made;
      await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
    }
    throw new Error(
      `Could not create the system account ${name} for ${user}: ${(lastError as Error)?.message ?? 'useradd failed'}`,
    );
  }
}

async function lookup(name: string): Promise<LabAccount | undefined> {
  try {
    const line = (await exec('getent', ['passwd', name])).trim();
    const [, , uid, gid] = line.split(':');
    if (uid === undefined || gid === undefined) return undefined;
    return { name, uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined; // getent exits 2 for an unknown name
  }
}

async function lookupGroup(name: string): Promise<number | undefined> {
  try {
    const gid = (await exec('getent', ['group', name])).trim().split(':')[2];
    return gid === undefined ? undefined : Number(gid);
  } catch {
    return undefined; // getent exits 2 for an unknown name
  }
}

const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** Absolute paths: root's PATH under npm or systemd may lack /usr/sbin. */
function toolPath(tool: string): string | undefined {
  return SYSTEM_DIRS.map((dir) => `${dir}/${tool}`).find((path) => existsSync(path));
}

function exec(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      toolPath(command) ?? command,
      args,
      { timeout: 30_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.at(-1)}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** The accounts that fit how hubless runs: per-user system accounts as root, else the current user. */
export function labAccountsForThisProcess(): LabAccounts {
  if (process.getuid?.() !== 0) return new CurrentUserAccounts();
  const problem = SystemAccounts.supported();
  if (problem) throw new Error(problem);
  return new SystemAccounts();
}
