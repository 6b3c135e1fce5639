import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readSync } from 'node:fs';
import path from 'node:path';

/**
 * Finds the Jupyter server local mode runs for each user: JupyterLab where it is installed,
 * else jupyter-server with nbclassic (Debian packages it; the lab UI is then the classic
 * /tree). The owner check (containers/lab/hubless_lab) runs inside that server's Python,
 * so `python` is the interpreter of the command found, not whatever python3 is on PATH.
 */
export interface JupyterCommand {
  command: string;
  /** Arguments that go before hubless's own flags. */
  args: string[];
  /** Where the user lands: /lab for JupyterLab, /tree for the classic UI. */
  ui: 'lab' | 'tree';
  /** The jupyter-server version, e.g. "1.23.3". */
  version: string;
  /** The Python that runs the server (and so must import the owner check's dependencies). */
  python: string;
}

export const INSTALL_HINT =
  'Install Jupyter for local mode. Debian/Ubuntu: ' +
  '`sudo apt-get install jupyter-server python3-nbclassic python3-ipykernel python3-jwt python3-cryptography`; ' +
  'elsewhere: `pip install jupyterlab pyjwt cryptography`.';

const DEBIAN_JUPYTER_SERVER = '/usr/bin/jupyter-server';

/** Throws an Error that says what to install when no usable Jupyter is found. */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): JupyterCommand {
  const lab = onPath('jupyter-lab', env);
  if (lab) {
    const python = interpreterOf(lab);
    return { command: lab, args: [], ui: 'lab', version: serverVersion(python, lab), python };
  }
  for (const server of [DEBIAN_JUPYTER_SERVER, onPath('jupyter-server', env)]) {
    if (!server || !isExecutable(server)) continue;
    const python = interpreterOf(server);
    if (!canImport(python, 'nbclassic')) continue;
    return {
      command: server,
      // Debian enables nbclassic in /etc/jupyter; a pip install may not, and without it /tree is a 404.
      args: ["--ServerApp.jpserver_extensions={'nbclassic':True}"],
      ui: 'tree',
      version: serverVersion(python, server),
      python,
    };
  }
  throw new Error(
    `No Jupyter server found (looked for jupyter-lab on PATH, ${DEBIAN_JUPYTER_SERVER}, jupyter-server with nbclassic). ${INSTALL_HINT}`,
  );
}

/** Throws when the server's Python cannot import what the owner check needs (PyJWT, cryptography). */
export function checkOwnerCheckDependencies(jupyter: Pick<JupyterCommand, 'python'>): void {
  const result = spawnSync(
    jupyter.python,
    ['-c', 'import jwt, cryptography.hazmat.primitives.asymmetric.ec'],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  if (result.status !== 0) {
    const detail = (result.stderr || result.error?.message || '').trim().split('\n').at(-1) ?? '';
    throw new Error(
      `${jupyter.python} cannot import the lab owner check's dependencies (PyJWT, cryptography)${detail ? `: ${detail}` : ''}. ` +
        'Debian/Ubuntu: `sudo apt-get install python3-jwt python3-cryptography`; elsewhere: `pip install pyjwt cryptography` ' +
        'into the Python that runs Jupyter.',
    );
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The interpreter named by a script's #! line ("#!/usr/bin/python3", "#!/usr/bin/env python3"). */
function interpreterOf(script: string): string {
  const buffer = Buffer.alloc(256);
  const fd = openSync(script, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, 0);
  } finally {
    closeSync(fd);
  }
  const firstLine = buffer.toString('utf8').split('\n')[0] ?? '';
  if (!firstLine.startsWith('#!')) return 'python3';
  const parts = firstLine.slice(2).trim().split(/\s+/);
  if (parts[0]?.endsWith('/env'))
    return parts.find((part, index) => index > 0 && !part.startsWith('-')) ?? 'python3';
  return parts[0] || 'python3';
}

function canImport(python: string, module: string): boolean {
  return spawnSync(python, ['-c', `import ${module}`], { timeout: 30_000 }).status === 0;
}

function serverVersion(python: string, command: string): string {
  const result = spawnSync(python, ['-c', 'import jupyter_server; print(jupyter_server.__version__)'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} was found, but its Python (${python}) cannot import jupyter_server. ${INSTALL_HINT}`,
    );
  }
  return result.stdout.trim();
}
