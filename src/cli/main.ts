// The `cachestore` command line: every operation of the Cache Store API and its extensions,
// grouped as a person thinks of them. Built on commander 14 (the last major that runs on
// Node 20; nested commands, generated --help on every level, option choices and env-free parsing,
// no dependencies of its own).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { CredentialError } from '../client/credentials.js';
import { ApiError, ConnectionError, RequestFailedError, WaitTimeoutError } from '../client/errors.js';
import { backupsCommand, restoreCommand } from './commands/backups.js';
import { catalogueCommand } from './commands/catalogue.js';
import { clustersCommand } from './commands/clusters.js';
import { requestsCommand } from './commands/requests.js';
import { commandsCommand, parametersCommand } from './commands/settings.js';
import { ConnectError } from './connect.js';
import { CliError, type Io } from './context.js';
import { FlagError } from './create-body.js';
import { adminCommand } from './admin.js';

/**
 * Command groups defined in their own modules, mounted at the top level after the API's groups:
 * a commander Command (e.g. the operators' `admin` of src/cli/admin.ts) or a factory like ours.
 */
export const EXTRA_COMMAND_GROUPS: Array<Command | ((io: Io) => Command)> = [
  // The operators' accounts and keys: on the store directly, no key needed.
  (io) => adminCommand({ io: { out: (t) => io.stdout.write(t), err: (t) => io.stderr.write(t), env: io.env }, exitOverride: true }),
];

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(io: Io): Command {
  const program = new Command('cachestore')
    .description('Command line for Cache Store, the managed Redis OSS / Valkey service (the Cache Store 1.0 API).')
    .version(version(), '-V, --version')
    .addOption(new Option('--endpoint <url>', 'the API (default: $CACHESTORE_ENDPOINT, the profile, $CACHESTORE_LISTEN, http://127.0.0.1:8080)'))
    .addOption(new Option('--access-key <key>', 'access key (default: $CACHESTORE_ACCESS_KEY, the profile, the bootstrap credential)'))
    .addOption(new Option('--secret-key <key>', 'secret key (default: $CACHESTORE_SECRET_KEY, …); prefer the environment or a profile: flags show in ps'))
    .addOption(new Option('--account-id <id>', 'account id to send (default: none, the key\'s own account)'))
    .addOption(new Option('--profile <name>', 'profile in ~/.config/cachestore/config.yaml ($CACHESTORE_CONFIG_FILE) (default: $CACHESTORE_PROFILE, else "default")'))
    .addOption(new Option('--data-dir <dir>', "the service's data dir, where its bootstrap credential is (default: $CACHESTORE_DATA_DIR, ./.cachestore)"))
    .addOption(new Option('-o, --output <format>', 'table for people, json for scripts').choices(['table', 'json']).default('table'))
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText(
      'after',
      [
        '',
        'Credentials: flags, then CACHESTORE_ACCESS_KEY / CACHESTORE_SECRET_KEY, then a profile, then the',
        "bootstrap credential the service wrote at its first start (<data dir>/bootstrap-credential.json).",
        '',
        'Changes wait until their request ends (progress on stderr); --no-wait prints the request id.',
        'Exit code: 0 on success, 1 when the API refused or a request FAILED, 2 for a usage mistake.',
        '',
        'Examples:',
        '  $ cachestore clusters create mycache --engine redis',
        '  $ cachestore clusters connect mycache',
        '  $ cachestore backups create mycache',
        '  $ cachestore restore mycache --name mycopy --time 2026-12-01T08:00:00Z',
        '  $ cachestore clusters list -o json',
      ].join('\n'),
    );
  const groups = [clustersCommand, backupsCommand, restoreCommand, parametersCommand, commandsCommand, requestsCommand, catalogueCommand, ...EXTRA_COMMAND_GROUPS];
  for (const group of groups) program.addCommand(group instanceof Command ? group : group(io));
  // Every level: usage mistakes are exit code 2, and a group without a subcommand shows its help.
  const visit = (c: Command) => {
    // Lists of subcommands show the first line of each description.
    if (!c.summary() && c.description()) c.summary(c.description().split('\n')[0]);
    c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) }).showHelpAfterError('(add --help for usage)');
    c.commands.forEach(visit);
  };
  visit(program);
  return program;
}

/** One line for anything a command throws; the exit code says which kind it was. */
export function describeError(err: unknown): { message: string; code: number } {
  if (err instanceof ApiError) return { message: err.detail, code: 1 };
  if (err instanceof RequestFailedError || err instanceof WaitTimeoutError || err instanceof ConnectionError) return { message: err.message, code: 1 };
  if (err instanceof CliError || err instanceof CredentialError || err instanceof FlagError || err instanceof ConnectError) return { message: err.message, code: 1 };
  return { message: `unexpected: ${(err as Error)?.stack ?? String(err)}`, code: 1 };
}

export async function run(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; commander has already printed the usage mistake.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      if (err.code === 'commander.executeSubCommandAsync') return 0;
      return err.exitCode === 0 ? 0 : 2;
    }
    const { message, code } = describeError(err);
    io.stderr.write(`error: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return code;
  }
}

// Run when executed directly (bin/cachestore.js imports it and calls run()).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await run(process.argv.slice(2));
}
