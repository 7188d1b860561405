import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseMasterKey, SecretBox } from './secret-box.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);

describe('SecretBox', () => {
  it('seals so that the value is not in the stored form, and opens it again', () => {
    const box = new SecretBox(k1);
    const sealed = box.seal('Secr3t!pass', 'clusters.password:c1');
    expect(sealed).toMatch(new RegExp(`^enc:v1:${box.currentId}:`));
    expect(sealed).not.toContain('Secr3t');
    expect(box.open(sealed, 'clusters.password:c1')).toBe('Secr3t!pass');
    // A fresh nonce each time: equal passwords do not look equal in the store.
    expect(box.seal('Secr3t!pass', 'clusters.password:c1')).not.toBe(sealed);
  });

  it('does not open a value moved to another place, or altered', () => {
    const box = new SecretBox(k1);
    const sealed = box.seal('Secr3t!pass', 'clusters.password:c1');
    expect(() => box.open(sealed, 'clusters.password:c2')).toThrow(/altered or moved/);
    const raw = Buffer.from(sealed.split(':')[3], 'base64');
    raw[raw.length - 1] ^= 1;
    expect(() => box.open(`enc:v1:${box.currentId}:${raw.toString('base64')}`, 'clusters.password:c1')).toThrow(/altered or moved/);
  });

  it('opens with a previous key after a rotation, and says which key is missing otherwise', () => {
    const old = new SecretBox(k1);
    const sealed = old.seal('v', 'p');
    const rotated = new SecretBox(k2, [k1]);
    expect(rotated.open(sealed, 'p')).toBe('v');
    expect(rotated.isCurrent(sealed)).toBe(false);
    expect(rotated.isCurrent(rotated.seal('v', 'p'))).toBe(true);
    expect(() => new SecretBox(k2).open(sealed, 'p')).toThrow(new RegExp(`master key ${old.currentId}.*CACHESTORE_MASTER_KEY_PREVIOUS`));
  });

  it('reads plaintext from before sealing as it is', () => {
    expect(new SecretBox(k1).open('legacy-plain', 'p')).toBe('legacy-plain');
    expect(new SecretBox(k1).isCurrent('legacy-plain')).toBe(false);
  });

  it('takes a key as 64 hex digits or base64 of 32 bytes, and nothing else', () => {
    expect(parseMasterKey(k1.toString('hex'), 'K').equals(k1)).toBe(true);
    expect(parseMasterKey(k1.toString('base64'), 'K').equals(k1)).toBe(true);
    expect(() => parseMasterKey('short', 'CACHESTORE_MASTER_KEY')).toThrow(/CACHESTORE_MASTER_KEY must be 32 bytes/);
  });
});
