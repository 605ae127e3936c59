// Shows that generated access keys follow the format (DKV + 17 base32 characters equal to the first
// 85 bits of the random bytes, read here with bigint; a 40-character base64 secret of 30 bytes),
// that a keys file written by formatAccessKeysFile reads back to the same keys, and that every kind
// of broken or hostile file content is refused with its code and never quotes a secret back.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  ACCESS_KEYS_FILE_CHARS_MAX,
  ACCESS_KEYS_MAX,
  formatAccessKeysFile,
  generateAccessKey,
  isAccessKeyId,
  isSecretAccessKey,
  parseAccessKeysFile,
  secretLookup,
  type AccessKeyRecord,
  type AccessKeysErrorCode,
} from '../../src/dynamo/access-keys.ts';

const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`access-keys.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
const fcOptions = { seed, numRuns: 300 };

/** A source that hands out the given byte arrays in turn. */
function scripted(...chunks: Uint8Array[]): (length: number) => Uint8Array {
  return (length) => {
    const next = chunks.shift();
    assert.ok(next !== undefined && next.length === length, `asked for ${length} bytes`);
    return next;
  };
}

function referenceBase32Prefix(bytes: Uint8Array, chars: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bits = BigInt(bytes.length * 8);
  const value = BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
  let out = '';
  for (let i = 1n; i <= BigInt(chars); i++) out += alphabet[Number((value >> (bits - 5n * i)) & 31n)];
  return out;
}

const record = (over: Partial<Record<keyof AccessKeyRecord, unknown>> = {}): Record<string, unknown> => ({
  accessKeyId: 'DKVABCDEFGHIJKLMNOPQ',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  name: 'app',
  role: 'user',
  ...over,
});

function codeOf(content: string): AccessKeysErrorCode | 'ok' {
  const result = parseAccessKeysFile(content);
  return result.ok ? 'ok' : result.code;
}

describe('access keys: generating', () => {
  it('makes DKV + the first 85 bits of 11 random bytes in base32, and 30 more bytes as a 40-character base64 secret', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 11, maxLength: 11 }), fc.uint8Array({ minLength: 30, maxLength: 30 }), (idBytes, secretBytes) => {
        const key = generateAccessKey(scripted(idBytes, secretBytes));
        assert.equal(key.accessKeyId, `DKV${referenceBase32Prefix(idBytes, 17)}`);
        assert.equal(Buffer.from(key.secretAccessKey, 'base64').toString('hex'), Buffer.from(secretBytes).toString('hex'));
        assert.ok(isAccessKeyId(key.accessKeyId), key.accessKeyId);
        assert.ok(isSecretAccessKey(key.secretAccessKey), key.secretAccessKey);
      }),
      fcOptions,
    );
  });

  it('uses every base32 character in every position, with node:crypto as the source', () => {
    const seen = Array.from({ length: 17 }, () => new Set<string>());
    for (let n = 0; n < 2000; n++) {
      const { accessKeyId } = generateAccessKey(randomBytes);
      [...accessKeyId.slice(3)].forEach((c, i) => seen[i]!.add(c));
    }
    // 2000 draws miss one of 32 characters with probability about 32 x (31/32)^2000, i.e. never.
    for (const set of seen) assert.equal(set.size, 32);
  });

  it('refuses a random source that returns the wrong number of bytes', () => {
    assert.throws(() => generateAccessKey(() => new Uint8Array(10)), RangeError);
    assert.throws(() => generateAccessKey((n) => new Uint8Array(n === 30 ? 29 : n)), /returned 29 bytes, asked for 30/);
  });
});

describe('access keys: the keys file', () => {
  it('reads back what formatAccessKeysFile wrote', () => {
    const entry = fc.record({
      bytes: fc.tuple(fc.uint8Array({ minLength: 11, maxLength: 11 }), fc.uint8Array({ minLength: 30, maxLength: 30 })),
      name: fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
      role: fc.constantFrom('admin' as const, 'user' as const),
    });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { maxLength: 20, selector: (e) => Buffer.from(e.bytes[0]).toString('hex') }), (entries) => {
        const records: AccessKeyRecord[] = entries.map((e) => ({ ...generateAccessKey(scripted(e.bytes[0], e.bytes[1])), name: e.name, role: e.role }));
        // Distinct 11-byte inputs can share their first 85 bits.
        fc.pre(new Set(records.map((r) => r.accessKeyId)).size === records.length);
        const result = parseAccessKeysFile(formatAccessKeysFile(records));
        assert.ok(result.ok);
        assert.deepEqual([...result.keys.values()], records);
        const lookup = secretLookup(result.keys);
        for (const r of records) assert.equal(lookup(r.accessKeyId), r.secretAccessKey);
        assert.equal(lookup('DKVAAAAAAAAAAAAAAAAA'), records.find((r) => r.accessKeyId === 'DKVAAAAAAAAAAAAAAAAA')?.secretAccessKey);
      }),
      fcOptions,
    );
    const empty = parseAccessKeysFile('[]');
    assert.ok(empty.ok && empty.keys.size === 0);
  });

  it('refuses files that are too large, not JSON, not a list, or too long a list', () => {
    assert.equal(codeOf(' '.repeat(ACCESS_KEYS_FILE_CHARS_MAX + 1)), 'KEYS_FILE_TOO_LARGE');
    assert.equal(codeOf('x'.repeat(10 * 1024 * 1024)), 'KEYS_FILE_TOO_LARGE');
    for (const content of ['', '[', '{"a":', 'nul', "['x']", '[1,]']) assert.equal(codeOf(content), 'KEYS_FILE_NOT_JSON', content);
    for (const content of ['{}', 'null', '"[]"', '1', `{"keys":[]}`]) assert.equal(codeOf(content), 'KEYS_FILE_NOT_LIST', content);
    assert.equal(codeOf(JSON.stringify(Array.from({ length: ACCESS_KEYS_MAX + 1 }, () => 0))), 'KEYS_FILE_TOO_MANY');
    const b32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const many = Array.from({ length: ACCESS_KEYS_MAX }, (_, i) => record({ accessKeyId: `DKV${'A'.repeat(14)}${b32[(i >> 10) & 31]}${b32[(i >> 5) & 31]}${b32[i & 31]}` }));
    assert.equal(codeOf(JSON.stringify(many)), 'ok');
  });

  it('refuses entries that break a rule, and never quotes a secret', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKE!';
    const cases: Array<[unknown, AccessKeysErrorCode]> = [
      [[null], 'KEYS_ENTRY_MALFORMED'],
      [['DKVABCDEFGHIJKLMNOPQ'], 'KEYS_ENTRY_MALFORMED'],
      [[[record()]], 'KEYS_ENTRY_MALFORMED'],
      [[record({ accessKeyId: 'AKIAABCDEFGHIJKLMNOP' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ accessKeyId: 'DKVabcdefghijklmnopq' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ accessKeyId: 'DKVABCDEFGHIJKLMNOP' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ accessKeyId: 'DKVABCDEFGHIJKLMNOPQR' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ accessKeyId: 'DKVABCDEFGHIJKLMNOP1' })], 'KEYS_ENTRY_MALFORMED'], // 1 is not base32
      [[record({ accessKeyId: 'DKVABCDEFGHIJKLMNOP8' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ accessKeyId: 7 })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ secretAccessKey: secret })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ secretAccessKey: 'short' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ secretAccessKey: `${'a'.repeat(41)}` })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ name: '' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ name: 'a b' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ name: 'x'.repeat(65) })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ role: 'root' })], 'KEYS_ENTRY_MALFORMED'],
      [[record({ role: undefined })], 'KEYS_ENTRY_MALFORMED'],
      [[{ ...record(), extra: 1 }], 'KEYS_ENTRY_MALFORMED'],
      [[{ ...record(), secretAccesKey: 'x' }], 'KEYS_ENTRY_MALFORMED'],
      [[record(), record()], 'KEYS_DUPLICATE_ID'],
      [[record(), record({ name: 'other', secretAccessKey: 'A'.repeat(40) })], 'KEYS_DUPLICATE_ID'],
    ];
    for (const [content, code] of cases) {
      const result = parseAccessKeysFile(JSON.stringify(content));
      assert.ok(!result.ok, JSON.stringify(content));
      assert.equal(result.code, code, result.message);
      assert.ok(!result.message.includes('wJalrXUtnFEMI'), result.message);
    }
    // JSON.parse makes "__proto__" an own field, which is refused like any unknown field.
    assert.equal(codeOf(`[{"__proto__":{"role":"admin"},"accessKeyId":"DKVABCDEFGHIJKLMNOPQ","secretAccessKey":"${'A'.repeat(40)}","name":"a","role":"user"}]`), 'KEYS_ENTRY_MALFORMED');
    assert.throws(() => formatAccessKeysFile([{ accessKeyId: 'bad', secretAccessKey: 'A'.repeat(40), name: 'a', role: 'user' }]), RangeError);
  });

  it('answers any text with a result, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.array(fc.jsonValue(), { maxLength: 4 }).map((v) => JSON.stringify(v))), (content) => {
        const result = parseAccessKeysFile(content);
        assert.equal(typeof result.ok, 'boolean');
      }),
      fcOptions,
    );
  });
});
