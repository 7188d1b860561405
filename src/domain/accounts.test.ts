import { describe, expect, it } from 'vitest';
import { accountNameProblem, bootstrapAccountName, descriptionProblem, newAccessKey, userIdFor } from './accounts.js';

describe('account names', () => {
  it('takes what an operator types on a command line, and says what is wrong with anything else', () => {
    for (const ok of ['acme', 'team-7', 'a1b', 'x'.repeat(64)]) expect(accountNameProblem(ok), ok).toBeUndefined();
    for (const bad of ['ab', 'Acme', '7team', 'team-', 'my team', 'a_b', 'x'.repeat(65), '']) {
      expect(accountNameProblem(bad), bad).toMatch(/must be 3 to 64 characters/);
    }
  });

  it('names a bootstrap account "bootstrap", or after its id when that name is taken', () => {
    expect(bootstrapAccountName('0123456789abcdef0123456789abcdef', () => false)).toBe('bootstrap');
    expect(bootstrapAccountName('0123456789abcdef0123456789abcdef', (n) => n === 'bootstrap')).toBe('bootstrap-0123456789ab');
  });
});

describe('descriptions', () => {
  it('are one printable line of at most 256 characters', () => {
    expect(descriptionProblem('acme CI')).toBeUndefined();
    expect(descriptionProblem('a\nb')).toMatch(/one line/);
    expect(descriptionProblem('x'.repeat(257))).toMatch(/at most 256/);
  });
});

describe('keys', () => {
  it('are random, URL-safe, and each records its own user', () => {
    const a = newAccessKey();
    const b = newAccessKey();
    expect(a.accessKey).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(a.secretKey).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(a.accessKey).not.toBe(b.accessKey);
    expect(userIdFor(a.accessKey)).toMatch(/^[0-9a-f]{32}$/);
    expect(userIdFor(a.accessKey)).not.toBe(userIdFor(b.accessKey));
  });
});
