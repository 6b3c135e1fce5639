import type { ServiceToken, ServiceTokenStore } from '../../functions/core/api/service-tokens.ts';
import { SessionConflictError } from '../../functions/core/errors.ts';

/** ServiceTokenStore in memory; held to the same contract as the file and DynamoDB stores. */
export class MemoryServiceTokenStore implements ServiceTokenStore {
  readonly #tokens = new Map<string, ServiceToken>();

  async put(token: ServiceToken): Promise<void> {
    if (this.#tokens.has(token.id))
      throw new SessionConflictError(`A service token with the id ${token.id} already exists.`, undefined);
    this.#tokens.set(token.id, structuredClone(token));
  }

  async get(id: string): Promise<ServiceToken | undefined> {
    const token = this.#tokens.get(id);
    return token ? structuredClone(token) : undefined;
  }

  async list(): Promise<ServiceToken[]> {
    return [...this.#tokens.values()]
      .map((t) => structuredClone(t))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async delete(id: string): Promise<boolean> {
    return this.#tokens.delete(id);
  }
}
