/**
 * The hubless command line (local mode):
 *   hubless start
 *   hubless users add NAME [--admin] [--email E] [--groups a,b] [--password-stdin]
 *   hubless users list | disable NAME | enable NAME | passwd NAME [--password-stdin]
 *   hubless tokens create NAME --scopes a,b [--user U] [--culls] | list | revoke ID-OR-NAME
 * User commands work on the data dir directly, whether or not local mode is running.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalDirectory } from '../adapters/local/local-directory.ts';
import { LocalMachineClients } from '../adapters/local/machine-clients.ts';
import { FileServiceTokenStore } from '../adapters/local/service-tokens.ts';
import { createServiceToken, revokeServiceToken } from '../core/api/service-tokens.ts';
import { parseSettings } from '../core/config.ts';
import { HublessError } from '../core/errors.ts';
import { startLocalRuntime } from './runtime.ts';

const USAGE = `Usage:
  hubless start                                   run local mode (settings: HUBLESS_* variables, see README)
  hubless users add NAME [--admin] [--email E] [--groups a,b] [--password-stdin]
  hubless users list
  hubless users disable NAME
  hubless users enable NAME
  hubless users passwd NAME [--password-stdin]
  hubless clients add NAME --scopes users:read,servers:write,…   (an LMS client; prints its secret once)
  hubless clients list
  hubless clients remove NAME
  hubless tokens create NAME --scopes list:users,read:servers,…  [--user U] [--culls]
                                                  (a JupyterHub service token for /hub/api; prints it once)
  hubless tokens list
  hubless tokens revoke ID-OR-NAME`;

class UsageError extends Error {}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new UsageError(
      '--password-stdin reads the password from standard input; pipe it in, e.g. `echo "$PASSWORD" | hubless users add alice --password-stdin`.',
    );
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function passwordFrom(stdin: boolean | undefined): Promise<{ password: string; generated: boolean }> {
  if (stdin) return { password: await readStdin(), generated: false };
  return { password: randomBytes(12).toString('base64url'), generated: true };
}

async function users(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      admin: { type: 'boolean' },
      email: { type: 'string' },
      groups: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
  });
  const [action, name] = positionals;
  const settings = parseSettings(process.env);
  const directory = new LocalDirectory({ dataDir: resolve(settings.local.dataDir) });
  const needName = () => {
    if (!name) throw new UsageError(`hubless users ${action} needs a NAME.`);
    return name;
  };
  switch (action) {
    case 'add': {
      const { password, generated } = await passwordFrom(values['password-stdin']);
      const user = await directory.upsert({
        name: needName(),
        admin: values.admin ?? false,
        email: values.email,
        groups: values.groups
          ? values.groups
              .split(',')
              .map((g) => g.trim())
              .filter(Boolean)
          : undefined,
        password,
      });
      console.log(`Added ${user.name}${user.admin ? ' (admin)' : ''}.`);
      if (generated) console.log(`Password (shown once): ${password}`);
      return;
    }
    case 'list': {
      const all = await directory.list();
      if (all.length === 0) console.log('No users yet. Add one with: hubless users add NAME');
      for (const user of all) {
        const flags = [user.admin ? 'admin' : '', user.disabled ? 'disabled' : ''].filter(Boolean).join(', ');
        console.log(
          `${user.name}${flags ? ` (${flags})` : ''}${user.groups.length ? ` groups: ${user.groups.join(',')}` : ''}`,
        );
      }
      return;
    }
    case 'disable':
      await directory.disable(needName());
      console.log(`Disabled ${name}. Their files are kept; \`hubless users enable ${name}\` undoes this.`);
      return;
    case 'enable':
      await directory.enable(needName());
      console.log(`Enabled ${name}.`);
      return;
    case 'passwd': {
      const target = needName();
      const { password, generated } = await passwordFrom(values['password-stdin']);
      await directory.setPassword(target, password);
      console.log(`Changed the password of ${target}.`);
      if (generated) console.log(`New password (shown once): ${password}`);
      return;
    }
    default:
      throw new UsageError(action ? `Unknown users command "${action}".` : 'hubless users needs a command.');
  }
}

async function clients(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { scopes: { type: 'string' } },
  });
  const [action, name] = positionals;
  const settings = parseSettings(process.env);
  const store = new LocalMachineClients({ dataDir: resolve(settings.local.dataDir) });
  switch (action) {
    case 'add': {
      if (!name) throw new UsageError('hubless clients add needs a NAME.');
      const scopes = (values.scopes ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const client = await store.add(name, scopes);
      console.log(
        `Client id: ${client.clientId}\nClient secret (shown once): ${client.clientSecret}\nScopes: ${client.scopes.join(' ')}`,
      );
      console.log('Restart local mode so its OpenID provider knows the new client.');
      return;
    }
    case 'list':
      for (const client of await store.list())
        console.log(`${client.clientId}  scopes: ${client.scopes.join(' ')}`);
      return;
    case 'remove':
      if (!name) throw new UsageError('hubless clients remove needs a NAME.');
      await store.remove(name);
      console.log(`Removed ${name}. Restart local mode to revoke it.`);
      return;
    default:
      throw new UsageError(
        action ? `Unknown clients command "${action}".` : 'hubless clients needs a command.',
      );
  }
}

/**
 * Service tokens for JupyterHub services (/hub/api), e.g. jupyterhub-idle-culler:
 *   hubless tokens create idle-culler --culls \
 *     --scopes list:users,read:users:activity,read:servers,delete:servers
 * They never expire; revoking one takes effect on the next request, no restart needed.
 */
