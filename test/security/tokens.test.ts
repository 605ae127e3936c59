// Shows that client tokens round-trip through mintToken/verifyToken, that a token from another
// cluster secret or with any character altered is refused as TOKEN_INVALID or TOKEN_MALFORMED,
// and that inputs of the wrong type, shape or length are refused before any MAC is computed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { mintToken, parseTokenShape, tokenCharsMax, verifyToken } from '../../src/security/tokens.ts';

const secret = randomBytes(32);

describe('tokens', () => {
  it('round-trips name and role, for names at the bounds of the id rule', () => {
    for (const [name, role] of [['admin', 'admin'], ['a', 'user'], ['x'.repeat(64), 'admin'], ['a.admin', 'user'], ['ops-1_x.y', 'user']] as const) {
      const token = mintToken(secret, name, role);
      assert.ok(token.length <= tokenCharsMax, `${token.length} <= ${tokenCharsMax}`);
      assert.deepEqual(verifyToken(secret, token), { ok: true, name, role });
      assert.deepEqual(parseTokenShape(token), { name, role });
    }
  });

  it('is deterministic per secret, and another secret refuses it', () => {
    assert.equal(mintToken(secret, 'alice', 'user'), mintToken(secret, 'alice', 'user'));
    const other = randomBytes(32);
    assert.deepEqual(verifyToken(other, mintToken(secret, 'alice', 'user')), { ok: false, code: 'TOKEN_INVALID' });
  });

  it('refuses a token whose name or role was changed, keeping the MAC', () => {
    const token = mintToken(secret, 'alice', 'user');
    const mac = token.split('.').at(-1)!;
    assert.deepEqual(verifyToken(secret, `dkv1.alice.admin.${mac}`), { ok: false, code: 'TOKEN_INVALID' });
    assert.deepEqual(verifyToken(secret, `dkv1.bob.user.${mac}`), { ok: false, code: 'TOKEN_INVALID' });
    assert.deepEqual(verifyToken(secret, `dkv1.alice.user.user.${mac}`), { ok: false, code: 'TOKEN_INVALID' });
  });

  it('refuses every single-character change of the MAC', () => {
    const token = mintToken(secret, 'alice', 'admin');
    const macStart = token.lastIndexOf('.') + 1;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = macStart; i < token.length; i++) {
      for (const c of alphabet) {
        if (c === token[i]) continue;
        const changed = token.slice(0, i) + c + token.slice(i + 1);
        const check = verifyToken(secret, changed);
        assert.equal(check.ok, false, `changed position ${i} to ${c}`);
      }
    }
  });

  it('refuses malformed tokens and non-strings as TOKEN_MALFORMED', () => {
    const good = mintToken(secret, 'alice', 'user');
    const bad: unknown[] = [
      undefined, null, 42, {}, [], Buffer.from(good),
      '', 'dkv1', good + 'A', good.slice(0, -1), ` ${good}`, `${good}\n`, good.replace('dkv1', 'dkv2'),
      good.replace('user', 'root'), good.replace('alice', ''), good.replace('alice', 'a'.repeat(65)), good.replace('alice', 'al ice'),
      good.replace('alice', 'al\u001bce'), `Bearer ${good}`, 'x'.repeat(tokenCharsMax + 1), 'dkv1.' + 'a.'.repeat(10_000) + 'user.' + 'A'.repeat(43),
    ];
    for (const token of bad) {
      assert.deepEqual(verifyToken(secret, token), { ok: false, code: 'TOKEN_MALFORMED' }, JSON.stringify(typeof token === 'string' ? token.slice(0, 40) : String(token)));
      assert.equal(parseTokenShape(token), undefined);
    }
  });

  it('accepts exactly one spelling of a MAC (the unused low bits of the last character must be zero)', () => {
    const token = mintToken(secret, 'alice', 'user');
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const index = alphabet.indexOf(last);
    // 43 characters carry 258 bits for 256: the last character's 2 low bits are padding.
    for (let low = 1; low < 4; low++) {
      const sibling = token.slice(0, -1) + alphabet[(index & ~3) | low];
      assert.deepEqual(verifyToken(secret, sibling), { ok: false, code: 'TOKEN_MALFORMED' });
    }
  });

  it('refuses to mint for a bad name or role', () => {
    assert.throws(() => mintToken(secret, 'a b', 'user'), RangeError);
    assert.throws(() => mintToken(secret, '', 'user'), RangeError);
    assert.throws(() => mintToken(secret, 'alice', 'root' as 'user'), RangeError);
    assert.throws(() => mintToken(randomBytes(16), 'alice', 'user'), /assertion: cluster secret/);
  });
});
