/**
 * oidc-provider's storage adapter, in memory (see provider.ts for why memory is enough
 * here). oidc-provider ships a similar one for quick starts and warns on every start
 * that it is development-only; this one is ours, documented, and drops expired entries.
 *
 * oidc-provider creates one adapter per model name (Session, Grant, AuthorizationCode,
 * Interaction, ...) and calls the methods below; payloads are plain JSON objects.
 */
interface Entry {
  payload: Payload;
  expiresAt: number;
}

type Payload = Record<string, unknown> & {
  uid?: string;
  userCode?: string;
  grantId?: string;
  consumed?: number;
};

const stores = new WeakMap<object, Map<string, Entry>>();

export function memoryAdapterFactory(): new (name: string) => MemoryAdapter {
  // One namespace per provider: two gateways in one process (tests) must not share grants.
  const namespace = {};
  stores.set(namespace, new Map());
  return class extends MemoryAdapter {
    constructor(name: string) {
      super(name, stores.get(namespace) as Map<string, Entry>);
    }
  };
}

export class MemoryAdapter {
  readonly #name: string;
  readonly #store: Map<string, Entry>;
  #writes = 0;

  constructor(name: string, store: Map<string, Entry>) {
    this.#name = name;
    this.#store = store;
  }

  #key(id: string): string {
    return `${this.#name}:${id}`;
  }

  #live(key: string): Payload | undefined {
    const entry = this.#store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async upsert(id: string, payload: Payload, expiresIn: number): Promise<void> {
    const expiresAt = Date.now() + (expiresIn > 0 ? expiresIn * 1000 : 365 * 24 * 3600 * 1000);
    this.#store.set(this.#key(id), { payload, expiresAt });
    if (payload.grantId) this.#index(`grant:${payload.grantId}`, this.#key(id), expiresAt);
    if (payload.userCode)
      this.#store.set(`${this.#name}:userCode:${payload.userCode}`, { payload: { id }, expiresAt });
    if (payload.uid) this.#store.set(`${this.#name}:uid:${payload.uid}`, { payload: { id }, expiresAt });
    if (++this.#writes % 500 === 0) this.#sweep();
  }

  async find(id: string): Promise<Payload | undefined> {
    return this.#live(this.#key(id));
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    const ref = this.#live(`${this.#name}:userCode:${userCode}`);
    return typeof ref?.id === 'string' ? this.find(ref.id) : undefined;
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const ref = this.#live(`${this.#name}:uid:${uid}`);
    return typeof ref?.id === 'string' ? this.find(ref.id) : undefined;
  }

  async consume(id: string): Promise<void> {
    const payload = this.#live(this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const index = this.#store.get(`grant:${grantId}`);
    for (const key of (index?.payload.keys as string[] | undefined) ?? []) this.#store.delete(key);
    this.#store.delete(`grant:${grantId}`);
  }

  #index(indexKey: string, key: string, expiresAt: number): void {
    const entry = this.#store.get(indexKey);
    const keys = new Set((entry?.payload.keys as string[] | undefined) ?? []);
    keys.add(key);
    this.#store.set(indexKey, {
      payload: { keys: [...keys] },
      expiresAt: Math.max(expiresAt, entry?.expiresAt ?? 0),
    });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#store) if (entry.expiresAt <= now) this.#store.delete(key);
  }
}
