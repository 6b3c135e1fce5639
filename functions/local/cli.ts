/**
 * The hubless command line (local mode): `hubless --help` lists the commands, and every
 * command answers -h / --help with its own usage without touching the data dir or
 * starting anything. User, client and token commands work on the data dir directly,
 * whether or not local mode is running.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSettings } from '../core/config.ts';
import { HublessError } from '../core/errors.ts';

// Each command imports what it uses when it runs (the runtime pulls in the OpenID
// provider, DynamoDB Local and the SDK): --help and --version answer at once.

const USAGE = `Usage: hubless <command> [options]      (hubless <command> --help for one command)

  hubless start                                   run local mode (settings: HUBLESS_* variables, see README)
  hubless users add NAME [--admin] [--email E] [--groups a,b] [--password-stdin]
  hubless users list
  hubless users disable NAME
  hubless users enable NAME
  hubless users unlock NAME                       lift a lock after too many failed sign-ins
  hubless users passwd NAME [--password-stdin]
  hubless clients add NAME --scopes users:read,servers:write,…   (an LMS client; prints its secret once)
  hubless clients list
  hubless clients remove NAME
  hubless tokens create NAME --scopes list:users,read:servers,…  [--user U] [--culls]
                             [--oauth-redirect-uri URL [--oauth-scopes …]]
                                                  (a JupyterHub service token for /hub/api; prints it once)
  hubless tokens list
  hubless tokens revoke ID-OR-NAME
  hubless lti add --issuer URL --client-id ID --deployment-id ID[,ID…] --jwks-url URL --auth-url URL
                  [--username-claim CLAIM]        register an LMS for LTI 1.3 launches
  hubless lti list | remove --issuer URL --client-id ID | urls
  hubless --version                               print the version`;

const DATA_DIR_NOTE =
  'Works on the data dir (HUBLESS_DATA_DIR, default .hubless) whether or not hubless is running.';

/** Usage of each command and command group, shown by `--help` / `-h` / `hubless help ...`. */
const HELP: Record<string, string> = {
  start: `Usage: hubless start

Runs local mode in the foreground: DynamoDB Local, the OpenID provider, the gateway at
http://localhost:8000 (HUBLESS_PORT) and a lab per user who starts one. Settings come
from HUBLESS_* environment variables (see the README). On the first start it creates
the user "admin" and prints its password once. Ctrl+C stops every lab and service.`,
  users: `Usage: hubless users <command>

  add NAME [--admin] [--email E] [--groups a,b] [--password-stdin]   create a user
  list                                   list users, with admin, disabled, locked and groups
  disable NAME                           refuse sign-in (files are kept)
  enable NAME                            let a disabled user sign in again
  unlock NAME                            lift a lock after too many failed sign-ins
  passwd NAME [--password-stdin]         set a new password

${DATA_DIR_NOTE}`,
  'users add': `Usage: hubless users add NAME [--admin] [--email E] [--groups a,b] [--password-stdin]

Creates the user NAME (lowercase letters, digits and single hyphens, starting with a
letter, at most 32 characters) and prints a generated password once, unless
--password-stdin reads one from standard input.

  --admin            the user may manage every server
  --email E          their e-mail address
  --groups a,b       groups, which decide the profiles they may use
  --password-stdin   read the password from standard input

An existing user is never changed: use \`hubless users passwd NAME\` for a new password.
${DATA_DIR_NOTE}`,
  'users list': `Usage: hubless users list

Lists every user with their flags (admin, disabled, locked until when) and groups.
${DATA_DIR_NOTE}`,
  'users disable': `Usage: hubless users disable NAME

Refuses NAME's sign-in. Their files are kept; \`hubless users enable NAME\` undoes it.`,
  'users enable': `Usage: hubless users enable NAME

Lets a disabled user sign in again.`,
  'users unlock': `Usage: hubless users unlock NAME

Lifts the sign-in lock NAME got after too many wrong passwords (it also ends by itself
after 15 minutes). Takes effect at once, also while hubless is running.`,
  'users passwd': `Usage: hubless users passwd NAME [--password-stdin]

Sets a new password for NAME: a generated one, printed once, or the one read from
standard input with --password-stdin.`,
  clients: `Usage: hubless clients <command>

  add NAME --scopes a,b    an OAuth client-credentials client for a course platform (LMS);
                           prints its secret once. Scopes: users:read users:write
                           servers:read servers:write launch capacity
  list                     list clients and their scopes
  remove NAME              delete a client

The OpenID provider reads its clients at start-up: restart local mode after a change.
${DATA_DIR_NOTE}`,
  tokens: `Usage: hubless tokens <command>

  create NAME --scopes a,b [--user U] [--culls] [--oauth-redirect-uri URL [--oauth-scopes a,b]]
                           a JupyterHub service token for /hub/api, printed once.
                           --user U: acts as that user; --culls: its stops count as idle
                           culls (for jupyterhub-idle-culler); --oauth-redirect-uri: the
                           service signs users in with HubOAuth (client id service-NAME,
                           secret the token), users return to URL; --oauth-scopes: what it
                           may hold for them beyond their identity
  list                     list tokens (never the tokens themselves)
  revoke ID-OR-NAME        revoke at once, no restart needed

${DATA_DIR_NOTE}`,
};
HELP.lti = `Usage: hubless lti <command>

  add --issuer URL --client-id ID --deployment-id ID[,ID…] --jwks-url URL --auth-url URL
      [--username-claim CLAIM]
                 register an LMS (or replace its registration) for LTI 1.3 launches. The
                 LMS shows these values when hubless is added to it. --username-claim: the
                 id_token claim that names the hubless user (e.g. email, or
                 https://purl.imsglobal.org/spec/lti/claim/ext.user_username for Moodle);
                 default: "lti-" and a hash of the LMS's user id
  list           list registrations
  remove --issuer URL --client-id ID
  urls           the login, launch and keyset URLs to enter in the LMS

Launches read the registrations each time: no restart needed. ${DATA_DIR_NOTE}`;
HELP['lti add'] = HELP.lti as string;
HELP['lti list'] = HELP.lti as string;
HELP['lti remove'] = HELP.lti as string;
HELP['lti urls'] = HELP.lti as string;
HELP['clients add'] = HELP.clients as string;
HELP['clients list'] = HELP.clients as string;
HELP['clients remove'] = HELP.clients as string;
HELP['tokens create'] = HELP.tokens as string;
HELP['tokens list'] = HELP.tokens as string;
HELP['tokens revoke'] = HELP.tokens as string;

