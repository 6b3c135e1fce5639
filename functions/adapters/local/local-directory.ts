import { randomBytes, type ScryptOptions, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import {
  collisionMessage,
  type FederatedAccounts,
  IdentityCollisionError,
  type MappedUser,
} from '../../core/federation.ts';
import { initialPassword } from '../../core/ids.ts';
import type { Directory, NewUser, User } from '../../core/ports.ts';
import { normaliseUsername } from '../../core/username.ts';
import { DataFileError, parseDataFile } from './data-file.ts';

/**
 * The local mode's user directory (Cognito's stand-in): `<dataDir>/users.json`.
 *
 * - Every call re-reads the file, so the CLI (`hubless user add`) and the running server
 *   see each other's changes without a restart or a cache to invalidate.
 * - Writes go to a temporary file that is renamed over the old one, so a reader never
 *   sees half a file. Two processes writing at the same moment can still lose one
 *   update (last rename wins); writes in one process are serialised. That is enough
 *   for a directory edited by hand a few times a day.
 * - The file holds password hashes, so it is created with mode 0600.
 * - Passwords are hashed with scrypt (random salt per password) and compared in
 *   constant time; an unknown user costs the same scrypt as a known one, so timing does
 *   not tell who has an account. Disabled users never verify.
 */
export const MIN_PASSWORD_LENGTH = 8;

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

interface StoredUser extends User {
  /** `scrypt$N$r$p$<salt b64url>$<hash b64url>` */
  passwordHash?: string;
  /**
   * Sign-in refused until then (ISO time), after too many wrong passwords
   * (core/sign-in-throttle.ts). Kept here, not in memory, so a restart does not lift it
   * and `hubless users unlock` (another process) can.
   */
  lockedUntil?: string;
  /** The identity that owns this name: a user who signs in through the upstream provider (core/federation.ts). */
  federated?: { issuer: string; subject: string };
}

interface UsersFile {
  version: 1;
  users: Record<string, StoredUser>;
}

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keylen, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  );
}

async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || salt === undefined || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new ValidationError(
      `A password must be at least ${MIN_PASSWORD_LENGTH} characters long.`,
      'weak_password',
    );
  }
  return password;
}

function publicUser(stored: StoredUser): User {
  const { passwordHash: _hidden, lockedUntil: _lock, federated: owner, ...user } = stored;
  return { ...user, groups: [...user.groups], ...(owner ? { viaIdentityProvider: true as const } : {}) };
}

export class LocalDirectory implements Directory, FederatedAccounts {
  readonly file: string;
  #writes: Promise<unknown> = Promise.resolve();
  /** A hash to burn time on for unknown users (see the class comment). */
  #decoy: Promise<string> | undefined;
  readonly #now: () => Date;

  constructor(options: { dataDir: string; now?: () => Date }) {
    this.file = join(options.dataDir, 'users.json');
    this.#now = options.now ?? (() => new Date());
  }

