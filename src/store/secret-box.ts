// Secrets at rest (cluster passwords, the service's engine secret, API secret keys) are sealed
// with AES-256-GCM before they reach the store, so a copy of the database (a backup of it, a
// PostgreSQL replica, a stray file) does not give away the keys to every cluster. Node's own
// crypto does it: an authenticated cipher needs no library.
//
// Stored form: `enc:v1:<key id>:<base64(iv | tag | ciphertext)>`, the key id being the first 8 hex
// digits of the key's SHA-256, so a value names the key that opens it and keys can be rotated:
// values sealed with a previous key are opened with it and sealed again with the current one at
// start. A value without the prefix is plaintext from before sealing existed (read, then sealed).
// The associated data binds a value to its place (`clusters.password:<id>`): a sealed password
// moved to another row does not open.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'enc:v1:';

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentId: string;

  constructor(
    private readonly current: Buffer,
    previous: Buffer[] = [],
  ) {
    for (const k of [current, ...previous]) {
      if (k.length !== 32) throw new Error('a master key is 32 bytes');
      this.keys.set(SecretBox.keyId(k), k);
    }
    this.currentId = SecretBox.keyId(current);
  }

  static keyId(key: Buffer): string {
    return createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  seal(plain: string, place: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.current, iv);
    c.setAAD(Buffer.from(place, 'utf8'));
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `${PREFIX}${this.currentId}:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
  }

  open(stored: string, place: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const [id, data] = stored.slice(PREFIX.length).split(':');
    const key = this.keys.get(id);
    if (!key) {
      throw new Error(`a secret in the store was sealed with master key ${id}, which this service does not have: give it in CACHESTORE_MASTER_KEY_PREVIOUS`);
    }
    const raw = Buffer.from(data, 'base64');
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(place, 'utf8'));
    d.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch {
      throw new Error(`a secret in the store (${place}) does not open with master key ${id}: it was altered or moved`);
    }
  }

  /** Sealed with the current key (nothing to do at a rotation). */
  isCurrent(stored: string): boolean {
    return stored.startsWith(`${PREFIX}${this.currentId}:`);
  }
}

/** A master key as given in the environment: 64 hex digits or base64 of 32 bytes. */
export function parseMasterKey(text: string, name: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes, as 64 hex digits or base64 (e.g. from: openssl rand -hex 32)`);
  return key;
}
