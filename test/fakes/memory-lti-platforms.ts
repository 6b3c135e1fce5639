import type { LtiPlatform, LtiPlatforms } from '../../functions/core/lti/ports.ts';

/** LtiPlatforms in memory; held to the same contract as the file and DynamoDB stores. */
export class MemoryLtiPlatforms implements LtiPlatforms {
  readonly #platforms = new Map<string, LtiPlatform>();

  async list(): Promise<LtiPlatform[]> {
    return [...this.#platforms.values()].map((p) => structuredClone(p));
  }

  async get(issuer: string, clientId: string): Promise<LtiPlatform | undefined> {
    const platform = this.#platforms.get(JSON.stringify([issuer, clientId]));
    return platform ? structuredClone(platform) : undefined;
  }

  async put(platform: LtiPlatform): Promise<void> {
    this.#platforms.set(JSON.stringify([platform.issuer, platform.clientId]), structuredClone(platform));
  }

  async remove(issuer: string, clientId: string): Promise<boolean> {
    return this.#platforms.delete(JSON.stringify([issuer, clientId]));
  }
}
