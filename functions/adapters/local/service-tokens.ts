import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceToken, ServiceTokenStore } from '../../core/api/service-tokens.ts';
import { SessionConflictError } from '../../core/errors.ts';
import { readDataList } from './data-file.ts';

/**
 * Service tokens of local mode in <dataDir>/service-tokens.json (mode 0600), so
 * `hubless tokens create|list|revoke` work whether or not local mode runs. Every read
 * goes to the file: a token revoked from the command line stops working on the next
 * request, without a restart. The file holds hashes only.
 */
export class FileServiceTokenStore implements ServiceTokenStore {
  readonly #dir: string;
  readonly #file: string;
  /** Serialises this process's writes (read-modify-write of one file). */
  #writing: Promise<unknown> = Promise.resolve();

  constructor(options: { dataDir: string }) {
    this.#dir = options.dataDir;
    this.#file = join(options.dataDir, 'service-tokens.json');
  }

  async list(): Promise<ServiceToken[]> {
    const fix =
      'Restore it from a backup, or fix it by hand (expected a JSON list of tokens); removing it ' +
      'revokes every service token: make new ones with `hubless tokens create`.';
    const tokens = await readDataList<ServiceToken>(this.#file, 'service tokens', fix);
    return tokens.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async get(id: string): Promise<ServiceToken | undefined> {
    return (await this.list()).find((t) => t.id === id);
  }

  put(token: ServiceToken): Promise<void> {
    return this.#change((all) => {
      if (all.some((t) => t.id === token.id))
        throw new SessionConflictError(`A service token with the id ${token.id} already exists.`, undefined);
      return [...all, token];
    }).then(() => undefined);
  }

  async delete(id: string): Promise<boolean> {
    let found = false;
    await this.#change((all) => {
      found = all.some((t) => t.id === id);
      return all.filter((t) => t.id !== id);
    });
    return found;
  }

  #change(edit: (all: ServiceToken[]) => ServiceToken[]): Promise<void> {
    const run = this.#writing.then(async () => {
      const next = edit(await this.list());
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const temp = `${this.#file}.${process.pid}.tmp`;
      await writeFile(temp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, this.#file);
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }
}
