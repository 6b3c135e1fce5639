import { NotFoundError } from '../../functions/core/errors.ts';
import type {
  Clock,
  Directory,
  EventSink,
  Homes,
  LifecycleEvent,
  NewUser,
  User,
} from '../../functions/core/ports.ts';
import { normaliseUsername } from '../../functions/core/username.ts';

/** Homes by name, held to the Homes contract (test/contract/homes-fake.test.ts). */
export class FakeHomes implements Homes {
  readonly ensured: string[] = [];
  async ensure(user: string): Promise<string> {
    // The adapters refuse a name outside the username rule: so does the fake.
    const key = normaliseUsername(user);
    this.ensured.push(user);
    return `/homes/${key}`;
  }
}

export class MemoryEventSink implements EventSink {
  readonly events: LifecycleEvent[] = [];
  async publish(event: LifecycleEvent): Promise<void> {
    this.events.push(event);
  }
}

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  private current: number;
  constructor(start = '2026-11-21T10:00:00.000Z') {
    this.current = Date.parse(start);
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}

/**
 * The directory in memory, held to the Directory contract (test/contract/directory-memory.test.ts):
 * logins are case-insensitive keys under the username rule, the profile is kept, lists are
 * sorted by name. `users` is the store itself, so a test can arrange a state directly.
 */
export class MemoryDirectory implements Directory {
  readonly users = new Map<string, User>();
  async get(name: string): Promise<User | undefined> {
    const key = keyOf(name);
    return key === undefined ? undefined : this.users.get(key);
  }
  async list(): Promise<User[]> {
    return [...this.users.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  async upsert(user: NewUser): Promise<User> {
    const name = normaliseUsername(user.name);
    const previous = this.users.get(name);
    const next: User = {
      name,
      email: user.email ?? previous?.email,
      groups: user.groups ? [...new Set(user.groups)] : (previous?.groups ?? []),
      admin: user.admin ?? previous?.admin ?? false,
      disabled: previous?.disabled ?? false,
      createdAt: previous?.createdAt ?? new Date().toISOString(),
    };
    const profile = user.profile ?? previous?.profile;
    if (profile !== undefined) next.profile = profile;
    if (next.email === undefined) delete next.email;
    this.users.set(name, next);
    // Like Cognito's: a new user is invited by e-mail, or gets a password shown once.
    if (previous) return next;
    return { ...next, signIn: user.email ? { invited: true } : { initialPassword: 'Initial-Password-1' } };
  }
  async disable(name: string): Promise<void> {
    const key = keyOf(name);
    const user = key === undefined ? undefined : this.users.get(key);
    if (!user) throw new NotFoundError(`No user named ${name}.`);
    user.disabled = true;
  }
  async enable(name: string): Promise<void> {
    const key = keyOf(name);
    const user = key === undefined ? undefined : this.users.get(key);
    if (!user) throw new NotFoundError(`No user named ${name}.`);
    user.disabled = false;
  }
  /** Passwords the fake handed out, by user, so tests can check a reset. */
  readonly passwords = new Map<string, string>();
  async resetPassword(name: string): Promise<string> {
    const key = keyOf(name);
    if (key === undefined || !this.users.has(key)) throw new NotFoundError(`No user named ${name}.`);
    const password = `Reset-Password-${this.passwords.size + 1}!`;
    this.passwords.set(key, password);
    return password;
  }
}

function keyOf(name: string): string | undefined {
  try {
    return normaliseUsername(name);
  } catch {
    return undefined;
  }
}