async function tokens(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { scopes: { type: 'string' }, user: { type: 'string' }, culls: { type: 'boolean' } },
  });
  const [action, name] = positionals;
  const settings = parseSettings(process.env);
  const store = new FileServiceTokenStore({ dataDir: resolve(settings.local.dataDir) });
  switch (action) {
    case 'create': {
      if (!name) throw new UsageError('hubless tokens create needs a NAME, e.g. idle-culler.');
      const scopes = (values.scopes ?? '')
        .split(/[,\s]+/)
        .map((s) => s.trim())
        .filter(Boolean);
      const { token, record } = await createServiceToken(
        store,
        { name, scopes, user: values.user, culls: values.culls, createdBy: 'cli' },
        new Date(),
      );
      console.log(`Token id: ${record.id}\nToken (shown once): ${token}\nScopes: ${record.scopes.join(' ')}`);
      if (record.user) console.log(`Acts as the user ${record.user}.`);
      if (record.culls) console.log('Its stops are recorded as idle culls.');
      console.log(
        'Send it as "Authorization: token <token>" to /hub/api. It does not expire: revoke it with `hubless tokens revoke`.',
      );
      return;
    }
    case 'list': {
      const all = await store.list();
      if (all.length === 0)
        console.log('No service tokens. Make one with: hubless tokens create NAME --scopes …');
      for (const t of all)
        console.log(
          `${t.id}  ${t.name}${t.user ? ` (as ${t.user})` : ''}${t.culls ? ' (culls)' : ''}  scopes: ${t.scopes.join(' ')}  created ${t.createdAt}`,
        );
      return;
    }
    case 'revoke': {
      if (!name)
        throw new UsageError('hubless tokens revoke needs the token id or name (see hubless tokens list).');
      const revoked = await revokeServiceToken(store, name);
      console.log(
        `Revoked ${revoked.map((t) => `${t.name} (${t.id})`).join(', ')}. It stops working on its next request.`,
      );
      return;
    }
    default:
      throw new UsageError(
        action ? `Unknown tokens command "${action}".` : 'hubless tokens needs a command.',
      );
  }
}

async function start(): Promise<void> {
  const settings = parseSettings(process.env);
  const runtime = await startLocalRuntime(settings);
  console.log(`\nhubless is running at ${runtime.url}`);
  if (runtime.firstAdmin) {
    console.log(
      `First start: created the admin user "${runtime.firstAdmin.name}" with the password ${runtime.firstAdmin.password}`,
    );
    console.log('It is shown only this once. Add more users with: npx hubless users add NAME');
  }
  console.log('Press Ctrl+C to stop.\n');
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping servers and local services…`);
    await runtime.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'start') return start();
  if (command === 'users') return users(rest);
  if (command === 'clients') return clients(rest);
  if (command === 'tokens') return tokens(rest);
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return;
  }
  throw new UsageError(`Unknown command "${command}".`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (
    error instanceof UsageError ||
    (error instanceof Error &&
      error.name === 'TypeError' &&
      'code' in error &&
      String(error.code).startsWith('ERR_PARSE_ARGS'))
  ) {
    console.error(`hubless: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof HublessError) {
    console.error(`hubless: ${error.message}`);
    process.exit(1);
  }
  console.error(`hubless: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
