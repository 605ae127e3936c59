// Shows that key-codec's bytes sort as DynamoDB sorts keys and decode back to one key. The oracle
// shares no code with the codec: numbers are compared exactly as bigint mantissa x 10^exponent
// parsed by a regex here, strings by their UTF-8 bytes, binaries as unsigned bytes. fast-check
// checks memcmp order == oracle order for single values and for (partition, sort) pairs, round
// trips, the partition range, and that arbitrary bytes either decode canonically or are refused
// with KEY_CORRUPT; hand-picked cases pin N validation (DynamoDB's accepted and refused spellings,
// range and precision edges) and key length limits.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  canonicalNumber,
  decodeKey,
  ENCODED_KEY_BYTES_MAX,
  encodeKey,
  KeyCodecError,
  partitionPrefix,
  PARTITION_KEY_BYTES_MAX,
  SORT_KEY_BYTES_MAX,
  sortKeyPrefixRange,
  type KeyCodecErrorCode,
  type KeyValue,
} from '../../src/dynamo/key-codec.ts';

const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`key-codec.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
const fcOptions = { seed, numRuns: 1000 };

// ---- Oracle ------------------------------------------------------------------------------------

/** An exact decimal: mantissa x 10^exponent. */
interface Exact {
  readonly mantissa: bigint;
  readonly exponent: number;
}

const NUMBER_SYNTAX = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function exact(text: string): Exact {
  const m = NUMBER_SYNTAX.exec(text);
  assert.ok(m !== null, `oracle cannot read ${text}`);
  const int = m[2] ?? '';
  const frac = m[3] ?? '';
  const mantissa = BigInt((m[1] === '-' ? '-' : '') + (int + frac || '0'));
  return { mantissa, exponent: Number(m[4] ?? '0') - frac.length };
}

function compareExact(a: Exact, b: Exact): number {
  const e = Math.min(a.exponent, b.exponent);
  const x = a.mantissa * 10n ** BigInt(a.exponent - e);
  const y = b.mantissa * 10n ** BigInt(b.exponent - e);
  return x < y ? -1 : x > y ? 1 : 0;
}


/** DynamoDB's order of two values of one type. */
function oracle(a: KeyValue, b: KeyValue): number {
  if ('S' in a && 'S' in b) return Buffer.compare(Buffer.from(a.S, 'utf8'), Buffer.from(b.S, 'utf8'));
  if ('B' in a && 'B' in b) return Buffer.compare(a.B, b.B);
  if ('N' in a && 'N' in b) return compareExact(exact(a.N), exact(b.N));
  throw new Error('oracle compares values of one type only');
}

const sign = (x: number): number => (x < 0 ? -1 : x > 0 ? 1 : 0);
const memcmp = (a: Uint8Array, b: Uint8Array): number => sign(Buffer.compare(a, b));

function codeOf(run: () => unknown): KeyCodecErrorCode | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    assert.ok(error instanceof KeyCodecError, `expected KeyCodecError, got ${String(error)}`);
    return error.code;
  }
}

// ---- Arbitraries -------------------------------------------------------------------------------

// Characters that stress the escape (NUL, 0x01), the UTF-8 vs UTF-16 order split (U+FFFF sorts
// below U+1F600 in UTF-8 but above its surrogates in UTF-16) and multi-byte sequences.
const trickyChar = fc.constantFrom('\0', '\x01', 'a', 'b', '\x7f', '\u0080', '\u07ff', '\ue000', '\uffff', '\u{1f600}', '\u{10ffff}');
const keyString = fc.oneof(
  fc.string({ unit: trickyChar, minLength: 1, maxLength: 8 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
);
const keyBytes = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => b.map((x) => [0, 1, 0xff, 0x7f, x][x % 5]!)),
  fc.uint8Array({ minLength: 1, maxLength: 16 }),
);

/** A legal number: sign, 1-38 significant digits (first and last non-zero), exponent in range. */
const numberParts = fc.record({
  negative: fc.boolean(),
  digits: fc
    .array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 38 })
    .map((ds) => ds.join(''))
    .map((d) => d.replace(/^0+/, '').replace(/0+$/, ''))
    .filter((d) => d.length > 0),
  // Mostly near zero so that equal exponents (the digit comparison) are common.
  exponent: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -129, max: 126 })),
  form: fc.integer({ min: 0, max: 4 }),
});

/** One of several spellings of 0.digits x 10^exponent. */
function spell(p: { negative: boolean; digits: string; exponent: number; form: number }): string {
  const s = p.negative ? '-' : '';
  const { digits, exponent } = p;
  switch (p.form) {
    case 0:
      return `${s}0.${digits}e${exponent}`;
    case 1:
      return `${s}${digits}E${exponent - digits.length >= 0 ? '+' : ''}${exponent - digits.length}`;
    case 2:
      return `${p.negative ? '-' : '+'}000${digits}000e${exponent - digits.length - 3}`;
    case 3:
      return `${s}.${digits}00E${exponent}`;
    default: {
      // Plain notation, built independently of formatNumber.
      if (exponent <= 0) return `${s}0.${'0'.repeat(-exponent)}${digits}`;
      const padded = digits.padEnd(exponent, '0');
      return padded.length === exponent ? `${s}${padded}` : `${s}${padded.slice(0, exponent)}.${padded.slice(exponent)}`;
    }
  }
}

const zeroText = fc.constantFrom('0', '-0', '+0', '0.000', '.0', '0e1000', '0E-1000', '000.0e5');
const edgeText = fc.constantFrom('1E-130', '-1E-130', '9.9999999999999999999999999999999999999E+125', '-9.9999999999999999999999999999999999999E+125', '1', '-1', '0.1', '10', '1.1');
const numberText = fc.oneof({ weight: 6, arbitrary: numberParts.map(spell) }, { weight: 1, arbitrary: zeroText }, { weight: 1, arbitrary: edgeText });

const sValue = keyString.map((S): KeyValue => ({ S }));
const nValue = numberText.map((N): KeyValue => ({ N }));
const bValue = keyBytes.map((B): KeyValue => ({ B }));
const valueOfType = (t: 'S' | 'N' | 'B'): fc.Arbitrary<KeyValue> => (t === 'S' ? sValue : t === 'N' ? nValue : bValue);
const keyType = fc.constantFrom<'S' | 'N' | 'B'>('S', 'N', 'B');

/**
 * Two values of one type that are close: one extends the other (a string and its extension, a
 * number and the same digits with more after them) or differs in its last unit. Independent random
 * values almost never are, and that is where an encoding's end marker decides the order.
 */
function closeValues(t: 'S' | 'N' | 'B'): fc.Arbitrary<[KeyValue, KeyValue]> {
  if (t === 'S') return fc.tuple(keyString, fc.string({ unit: trickyChar, maxLength: 3 })).map(([a, x]) => [{ S: a }, { S: a + x }]);
  if (t === 'B') return fc.tuple(keyBytes, fc.uint8Array({ maxLength: 3 })).map(([a, x]) => [{ B: a }, { B: Uint8Array.from([...a, ...x]) }]);
  return fc
    .tuple(numberParts, fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 4 }))
    .map(([p, extra, form]) => {
      const longer = (p.digits + extra.join('')).slice(0, 38).replace(/0+$/, '');
      return [{ N: spell(p) }, { N: spell({ ...p, digits: longer, form }) }];
    });
}

/** Two keys of one table: a schema (partition type, optional sort type), then two keys of it. */
const twoKeysOfATable = fc
  .tuple(keyType, fc.option(keyType, { nil: undefined }))
  .chain(([pt, st]) =>
    fc
      .tuple(
        // The second key often shares the first's partition (undefined), so sort-key order is
        // exercised, or has a close one ("a" and "a\0"), so partition ends are.
        fc.oneof(
          fc.tuple(valueOfType(pt), fc.constant(undefined)),
          fc.tuple(valueOfType(pt), valueOfType(pt)),
          closeValues(pt),
          closeValues(pt).map(([a, b]): [KeyValue, KeyValue] => [b, a]),
        ),
        st === undefined ? fc.constant(undefined) : valueOfType(st),
        st === undefined ? fc.constant(undefined) : valueOfType(st),
      )
      .map(([[p1, p2], s1, s2]) => [p1, s1, p2, s2] as const),
  );

/** What a decoded value must equal: S and B as given, N canonical (checked against the oracle separately). */
function sameValue(decoded: KeyValue, original: KeyValue): boolean {
  if ('S' in original) return 'S' in decoded && decoded.S === original.S;
  if ('B' in original) return 'B' in decoded && Buffer.from(decoded.B).equals(Buffer.from(original.B));
  return 'N' in decoded && compareExact(exact(decoded.N), exact(original.N)) === 0;
}

const CANONICAL_NUMBER = /^(0|-?(0\.\d*[1-9]|[1-9]\d*(\.\d*[1-9])?))$/;

// ---- Properties --------------------------------------------------------------------------------

describe('key-codec order', () => {
  it('memcmp of one encoded value is DynamoDB order, for each type', () => {
    fc.assert(
      fc.property(
        keyType.chain((t) => fc.oneof(fc.tuple(valueOfType(t), valueOfType(t)), closeValues(t), closeValues(t).map(([a, b]): [KeyValue, KeyValue] => [b, a]))),
        ([a, b]) => {
          assert.equal(memcmp(encodeKey(a), encodeKey(b)), sign(oracle(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
        },
      ),
      fcOptions,
    );
  });

  it('memcmp of encodeKey(partition, sort) is partition order, then sort order', () => {
    fc.assert(
      fc.property(twoKeysOfATable, ([p1, s1, p2Maybe, s2]) => {
        const p2 = p2Maybe ?? p1;
        const expected = oracle(p1, p2) !== 0 ? sign(oracle(p1, p2)) : s1 === undefined || s2 === undefined ? 0 : sign(oracle(s1, s2));
        assert.equal(memcmp(encodeKey(p1, s1), encodeKey(p2, s2)), expected);
      }),
      fcOptions,
    );
  });

  it('sorting encodings sorts a whole partition by sort key', () => {
    fc.assert(
      fc.property(
        keyType.chain((t) => fc.tuple(valueOfType(t), fc.array(nValue, { minLength: 2, maxLength: 30 }))),
        ([partition, sorts]) => {
          const byCodec = [...sorts].sort((a, b) => Buffer.compare(encodeKey(partition, a), encodeKey(partition, b)));
          for (let i = 1; i < byCodec.length; i++) assert.ok(oracle(byCodec[i - 1]!, byCodec[i]!) <= 0);
        },
      ),
      { ...fcOptions, numRuns: 200 },
    );
  });

  it('orders by UTF-8 bytes, not by UTF-16 code units as JavaScript < does', () => {
    const high = { S: '\uffff' };
    const astral = { S: '\u{1f600}' };
    assert.ok(astral.S < high.S, 'JavaScript puts the surrogate pair first');
    assert.equal(memcmp(encodeKey(high), encodeKey(astral)), -1);
  });

  it('equal numbers spelled differently encode identically', () => {
    const spellings = ['1.50', '15E-1', '+0001.5000', '.15e1', '150e-2'];
    const first = encodeKey({ N: spellings[0]! });
    for (const text of spellings) assert.deepEqual(encodeKey({ N: text }), first, text);
    for (const text of ['0', '-0', '0e1000', '0.000', '+.0']) assert.deepEqual(encodeKey({ N: text }), encodeKey({ N: '0' }), text);
  });
});

describe('key-codec round trip and partition range', () => {
  it('decodeKey(encodeKey(p, s)) gives back p and s (N canonical), and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(twoKeysOfATable, ([p, s]) => {
        const bytes = encodeKey(p, s);
        const decoded = decodeKey(bytes);
        assert.ok(sameValue(decoded.partition, p));
        assert.equal(decoded.sort === undefined, s === undefined);
        if (s !== undefined) assert.ok(sameValue(decoded.sort!, s));
        for (const v of [decoded.partition, decoded.sort]) {
          if (v !== undefined && 'N' in v) assert.match(v.N, CANONICAL_NUMBER);
        }
        assert.deepEqual(encodeKey(decoded.partition, decoded.sort), bytes);
      }),
      fcOptions,
    );
  });

  it('canonical numbers read back as they are', () => {
    fc.assert(
      fc.property(numberText, (text) => {
        const canonical = canonicalNumber(text);
        assert.match(canonical, CANONICAL_NUMBER);
        assert.equal(compareExact(exact(canonical), exact(text)), 0);
        assert.equal(canonicalNumber(canonical), canonical);
      }),
      fcOptions,
    );
  });

  it('partitionPrefix holds exactly the keys of its partition', () => {
    fc.assert(
      fc.property(twoKeysOfATable, ([p1, s1, p2Maybe, s2]) => {
        const { start, end } = partitionPrefix(p1);
        const inRange = (k: Uint8Array): boolean => Buffer.compare(start, k) <= 0 && Buffer.compare(k, end) < 0;
        assert.ok(inRange(encodeKey(p1)));
        assert.ok(inRange(encodeKey(p1, s1)));
        const p2 = p2Maybe ?? p1;
        assert.equal(inRange(encodeKey(p2, s2)), oracle(p1, p2) === 0);
      }),
      fcOptions,
    );
  });

  it('sortKeyPrefixRange holds exactly the keys of its partition whose sort key begins with the prefix', () => {
    const startsWith = (value: Uint8Array, prefix: Uint8Array): boolean => Buffer.from(value.subarray(0, prefix.length)).equals(Buffer.from(prefix));
    fc.assert(
      fc.property(
        fc.constantFrom<'S' | 'B'>('S', 'B').chain((t) => fc.tuple(fc.constant(t), valueOfType(t), closeValues(t), fc.boolean())),
        sValue,
        fc.option(sValue, { nil: undefined }),
        ([t, sort, [shortValue, longValue], flip], partition, otherPartition) => {
          // The prefix is often a real prefix of the sort key (closeValues), sometimes not.
          const prefixValue = flip ? longValue : shortValue;
          const prefix = 'S' in prefixValue ? prefixValue : (prefixValue as { B: Uint8Array });
          const { start, end } = sortKeyPrefixRange(partition, prefix);
          const bytesOf = (v: KeyValue): Uint8Array => ('S' in v ? Buffer.from(v.S, 'utf8') : 'B' in v ? v.B : new Uint8Array(0));
          for (const candidate of [sort, shortValue, longValue]) {
            const key = encodeKey(otherPartition ?? partition, candidate);
            const inRange = Buffer.compare(start, key) <= 0 && Buffer.compare(key, end) < 0;
            const expected = (otherPartition === undefined || oracle(otherPartition, partition) === 0) && startsWith(bytesOf(candidate), bytesOf(prefixValue));
            assert.equal(inRange, expected, `${t} ${JSON.stringify(candidate)} begins_with ${JSON.stringify(prefixValue)}`);
          }
        },
      ),
      fcOptions,
    );
  });

  it('arbitrary bytes either decode to a key that encodes back to them, or are refused with KEY_CORRUPT', () => {
    const tagged = fc.tuple(fc.constantFrom(0x42, 0x4e, 0x53), fc.uint8Array({ maxLength: 24 })).map(([t, rest]) => Uint8Array.from([t, ...rest]));
    const numberish = fc
      .tuple(fc.constantFrom(1, 2, 3), fc.integer({ min: 0, max: 255 }), fc.array(fc.integer({ min: 0, max: 102 }), { maxLength: 22 }))
      .map(([c, e, pairs]) => Uint8Array.from([0x4e, c, e, ...pairs]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 24 }), tagged, numberish), (bytes) => {
        let decoded;
        try {
          decoded = decodeKey(bytes);
        } catch (error) {
          assert.ok(error instanceof KeyCodecError && error.code === 'KEY_CORRUPT', String(error));
          return;
        }
        assert.deepEqual(encodeKey(decoded.partition, decoded.sort), bytes);
      }),
      { ...fcOptions, numRuns: 5000 },
    );
  });
});

describe('key-codec validation', () => {
  it('accepts the number spellings DynamoDB accepts', () => {
    const cases: Array<[string, string]> = [
      ['3', '3'],
      ['-7.1234', '-7.1234'],
      ['-17e5', '-1700000'],
      ['-17.4E37', `-174${'0'.repeat(36)}`],
      ['+3', '3'],
      ['.123', '0.123'],
      ['5.', '5'],
      ['0001.23', '1.23'],
      ['1e+5', '100000'],
      ['0e1000', '0'],
      ['-0', '0'],
      ['1E-130', `0.${'0'.repeat(129)}1`],
      ['9.9999999999999999999999999999999999999E+125', `${'9'.repeat(38)}${'0'.repeat(88)}`],
      ['3.1415926535897932384626433832795028841', '3.1415926535897932384626433832795028841'],
      ['31415926535897932384626433832795028841e30', `31415926535897932384626433832795028841${'0'.repeat(30)}`],
      // Trailing zeros are not significant digits, however many are written.
      [`1.${'0'.repeat(60)}`, '1'],
      [`1${'0'.repeat(125)}`, `1${'0'.repeat(125)}`],
      ['1e-00000000000000000000000000000000000000000000000000005', '0.00001'],
    ];
    for (const [text, canonical] of cases) assert.equal(canonicalNumber(text), canonical, text);
  });

  it('refuses malformed numbers with NUMBER_MALFORMED', () => {
    const bad = ['NaN', 'Infinity', '-Infinity', '-NaN', 'dog', '-dog', ' 1', '1 ', '', '.', '-', '+', 'e5', '1e', '1e+', '--1', '+-1', '0x10', '1_000', '1,5', '1.2.3', '\u0661', '１', '1e5.5', '1 e5', 'Infinity1'];
    for (const text of bad) assert.equal(codeOf(() => canonicalNumber(text)), 'NUMBER_MALFORMED', JSON.stringify(text));
    assert.equal(codeOf(() => canonicalNumber('0'.repeat(1024))), 'none');
    assert.equal(codeOf(() => canonicalNumber('0'.repeat(1025))), 'NUMBER_MALFORMED');
    assert.equal(codeOf(() => canonicalNumber('1'.repeat(10_000_000))), 'NUMBER_MALFORMED');
  });

  it('refuses more than 38 significant digits, and magnitudes outside 1E-130..9.99..E+125', () => {
    const cases: Array<[string, KeyCodecErrorCode]> = [
      ['3.14159265358979323846264338327950288419', 'NUMBER_TOO_PRECISE'],
      ['314159265358979323846.264338327950288419', 'NUMBER_TOO_PRECISE'],
      ['314159265358979323846264338327950288419e30', 'NUMBER_TOO_PRECISE'],
      ['1.00000000000000000000000000000000000001', 'NUMBER_TOO_PRECISE'],
      ['1e126', 'NUMBER_OVERFLOW'],
      ['11e125', 'NUMBER_OVERFLOW'],
      ['-1e126', 'NUMBER_OVERFLOW'],
      [`1${'0'.repeat(126)}`, 'NUMBER_OVERFLOW'],
      ['1e99999999999999999999999', 'NUMBER_OVERFLOW'],
      ['1e-131', 'NUMBER_UNDERFLOW'],
      ['0.9e-130', 'NUMBER_UNDERFLOW'],
      ['-0.9e-130', 'NUMBER_UNDERFLOW'],
      ['1e-99999999999999999999999', 'NUMBER_UNDERFLOW'],
    ];
    for (const [text, code] of cases) assert.equal(codeOf(() => encodeKey({ N: text })), code, text);
    // The limits themselves are in range.
    for (const text of ['1e125', '-1e125', '1e-130', '9.9999999999999999999999999999999999999e125', '0e99999999999999999999']) {
      assert.equal(codeOf(() => encodeKey({ N: text })), 'none', text);
    }
  });

  it('applies DynamoDB key sizes: 1..2048 bytes for a partition key, 1..1024 for a sort key', () => {
    const p = { S: 'p' };
    assert.equal(codeOf(() => encodeKey({ S: 'x'.repeat(PARTITION_KEY_BYTES_MAX) })), 'none');
    assert.equal(codeOf(() => encodeKey({ S: 'é'.repeat(PARTITION_KEY_BYTES_MAX / 2) })), 'none');
    assert.equal(codeOf(() => encodeKey({ S: 'é'.repeat(PARTITION_KEY_BYTES_MAX / 2) + 'x' })), 'KEY_TOO_LONG');
    assert.equal(codeOf(() => encodeKey({ B: new Uint8Array(PARTITION_KEY_BYTES_MAX + 1) })), 'KEY_TOO_LONG');
    assert.equal(codeOf(() => encodeKey(p, { S: 'x'.repeat(SORT_KEY_BYTES_MAX) })), 'none');
    assert.equal(codeOf(() => encodeKey(p, { S: 'x'.repeat(SORT_KEY_BYTES_MAX + 1) })), 'KEY_TOO_LONG');
    assert.equal(codeOf(() => encodeKey(p, { B: new Uint8Array(SORT_KEY_BYTES_MAX + 1) })), 'KEY_TOO_LONG');
    assert.equal(codeOf(() => encodeKey({ S: '' })), 'KEY_EMPTY');
    assert.equal(codeOf(() => encodeKey(p, { B: new Uint8Array(0) })), 'KEY_EMPTY');
    assert.equal(codeOf(() => encodeKey({ S: 'a\ud800b' })), 'KEY_NOT_UTF8');
    assert.equal(codeOf(() => encodeKey(p, { S: '\udc00' })), 'KEY_NOT_UTF8');
    assert.equal(codeOf(() => encodeKey({ BOOL: true } as unknown as KeyValue)), 'KEY_TYPE');
    assert.equal(codeOf(() => encodeKey({ N: 5 } as unknown as KeyValue)), 'KEY_TYPE');
    assert.equal(codeOf(() => encodeKey(null as unknown as KeyValue)), 'KEY_TYPE');
  });

  it('ENCODED_KEY_BYTES_MAX is the longest encoding', () => {
    const longest = encodeKey({ B: new Uint8Array(PARTITION_KEY_BYTES_MAX) }, { B: new Uint8Array(SORT_KEY_BYTES_MAX) });
    assert.equal(longest.length, ENCODED_KEY_BYTES_MAX);
    assert.deepEqual(decodeKey(longest).sort, { B: new Uint8Array(SORT_KEY_BYTES_MAX) });
  });

  it('refuses bytes encodeKey never writes', () => {
    const cases: number[][] = [
      [],
      [0x53],
      [0x53, 0x61],
      [0x53, 0x00, 0x00], // empty string
      [0x53, 0x61, 0x00, 0x02], // bad escape
      [0x53, 0xff, 0x00, 0x00], // not UTF-8
      [0x53, 0x61, 0x00, 0x00, 0x00], // a third value's start, not a value
      [0x53, 0x61, 0x00, 0x00, 0x4e, 0x02, 0x4e, 0x02], // three values
      [0x4e, 0x04],
      [0x4e, 0x03, 0x80],
      [0x4e, 0x03, 0x80, 0x00], // no digits
      [0x4e, 0x03, 0x80, 0x01, 0x00], // first digit 0 ("00")
      [0x4e, 0x03, 0x80, 0x0b, 0x01, 0x00], // last pair "00"
      [0x4e, 0x03, 0x80, 0x66, 0x00], // pair above 100
      [0x4e, 0x01, 0x80, 0x00, 0x65], // negative pair byte 0
      [0x4e, 0x03, 0x80, ...new Array<number>(20).fill(0x0c), 0x00], // 40 digits
      [0x58, 0x00, 0x00],
    ];
    for (const bytes of cases) assert.equal(codeOf(() => decodeKey(Uint8Array.from(bytes))), 'KEY_CORRUPT', JSON.stringify(bytes));
  });
});
