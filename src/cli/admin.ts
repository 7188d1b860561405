// `cachestore admin …`: the operator's commands on accounts and access keys. They work on the
// store directly (the SQLite file in the data dir, or CACHESTORE_DATABASE_URL), so they need no
// key and work while the service runs or not. Secrets are printed once, by `keys issue`.
//
// commander 14: the last major that runs on Node 20 (15 will need Node 22); subcommands, help on
// every level and one-line errors come with it.
import { access } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { databaseOf, dataDirOf } from '../config.js';
import { AccountService, type AccessKeyInfo, type Account } from '../domain/accounts.js';
import { DomainError } from '../domain/errors.js';
import { systemClock } from '../domain/ports.js';
import { openDatabase, type DatabaseConfig } from '../store/db.js';
import { SqlStore } from '../store/sql-store.js';
import { loadSecretBox } from '../store/master-key.js';

export interface AdminIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export interface AdminOptions {
  io?: AdminIo;
  /** Throw CommanderError instead of exiting the process (runAdmin, tests). */
  exitOverride?: boolean;
}

const defaultIo: AdminIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env };

/** A failure of the command itself (not of its usage): exit code 1, one line. */
class AdminFailure extends Error {}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(a CACHESTORE_DATABASE_URL that is not a URL)';
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