/** The usage for the command words in argv: its own when it has one, else its group's, else all. */
function helpFor(words: string[]): string {
  const [command, action] = words;
  return HELP[`${command} ${action}`] ?? HELP[command ?? ''] ?? USAGE;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

class UsageError extends Error {}
/** A well-formed command that hubless declines (exit status 1, no usage). */
class RefusedError extends Error {}

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
  const { LocalDirectory } = await import('../adapters/local/local-directory.ts');
  const directory = new LocalDirectory({ dataDir: resolve(settings.local.dataDir) });
  const needName = () => {
    if (!name) throw new UsageError(`hubless users ${action} needs a NAME.`);
    return name;
  };
  switch (action) {
    case 'add': {
      const existing = await directory.get(needName());
      if (existing) {
        // `add` used to update an existing user: a second `add alice` reset her password and
        // dropped her admin flag without a word. Changing a user is an explicit command.
        throw new RefusedError(
          `The user ${existing.name} already exists${existing.admin ? ' (admin)' : ''}; nothing was changed. ` +
            `Set a new password with \`hubless users passwd ${existing.name}\`${existing.disabled ? `, let them sign in again with \`hubless users enable ${existing.name}\`` : ''}.`,
        );
      }
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
      const locks = await directory.locks();
      if (all.length === 0) console.log('No users yet. Add one with: hubless users add NAME');
      for (const user of all) {
        const lock = locks.get(user.name);
        const flags = [
          user.admin ? 'admin' : '',
          user.disabled ? 'disabled' : '',
          lock ? `locked until ${lock.toISOString()}` : '',
        ]
          .filter(Boolean)
          .join(', ');
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
    case 'unlock': {
      const until = await directory.unlock(needName());
      console.log(
        until
          ? `Unlocked ${name}: they can sign in again (the lock would have ended at ${until.toISOString()}).`
          : `${name} was not locked; nothing to do.`,
      );
      return;
    }
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
  const { LocalMachineClients } = await import('../adapters/local/machine-clients.ts');
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
    options: {
      scopes: { type: 'string' },
      user: { type: 'string' },
      culls: { type: 'boolean' },
      'oauth-redirect-uri': { type: 'string' },
      'oauth-scopes': { type: 'string' },
    },
  });
  const [action, name] = positionals;
  const settings = parseSettings(process.env);
  const { FileServiceTokenStore } = await import('../adapters/local/service-tokens.ts');
  const { createServiceToken, oauthClientId, revokeServiceToken } = await import(
    '../core/api/service-tokens.ts'
  );
  const store = new FileServiceTokenStore({ dataDir: resolve(settings.local.dataDir) });
  switch (action) {
    case 'create': {
      if (!name) throw new UsageError('hubless tokens create needs a NAME, e.g. idle-culler.');
      const list = (text: string | undefined) =>
        (text ?? '')
          .split(/[,\s]+/)
          .map((s) => s.trim())
          .filter(Boolean);
      const { token, record } = await createServiceToken(
        store,
        {
          name,
          scopes: list(values.scopes),
          user: values.user,
          culls: values.culls,
          oauthRedirectUri: values['oauth-redirect-uri'],
          oauthScopes: list(values['oauth-scopes']),
          createdBy: 'cli',
        },
        new Date(),
      );
      console.log(`Token id: ${record.id}\nToken (shown once): ${token}\nScopes: ${record.scopes.join(' ')}`);
      if (record.user) console.log(`Acts as the user ${record.user}.`);
      if (record.culls) console.log('Its stops are recorded as idle culls.');
      if (record.oauth)
        console.log(
          `OAuth client (HubOAuth): JUPYTERHUB_CLIENT_ID=${oauthClientId(record.name)}, the token is its secret (JUPYTERHUB_API_TOKEN); users come back to ${record.oauth.redirectUri}${record.oauth.scopes.length ? ` and may grant ${record.oauth.scopes.join(' ')}` : ''}.`,
        );
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
          `${t.id}  ${t.name}${t.user ? ` (as ${t.user})` : ''}${t.culls ? ' (culls)' : ''}  scopes: ${t.scopes.join(' ')}${t.oauth ? `  oauth: ${oauthClientId(t.name)} -> ${t.oauth.redirectUri}` : ''}  created ${t.createdAt}`,
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
  const { startLocalRuntime } = await import('./runtime.ts');
  let stopping = false;
  let runtime: Awaited<ReturnType<typeof startLocalRuntime>> | undefined;
  // A part local mode cannot run without is gone for good: stop everything, exit non-zero
  // (so a service manager restarts it), and say why.
  const fatal = async (message: string) => {
    console.error(`hubless: ${message}`);
    if (stopping) return;
    stopping = true;
    await runtime?.stop().catch(() => undefined);
    process.exit(1);
  };
  runtime = await startLocalRuntime(settings, { onFatal: (message) => void fatal(message) });
  console.log(`\nhubless is running at ${runtime.url}`);
  console.log(runtime.isolation.notice);
  if (runtime.tls) {
    const { tls } = runtime;
    const made = tls.source === 'operator' ? 'certificate' : 'self-signed certificate';
    console.log(`HTTPS with the ${made} ${tls.certFile}`);
    console.log(`  SHA-256 fingerprint: ${tls.fingerprint}`);
    if (tls.source !== 'operator')
      console.log('  Browsers will warn once: tell students to accept it only if the fingerprint matches.');
  } else if (!runtime.url.startsWith('http://localhost') && !runtime.url.startsWith('http://127.')) {
    console.log('Plain HTTP: passwords cross the network in clear. Use an https:// HUBLESS_PUBLIC_URL.');
  }
  if (runtime.firstAdmin) {
    console.log(
      `First start: created the admin user "${runtime.firstAdmin.name}" with the password ${runtime.firstAdmin.password}`,
    );
    console.log('It is shown only this once. Add more users with: npx hubless users add NAME');
  }
  console.log('Press Ctrl+C to stop.\n');
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping servers and local services…`);
    await runtime?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

/** LMS registrations for LTI 1.3 launches; read at every launch, no restart needed. */
async function lti(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'deployment-id': { type: 'string', multiple: true },
      'jwks-url': { type: 'string' },
      'auth-url': { type: 'string' },
      'username-claim': { type: 'string' },
    },
  });
  const [action] = positionals;
  const settings = parseSettings(process.env);
  const { LocalLtiPlatforms } = await import('../adapters/local/lti-platforms.ts');
  const { LTI_JWKS_PATH, LTI_LAUNCH_PATH, LTI_LOGIN_PATH } = await import('../core/lti/launch.ts');
  const { listLtiPlatforms, registerLtiPlatform, removeLtiPlatform } = await import(
    '../core/lti/registration.ts'
  );
  const platforms = new LocalLtiPlatforms({ dataDir: resolve(settings.local.dataDir) });
  const base = settings.local.publicUrl.replace(/\/+$/, '');
  switch (action) {
    case 'add': {
      const { platform, created } = await registerLtiPlatform(
        platforms,
        {
          issuer: values.issuer ?? '',
          clientId: values['client-id'] ?? '',
          deploymentIds: (values['deployment-id'] ?? []).flatMap((d) => d.split(',')),
          jwksUrl: values['jwks-url'] ?? '',
          authUrl: values['auth-url'] ?? '',
          ...(values['username-claim'] ? { usernameClaim: values['username-claim'] } : {}),
        },
        new Date(),
      );
      console.log(
        `${created ? 'Registered' : 'Replaced the registration of'} ${platform.issuer} (client id ${platform.clientId}, deployments ${platform.deploymentIds.join(', ')}).`,
      );
      return;
    }
    case 'list':
      for (const p of await listLtiPlatforms(platforms))
        console.log(
          `${p.issuer}  client id: ${p.clientId}  deployments: ${p.deploymentIds.join(',')}  users from: ${p.usernameClaim ?? 'sub (hashed)'}`,
        );
      return;
    case 'remove':
      if (!values.issuer || !values['client-id'])
        throw new UsageError('hubless lti remove needs --issuer and --client-id.');
      await removeLtiPlatform(platforms, values.issuer, values['client-id']);
      console.log(`Removed ${values.issuer} (client id ${values['client-id']}).`);
      return;
    case 'urls':
      console.log(
        [
          `Login (OIDC initiation) URL:  ${base}${LTI_LOGIN_PATH}`,
          `Target link / redirect URI:   ${base}${LTI_LAUNCH_PATH}`,
          `Public keyset (JWKS) URL:     ${base}${LTI_JWKS_PATH}`,
        ].join('\n'),
      );
      return;
    default:
      throw new UsageError(action ? `Unknown lti command "${action}".` : 'hubless lti needs a command.');
  }
}

async function main(argv: string[]): Promise<void> {
  // Help and version before anything reads settings or touches the data dir.
  if (argv.includes('--version') || argv.includes('-V') || argv[0] === 'version') {
    console.log(`hubless ${version()}`);
    return;
  }
  const words = argv.filter((arg) => !arg.startsWith('-'));
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    console.log(helpFor(words));
    return;
  }
  if (words[0] === 'help') {
    console.log(helpFor(words.slice(1)));
    return;
  }
  const [command, ...rest] = argv;
  if (command === 'start') {
    if (rest.length) throw new UsageError(`hubless start takes no arguments (got ${rest.join(' ')}).`);
    return start();
  }
  if (command === 'users') return users(rest);
  if (command === 'clients') return clients(rest);
  if (command === 'tokens') return tokens(rest);
  if (command === 'lti') return lti(rest);
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
    const words = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
    console.error(`hubless: ${(error as Error).message}\n\n${helpFor(words)}`);
    process.exit(2);
  }
  if (error instanceof HublessError || error instanceof RefusedError) {
    console.error(`hubless: ${error.message}`);
    process.exit(1);
  }
  console.error(`hubless: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
