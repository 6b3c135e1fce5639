import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { API_SCOPES } from '../../core/api/scopes.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { normaliseUsername } from '../../core/username.ts';
import { readDataList } from './data-file.ts';

/**
 * Course-platform (LMS) clients of local mode: OAuth client-credentials clients of the
 * embedded provider, kept in <dataDir>/clients.json (mode 0600). The provider needs the
 * secret itself to check client_secret_basic, so it is stored, like Cognito stores an
 * app client's secret; the file is readable only by the user running hubless.
 * The provider reads clients at start-up: restart local mode after adding one.
 */
export interface MachineClient {
  clientId: string;
  clientSecret: string;
  scopes: string[];
  createdAt: string;
}

export class LocalMachineClients {
  readonly #file: string;
  readonly #dir: string;

  constructor(options: { dataDir: string }) {
    this.#dir = options.dataDir;
    this.#file = join(options.dataDir, 'clients.json');
  }

  async list(): Promise<MachineClient[]> {
    const fix =
      'Restore it from a backup, or fix it by hand (expected a JSON list of clients); removing it ' +
      'revokes every LMS client: add them again with `hubless clients add NAME --scopes …`.';
    return readDataList<MachineClient>(this.#file, 'clients', fix);
  }

  /** Creates a client (or replaces its secret and scopes) and returns it with its secret. */
  async add(name: string, scopes: string[]): Promise<MachineClient> {
    const clientId = normaliseUsername(name);
    const unknown = scopes.filter((scope) => !(API_SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0 || scopes.length === 0) {
      throw new ValidationError(
        `Scopes must be one or more of ${API_SCOPES.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}.`,
      );
    }
    const client: MachineClient = {
      clientId,
      clientSecret: randomBytes(24).toString('base64url'),
      scopes,
      createdAt: new Date().toISOString(),
    };
    await this.#write([...(await this.list()).filter((c) => c.clientId !== clientId), client]);
    return client;
  }

  async remove(name: string): Promise<void> {
    const all = await this.list();
    const kept = all.filter((c) => c.clientId !== name);
    if (kept.length === all.length) throw new NotFoundError(`There is no client named ${name}.`);
    await this.#write(kept);
  }

  async #write(clients: MachineClient[]): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(clients, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, this.#file);
  }
}
