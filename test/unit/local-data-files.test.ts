import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectory } from '../../functions/adapters/local/local-directory.ts';
import { LocalMachineClients } from '../../functions/adapters/local/machine-clients.ts';
import { FileServiceTokenStore } from '../../functions/adapters/local/service-tokens.ts';
import { loadOrCreateIdentitySigner } from '../../functions/local/identity-signer.ts';

/**
 * A data file cut short (a full disk, a crash mid-write, a careless edit) must name
 * itself and say how to recover, not surface as a bare "Unexpected end of JSON input".
 */
let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hubless-datafiles-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function truncated(relative: string, text: string): Promise<string> {
  const file = join(dataDir, relative);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, text);
  return file;
}

describe('a truncated data file', () => {
  it('users.json: names the file and how to recover', async () => {
    const file = await truncated('users.json', '{"version":1,"users":{"alice":{"na');
    const error = await new LocalDirectory({ dataDir }).list().catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain('cut short');
    expect((error as Error).message).toMatch(/Restore it from a backup/);
  });

  it('clients.json: names the file and how to recover', async () => {
    const file = await truncated('clients.json', '[{"clientId":"lms"');
    const error = await new LocalMachineClients({ dataDir }).list().catch((e: Error) => e);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain('hubless clients add');
  });

  it('the service tokens file: names the file and how to recover', async () => {
    const store = new FileServiceTokenStore({ dataDir });
    await store.put({
      id: 't1',
      name: 'culler',
      hash: 'x',
      scopes: [],
      createdAt: new Date().toISOString(),
      createdBy: 'cli',
    } as never);
    const { readdir } = await import('node:fs/promises');
    const [name] = (await readdir(dataDir)).filter((f) => f.endsWith('.json'));
    const file = await truncated(name!, '[{"id":');
    const error = await store.list().catch((e: Error) => e);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain('hubless tokens create');
  });

  it('the identity key: names the file and how to recover', async () => {
    await loadOrCreateIdentitySigner(dataDir, { issuer: 'http://x/oidc', clientId: 'c' });
    const { readdir } = await import('node:fs/promises');
    const keyDir = (await readdir(dataDir, { recursive: true })).find((f) => f.endsWith('.json'));
    const file = await truncated(keyDir!, '{"kid":"abc","privateJwk":{');
    const error = await loadOrCreateIdentitySigner(dataDir, { issuer: 'http://x/oidc', clientId: 'c' }).catch(
      (e: Error) => e,
    );
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain('start hubless again');
  });

  it('the CLI prints the file and the fix, and exits 1', async () => {
    const file = await truncated('users.json', '{"version":1,"us');
    const cli = fileURLToPath(new URL('../../functions/local/cli.ts', import.meta.url));
    const run = await promisify(execFile)(process.execPath, [cli, 'users', 'list'], {
      env: { ...process.env, HUBLESS_DATA_DIR: dataDir },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(run).toMatchObject({ code: 1 });
    expect((run as { stderr: string }).stderr).toContain(`hubless: ${file} is not valid JSON`);
  });
});