async function withService<T>(cmd: Command, io: AdminIo, work: (accounts: AccountService) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals<{ dataDir?: string; databaseUrl?: string }>();
  const env = { ...io.env };
  if (g.dataDir) env.CACHESTORE_DATA_DIR = g.dataDir;
  if (g.databaseUrl) env.CACHESTORE_DATABASE_URL = g.databaseUrl;
  const config: DatabaseConfig = databaseOf(env);
  if (config.kind === 'sqlite') {
    // A mistyped data dir must not quietly get a new, empty store.
    try {
      await access(config.file);
    } catch {
      throw new AdminFailure(`no Cache Store database at ${config.file}: start the service once with this data dir, or pass --data-dir or --database-url`);
    }
  } else if (!/^postgres(ql)?:\/\//.test(config.url)) {
    throw new AdminFailure(`the database URL must start with postgres:// (got ${redactUrl(config.url)})`);
  }
  let store: SqlStore;
  try {
    // Issued secret keys are sealed like the service seals them: with its master key.
    const { box } = await loadSecretBox(dataDirOf(env), {
      masterKey: env.CACHESTORE_MASTER_KEY || undefined,
      previousMasterKeys: (env.CACHESTORE_MASTER_KEY_PREVIOUS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    }, { create: false });
    store = new SqlStore(await openDatabase(config), box);
  } catch (err) {
    const where = config.kind === 'sqlite' ? config.file : redactUrl(config.url);
    throw new AdminFailure(`cannot open the store at ${where}: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
  try {
    return await work(new AccountService(store, systemClock));
  } finally {
    await store.close();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

const outputOption = () => new Option('-o, --output <format>', 'table for people, json for scripts').choices(['table', 'json']).default('table');

function accountJson(a: Account) {
  return { id: a.id, name: a.name, created_at: a.createdAt };
}

function keyJson(k: AccessKeyInfo, accountName: string | undefined) {
  return {
    access_key: k.accessKey,
    account_id: k.accountId,
    account_name: accountName ?? null,
    kind: k.kind,
    description: k.description,
    created_at: k.createdAt,
    revoked_at: k.revokedAt,
  };
}

export function adminCommand(opts: AdminOptions = {}): Command {
  const io = opts.io ?? defaultIo;
  const admin = new Command('admin');
  // The same exit codes mounted under `cachestore` (commander would exit 1 for everything).
  admin.exitOverride((err) => {
    if (opts.exitOverride) throw err;
    process.exit(exitCodeOf(err));
  });
  // Settings made before .command() are inherited by every subcommand.
  admin.configureOutput({
    writeOut: (t) => io.out(t),
    writeErr: (t) => io.err(t),
    outputError: (t, write) => write(oneLine(t) + '\n'),
  });
  admin
    .description('Accounts and access keys, on the store directly (no key needed). Run where the service keeps its data.')
    .option('--data-dir <dir>', 'the service\'s data dir, where its SQLite store is (default: CACHESTORE_DATA_DIR or ./.cachestore)')
    .option('--database-url <url>', 'the PostgreSQL store (default: CACHESTORE_DATABASE_URL)')
    .addHelpText(
      'after',
      `
Examples:
  $ cachestore admin accounts create acme
  $ cachestore admin keys issue --account acme --description "acme CI"
  $ cachestore admin keys list --account acme
  $ cachestore admin keys revoke <access key>`,
    );

  /** Runs an action; what goes wrong is one line on stderr and exit code 1. */
  const act =
    <A extends unknown[]>(work: (cmd: Command, ...args: A) => Promise<void>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      try {
        await work(cmd, ...(args.slice(0, -2) as A));
      } catch (err) {
        if (err instanceof CommanderError) throw err;
        const known = err instanceof DomainError || err instanceof AdminFailure;
        const message = known ? (err as Error).message : `unexpected failure: ${err instanceof Error ? err.message : String(err)}`;
        cmd.error(`error: ${oneLine(message)}`, { exitCode: 1, code: 'cachestore.admin.failed' });
      }
    };

  const accounts = admin.command('accounts').description('create and list accounts (clusters belong to accounts)');
  accounts
    .command('create')
    .description('create an account; prints its id (what Scp-AccountId carries)')
    .argument('<name>', '3 to 64 characters: lower-case letters, digits and dashes')
    .addOption(outputOption())
    .addHelpText('after', '\nExample:\n  $ cachestore admin accounts create acme')
    .action(
      act(async (cmd, name: string) => {
        const a = await withService(cmd, io, (s) => s.createAccount(name));
        if (cmd.opts().output === 'json') io.out(JSON.stringify(accountJson(a), null, 2) + '\n');
        else io.out(`Account ${a.name} created, id ${a.id}. Issue it a key: cachestore admin keys issue --account ${a.name}\n`);
      }),
    );
  accounts
    .command('list')
    .description('list every account')
    .addHelpText('after', '\nExample:\n  $ cachestore admin accounts list -o json')
    .addOption(outputOption())
    .action(
      act(async (cmd) => {
        const list = await withService(cmd, io, (s) => s.listAccounts());
        if (cmd.opts().output === 'json') io.out(JSON.stringify(list.map(accountJson), null, 2) + '\n');
        else io.out(table([['NAME', 'ID', 'CREATED'], ...list.map((a) => [a.name, a.id, a.createdAt])]));
      }),
    );

  const keys = admin.command('keys').description('issue, list and revoke access keys');
  keys
    .command('issue')
    .description('issue an access key to an account; its secret key is shown this once')
    .requiredOption('--account <name-or-id>', 'the account the key acts for')
    .option('--description <text>', 'what the key is for (shown by keys list)')
    .addOption(outputOption())
    .addHelpText('after', '\nExample:\n  $ cachestore admin keys issue --account acme --description "acme CI"')
    .action(
      act(async (cmd) => {
        const o = cmd.opts<{ account: string; description?: string; output: string }>();
        const { account, credential, createdAt } = await withService(cmd, io, (s) => s.issueKey(o.account, o.description));
        if (o.output === 'json') {
          io.out(
            JSON.stringify(
              { access_key: credential.accessKey, secret_key: credential.secretKey, account_id: account.id, account_name: account.name, created_at: createdAt, description: o.description ?? null },
              null,
              2,
            ) + '\n',
          );
        } else {
          io.out(
            [
              `Access key issued to account ${account.name} (${account.id}):`,
              `  access key: ${credential.accessKey}`,
              `  secret key: ${credential.secretKey}`,
              'The secret key is shown this once: keep it now (keys list never shows it).',
              '',
            ].join('\n'),
          );
        }
      }),
    );
  keys
    .command('list')
    .description('list access keys (never their secrets), revoked ones too')
    .addHelpText('after', '\nExample:\n  $ cachestore admin keys list --account acme -o json')
    .option('--account <name-or-id>', 'only this account\'s keys')
    .addOption(outputOption())
    .action(
      act(async (cmd) => {
        const o = cmd.opts<{ account?: string; output: string }>();
        const { list, names } = await withService(cmd, io, async (s) => ({
          list: await s.listKeys(o.account),
          names: new Map((await s.listAccounts()).map((a) => [a.id, a.name])),
        }));
        if (o.output === 'json') {
          io.out(JSON.stringify(list.map((k) => keyJson(k, names.get(k.accountId))), null, 2) + '\n');
        } else {
          io.out(
            table([
              ['ACCESS KEY', 'ACCOUNT', 'KIND', 'CREATED', 'REVOKED', 'DESCRIPTION'],
              ...list.map((k) => [k.accessKey, names.get(k.accountId) ?? k.accountId, k.kind, k.createdAt, k.revokedAt ?? '-', k.description ?? '']),
            ]),
          );
        }
      }),
    );
  keys
    .command('revoke')
    .description('revoke an access key: requests signed with it get 401 at once, on every instance')
    .addHelpText('after', '\nExample:\n  $ cachestore admin keys revoke 3q0VbX2mK9')
    .argument('<access-key>', 'as keys list shows it')
    .action(
      act(async (cmd, accessKey: string) => {
        const k = await withService(cmd, io, (s) => s.revokeKey(accessKey));
        io.out(`Access key ${k.accessKey} revoked at ${k.revokedAt}: requests signed with it get 401 from now on.\n`);
      }),
    );
  return admin;
}

/** For mounting under the `cachestore` program: `program.addCommand(admin)`. */
export const admin: Command = adminCommand();

/** 0 done (or --help), 1 the command failed, 2 a usage error (help shown for a missing subcommand too). */
function exitCodeOf(err: CommanderError): number {
  if (err.exitCode === 0) return 0;
  return err.code === 'cachestore.admin.failed' ? 1 : 2;
}

/**
 * Runs `admin <argv…>` and returns the exit code: 0 done (or help), 1 the command failed,
 * 2 a usage error (unknown command or option, missing argument). Never exits the process.
 */
export async function runAdmin(argv: string[], io: AdminIo = defaultIo): Promise<number> {
  const cmd = adminCommand({ io, exitOverride: true });
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return exitCodeOf(err);
    io.err(`error: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}