  async get(name: string): Promise<User | undefined> {
    const stored = (await this.#read()).users[normaliseUsername(name)];
    return stored ? publicUser(stored) : undefined;
  }

  async list(): Promise<User[]> {
    const { users } = await this.#read();
    return Object.values(users)
      .map(publicUser)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Creates the user or updates the fields given (email, groups, admin, profile; a password when
   * given). Fields left out keep their stored value. Does not re-enable a disabled user:
   * that is `enable`.
   */
  async upsert(input: NewUser): Promise<User> {
    const name = normaliseUsername(input.name);
    // A new user without a password gets one, returned this once, so they can sign in.
    const generated = input.password === undefined && !(await this.get(name)) ? initialPassword() : undefined;
    const password = input.password ?? generated;
    const passwordHash = password === undefined ? undefined : await hashPassword(checkPassword(password));
    return this.#update((file) => {
      const existing = file.users[name];
      const next: StoredUser = existing
        ? { ...existing }
        : { name, groups: [], admin: false, disabled: false, createdAt: this.#now().toISOString() };
      if (input.email !== undefined) next.email = input.email;
      if (input.groups !== undefined) next.groups = [...new Set(input.groups)];
      if (input.admin !== undefined) next.admin = input.admin;
      if (input.profile !== undefined) next.profile = input.profile;
      if (passwordHash) next.passwordHash = passwordHash;
      file.users[name] = next;
      const user = publicUser(next);
      return !existing && generated ? { ...user, signIn: { initialPassword: generated } } : user;
    });
  }

  async disable(name: string): Promise<void> {
    await this.#setDisabled(name, true);
  }

  /**
   * A sign-in through the upstream provider (FederatedAccounts' contract): the name and its
   * owner are checked and written in one read-modify-write, so two identities racing for
   * one name cannot both win. Federated users get no password.
   */
  async signIn(mapped: MappedUser): Promise<User> {
    const name = normaliseUsername(mapped.username);
    const { issuer, subject } = mapped.owner;
    return this.#update((file) => {
      const existing = file.users[name];
      if (existing && (existing.federated?.issuer !== issuer || existing.federated?.subject !== subject)) {
        throw new IdentityCollisionError(name, collisionMessage(name, Boolean(existing.federated)));
      }
      const next: StoredUser = existing
        ? { ...existing }
        : {
            name,
            groups: [],
            admin: false,
            disabled: false,
            createdAt: this.#now().toISOString(),
            federated: { issuer, subject },
          };
      if (mapped.email !== undefined) next.email = mapped.email;
      if (mapped.groups !== undefined) next.groups = [...mapped.groups];
      if (mapped.admin !== undefined) next.admin = mapped.admin;
      file.users[name] = next;
      return publicUser(next);
    });
  }

  /** Lets a disabled user sign in again. Throws NotFoundError for an unknown user. */
  async enable(name: string): Promise<void> {
    await this.#setDisabled(name, false);
  }

  /** Sets (or replaces) the password. Throws ValidationError for a short one, NotFoundError for an unknown user. */
  async setPassword(name: string, password: string): Promise<void> {
    const key = normaliseUsername(name);
    const passwordHash = await hashPassword(checkPassword(password));
    await this.#update((file) => {
      const user = file.users[key];
      if (!user) throw new NotFoundError(`There is no user "${key}".`, 'user_not_found');
      user.passwordHash = passwordHash;
    });
  }

  /** A generated password replaces the user's; returned this once (see Directory.resetPassword). */
  async resetPassword(name: string): Promise<string> {
    const password = initialPassword();
    await this.setPassword(name, password);
    return password;
  }

  /**
   * The user when `password` is theirs and they may sign in; otherwise undefined,
   * whatever the cause (unknown, disabled, no password, wrong password, a name that is
   * not a valid username), so callers cannot tell users apart.
   */
  async verifyPassword(name: string, password: string): Promise<User | undefined> {
    let key: string | undefined;
    try {
      key = normaliseUsername(name);
    } catch {
      key = undefined;
    }
    const stored = key === undefined ? undefined : (await this.#read()).users[key];
    if (!stored?.passwordHash || typeof password !== 'string') {
      this.#decoy ??= hashPassword('decoy-password');
      await passwordMatches(String(password), await this.#decoy);
      return undefined;
    }
    const matches = await passwordMatches(password, stored.passwordHash);
    return matches && !stored.disabled ? publicUser(stored) : undefined;
  }

  /**
   * Locks sign-in for NAME until `until` (see StoredUser.lockedUntil). A name without an
   * account is left alone: the sign-in throttle keeps those in memory.
   */
  async lock(name: string, until: Date): Promise<void> {
    const key = normaliseUsername(name);
    await this.#update((file) => {
      const user = file.users[key];
      if (user) user.lockedUntil = until.toISOString();
    });
  }

  /** Lifts a sign-in lock. Returns when it would have ended (undefined: it was not locked). Throws NotFoundError for an unknown user. */
  async unlock(name: string): Promise<Date | undefined> {
    const key = normaliseUsername(name);
    return this.#update((file) => {
      const user = file.users[key];
      if (!user) throw new NotFoundError(`There is no user "${key}".`, 'user_not_found');
      const until = this.#activeLock(user);
      delete user.lockedUntil;
      return until;
    });
  }

  /** Until when NAME's sign-in is locked: undefined when it is not, null when there is no such user. */
  async lockedUntil(name: string): Promise<Date | undefined | null> {
    let key: string;
    try {
      key = normaliseUsername(name);
    } catch {
      return null;
    }
    const user = (await this.#read()).users[key];
    return user ? this.#activeLock(user) : null;
  }

  /** Every user whose sign-in is locked now, with until when. */
  async locks(): Promise<Map<string, Date>> {
    const locks = new Map<string, Date>();
    for (const user of Object.values((await this.#read()).users)) {
      const until = this.#activeLock(user);
      if (until) locks.set(user.name, until);
    }
    return locks;
  }

  #activeLock(user: StoredUser): Date | undefined {
    if (!user.lockedUntil) return undefined;
    const until = new Date(user.lockedUntil);
    return until.getTime() > this.#now().getTime() ? until : undefined;
  }

  async #setDisabled(name: string, disabled: boolean): Promise<void> {
    const key = normaliseUsername(name);
    await this.#update((file) => {
      const user = file.users[key];
      if (!user) throw new NotFoundError(`There is no user "${key}".`, 'user_not_found');
      user.disabled = disabled;
    });
  }

  async #read(): Promise<UsersFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, users: {} };
      throw error;
    }
    const fix =
      'Restore it from a backup, or fix it by hand (expected {"version":1,"users":{...}}); ' +
      'removing it removes every user, and the next `hubless start` creates a new first admin.';
    const parsed = parseDataFile(this.file, text, fix) as Partial<UsersFile> | null;
    if (!parsed || typeof parsed.users !== 'object' || parsed.users === null) {
      throw new DataFileError(this.file, 'is not a hubless users file', fix);
    }
    return { version: 1, users: parsed.users };
  }

  /** Read-modify-write, serialised within this process, written atomically. */
  #update<T>(change: (file: UsersFile) => T): Promise<T> {
    const run = this.#writes.then(async () => {
      const file = await this.#read();
      const result = change(file);
      await this.#write(file);
      return result;
    });
    this.#writes = run.catch(() => undefined);
    return run;
  }

  async #write(file: UsersFile): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    await chmod(temp, 0o600);
    await rename(temp, this.file);
  }
}
