import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LtiPlatform, LtiPlatforms } from '../../core/lti/ports.ts';

/**
 * LMS registrations of local mode, in <dataDir>/lti-platforms.json (mode 0600). Read on
 * every launch, so `hubless lti add` takes effect without a restart. Checking is the use
 * case's (core/lti/registration.ts).
 */
export class LocalLtiPlatforms implements LtiPlatforms {
  readonly #file: string;
  readonly #dir: string;

  constructor(options: { dataDir: string }) {
    this.#dir = options.dataDir;
    this.#file = join(options.dataDir, 'lti-platforms.json');
  }

  async list(): Promise<LtiPlatform[]> {
    try {
      return JSON.parse(await readFile(this.#file, 'utf8')) as LtiPlatform[];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async get(issuer: string, clientId: string): Promise<LtiPlatform | undefined> {
    return (await this.list()).find((p) => p.issuer === issuer && p.clientId === clientId);
  }

  async put(platform: LtiPlatform): Promise<void> {
    const others = (await this.list()).filter(
      (p) => !(p.issuer === platform.issuer && p.clientId === platform.clientId),
    );
    await this.#write([...others, platform]);
  }

  async remove(issuer: string, clientId: string): Promise<boolean> {
    const all = await this.list();
    const kept = all.filter((p) => !(p.issuer === issuer && p.clientId === clientId));
    if (kept.length === all.length) return false;
    await this.#write(kept);
    return true;
  }

  async #write(platforms: LtiPlatform[]): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(platforms, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, this.#file);
  }
}
