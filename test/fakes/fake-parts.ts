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

export class FakeHomes implements Homes {
  readonly ensured: string[] = [];
  async ensure(user: string): Promise<string> {
    this.ensured.push(user);
    return `/homes/${user}`;
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

export class MemoryDirectory implements Directory {
  readonly users = new Map<string, User>();
  async get(name: string): Promise<User | undefined> {
    return this.users.get(name);
  }
  async list(): Promise<User[]> {
    return [...this.users.values()];
  }
  async upsert(user: NewUser): Promise<User> {
    const previous = this.users.get(user.name);
    const next: User = {
      name: user.name,
      email: user.email ?? previous?.email,
      groups: user.groups ?? previous?.groups ?? [],
      admin: user.admin ?? previous?.admin ?? false,
      disabled: previous?.disabled ?? false,
      createdAt: previous?.createdAt ?? new Date().toISOString(),
    };
    this.users.set(user.name, next);
    // Like Cognito's: a new user is invited by e-mail, or gets a password shown once.
    if (previous) return next;
    return { ...next, signIn: user.email ? { invited: true } : { initialPassword: 'Initial-Password-1' } };
  }
  async disable(name: string): Promise<void> {
    const user = this.users.get(name);
    if (!user) throw new NotFoundError(`No user named ${name}.`);
    user.disabled = true;
  }
}
