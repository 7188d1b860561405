// Accounts and their access keys, as operators manage them (cachestore admin): create an
// account, issue a key (its secret is shown once), list keys (never secrets), revoke a key.
// A revoked key stays in the store for the record and answers 401 on every service instance at
// once: the HTTP layer looks every key up in the shared store, with no cache.
import { createHash, randomBytes } from 'node:crypto';
import { NotFoundError, ValidationError } from './errors.js';
import type { Credential } from './model.js';
import type { Clock } from './ports.js';

export interface Account {
  /** What Scp-AccountId carries and clusters are recorded under: 32 lowercase hex characters. */
  id: string;
  name: string;
  createdAt: string;
}

export type AccessKeyKind = 'bootstrap' | 'issued';

/** An access key as listed: everything but the secret. */
export interface AccessKeyInfo {
  accessKey: string;
  accountId: string;
  kind: AccessKeyKind;
  description: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/** What the store keeps about accounts and keys (SqlStore implements it beside Store). */
export interface AccountStore {
  /** False when the name is taken. */
  createAccount(a: Account): Promise<boolean>;
  findAccount(id: string): Promise<Account | undefined>;
  findAccountByName(name: string): Promise<Account | undefined>;
  listAccounts(): Promise<Account[]>;
  /** A new issued key; the access key is new (random), so it never replaces one. */
  insertAccessKey(c: Credential, kind: AccessKeyKind, description: string | null, at: string): Promise<void>;
  /** Oldest first; accountId undefined: every account's. */
  listAccessKeys(accountId?: string): Promise<AccessKeyInfo[]>;
  accessKeyInfo(accessKey: string): Promise<AccessKeyInfo | undefined>;
  /** Sets revoked_at if the key is not revoked yet; says whether it did. */
  revokeAccessKey(accessKey: string, at: string): Promise<boolean>;
  /**
   * Records the bootstrap credential (a new secret for the same access key replaces the old one;
   * a key an operator revoked stays revoked), makes sure its account exists, and revokes every
   * other bootstrap key: the environment's credential is the only bootstrap key in force.
   * Returns the access keys it revoked.
   */
  saveBootstrapCredential(c: Credential, at: string): Promise<{ revoked: string[]; revokedItself: boolean }>;
}

/** Who the mutations of a key are recorded as (created_by / modified_by). */
export function userIdFor(accessKey: string): string {
  return createHash('sha256').update(`cachestore-user:${accessKey}`).digest('hex').slice(0, 32);
}

/** 20 URL-safe characters (120 bits), and a 40-character secret (240 bits). */
export function newAccessKey(): { accessKey: string; secretKey: string } {
  return { accessKey: randomBytes(15).toString('base64url'), secretKey: randomBytes(30).toString('base64url') };
}

export function newAccountId(): string {
  return randomBytes(16).toString('hex');
}

/** Names as operators type them on a command line: lower case, digits and dashes. */
export function accountNameProblem(name: string): string | undefined {
  if (!/^[a-z][a-z0-9-]{1,62}[a-z0-9]$/.test(name)) {
    return `account name '${name}' must be 3 to 64 characters: lower-case letters, digits and dashes, starting with a letter and not ending with a dash`;
  }
  return undefined;
}

export function descriptionProblem(d: string): string | undefined {
  if (d.length > 256) return `the description is ${d.length} characters long; at most 256`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(d)) return 'the description must be one line of printable text';
  return undefined;
}

/** The name given to the account of a bootstrap credential the first time it is seen. */
export function bootstrapAccountName(accountId: string, taken: (name: string) => boolean): string {
  return taken('bootstrap') ? `bootstrap-${accountId.slice(0, 12).toLowerCase()}` : 'bootstrap';
}

export class AccountService {
  constructor(
    private readonly store: AccountStore,
    private readonly clock: Clock,
  ) {}

  async createAccount(name: string): Promise<Account> {
    const problem = accountNameProblem(name);
    if (problem) throw new ValidationError(problem);
    const account: Account = { id: newAccountId(), name, createdAt: this.clock.now().toISOString() };
    if (!(await this.store.createAccount(account))) throw new ValidationError(`an account named '${name}' exists already`);
    return account;
  }

  listAccounts(): Promise<Account[]> {
    return this.store.listAccounts();
  }

  /** By name or by id. */
  async account(ref: string): Promise<Account> {
    const a = (await this.store.findAccountByName(ref)) ?? (await this.store.findAccount(ref));
    if (!a) throw new NotFoundError(`no account '${ref}' (give its name or id; 'cachestore admin accounts list' shows them)`);
    return a;
  }

  /** The new key with its secret: the only time the secret leaves the store. */
  async issueKey(accountRef: string, description?: string): Promise<{ account: Account; credential: Credential; createdAt: string }> {
    if (description !== undefined) {
      const problem = descriptionProblem(description);
      if (problem) throw new ValidationError(problem);
    }
    const account = await this.account(accountRef);
    const { accessKey, secretKey } = newAccessKey();
    const credential: Credential = { accessKey, secretKey, accountId: account.id, userId: userIdFor(accessKey) };
    const createdAt = this.clock.now().toISOString();
    await this.store.insertAccessKey(credential, 'issued', description ?? null, createdAt);
    return { account, credential, createdAt };
  }

  async listKeys(accountRef?: string): Promise<AccessKeyInfo[]> {
    const accountId = accountRef === undefined ? undefined : (await this.account(accountRef)).id;
    return this.store.listAccessKeys(accountId);
  }

  /** Revoking a revoked key again is refused, so a typo'd second revoke is noticed. */
  async revokeKey(accessKey: string): Promise<AccessKeyInfo> {
    const info = await this.store.accessKeyInfo(accessKey);
    if (!info) throw new NotFoundError(`no access key '${accessKey}' ('cachestore admin keys list' shows them)`);
    if (info.revokedAt) throw new ValidationError(`access key '${accessKey}' was revoked already, at ${info.revokedAt}`);
    const at = this.clock.now().toISOString();
    await this.store.revokeAccessKey(accessKey, at);
    return { ...info, revokedAt: at };
  }
}
