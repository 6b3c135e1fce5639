import { chmod, chown, cp, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * The data dir holds what a lab must never read: the gateway's signing key (forging an
 * identity header for any user), password hashes, LMS client secrets, service tokens,
 * the DynamoDB Local files with every session, and the logs. At every start it is made
 * the service account's alone, whatever modes it had before (an older hubless, a
 * restored backup, a `cp -r`): directories 0700, files 0600, owned by the user hubless
 * runs as. New files are written 0600 by the code that writes them.
 */
export async function secureDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  const fix = async (file: string, mode: number): Promise<void> => {
    try {
      if (uid !== undefined && gid !== undefined) {
        const now = await lstat(file);
        if (now.uid !== uid || now.gid !== gid) await chown(file, uid, gid);
      }
      await chmod(file, mode);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // removed meanwhile (a stale run record)
      throw new Error(
        `Could not make ${file} private to the user hubless runs as (${code ?? String(error)}). ` +
          'Run hubless as the owner of its data dir (or as root), or fix the owner with chown.',
        { cause: error },
      );
    }
  };
  const walk = async (dir: string): Promise<void> => {
    await fix(dir, 0o700);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(file);
      // Symbolic links are left alone: following one could chmod a file outside the data dir.
      else if (entry.isFile()) await fix(file, 0o600);
    }
  };
  await walk(dataDir);
}

/**
 * Homes used to live in `<dataDir>/homes`; labs running as their own accounts cannot
 * enter the data dir, so they now live beside it. Moves the old ones once.
 */
export async function moveLegacyHomes(dataDir: string, homesDir: string): Promise<void> {
  const legacy = path.join(dataDir, 'homes');
  if (path.resolve(legacy) === path.resolve(homesDir)) return;
  const exists = (file: string) =>
    stat(file).then(
      () => true,
      () => false,
    );
  if (!(await exists(legacy)) || (await exists(homesDir))) return;
  await mkdir(path.dirname(homesDir), { recursive: true });
  try {
    await rename(legacy, homesDir);
  } catch (error) {
    throw new Error(
      `The users' homes moved out of the data dir: could not move ${legacy} to ${homesDir} ` +
        `(${(error as NodeJS.ErrnoException).code ?? String(error)}). Move it yourself (mv), ` +
        'or set HUBLESS_HOMES_DIR to where the homes should live.',
      { cause: error },
    );
  }
}

/**
 * A copy of the lab's Python package (the owner check and jupyter_server_config.py)
 * that every lab account can read but none can change: root's checkout may sit in a
 * directory other users cannot enter (/root), and a lab that could edit its own owner
 * check would have none.
 */
export async function publishLabPackage(from: string, to: string): Promise<string> {
  await rm(to, { recursive: true, force: true });
  await mkdir(to, { recursive: true, mode: 0o755 });
  await cp(path.join(from, 'hubless_lab'), path.join(to, 'hubless_lab'), {
    recursive: true,
    filter: (source) => !source.includes('__pycache__'),
  });
  await cp(path.join(from, 'jupyter_server_config.py'), path.join(to, 'jupyter_server_config.py'));
  const open = async (dir: string): Promise<void> => {
    await chmod(dir, 0o755);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await open(file);
      else await chmod(file, 0o644);
    }
  };
  await open(to);
  return to;
}
