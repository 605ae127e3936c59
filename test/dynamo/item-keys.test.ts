// Shows that item keys keep DynamoDB's order and placement: the sort key part compares as the
// sort key value does (S by UTF-8 bytes, B by bytes, a prefix first, N numerically) under plain
// string comparison, so LMDB's byte order is DynamoDB's order within a partition; orderedBase64 is
// base64 in an ascending alphabet; the largest keys fit the peer protocol's key limit; a
// partition's items share one ring position and tables never share one; partitionRange holds
// exactly the keys a sort key condition accepts (every match, for begins_with); tableItemsRange
// holds exactly one table's items. The oracles are compareScalars and sortKeyConditionHolds (the
// executor's own checks), and Node's base64 for orderedBase64.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { B, N, S, type AttributeValue, type ScalarType } from '../../src/dynamo/attribute-value.ts';
import { compareScalars, type SortKeyCondition } from '../../src/dynamo/expression-parser.ts';
import {
  isTableId, ITEM_KEY_BYTES_MAX, itemKey, justAfter, orderedBase64, partitionPart, partitionRange, SORT_KEY_CHARS_MAX, sortKeyPart, tableItemsRange, tableKey,
  tableKeysRange, tableNameOfKey,
} from '../../src/dynamo/item-keys.ts';
import { PARTITION_KEY_BYTES_MAX, SORT_KEY_BYTES_MAX } from '../../src/dynamo/key-codec.ts';
import { sortKeyConditionHolds } from '../../src/dynamo/query-requests.ts';
import { isValidKey, KEY_BYTES_MAX } from '../../src/protocol/messages.ts';
import { md5Position, placementText, ringPosition, Ring } from '../../src/ring/ring.ts';

const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`item-keys.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
const fcOptions = { seed, numRuns: 300 };
// Every assert.ok in a property carries a message: without one, node:assert reads and parses this
// file's source for each failure, which makes shrinking a failed property take many minutes.

const sign = (x: number): number => (x < 0 ? -1 : x > 0 ? 1 : 0);
const strcmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const ORDERED = /^[-0-9A-Z_a-z]*$/;
const inRange = (key: string, r: { readonly start: string; readonly end: string }): boolean => r.start <= key && key < r.end;
const show = (v: AttributeValue): string => (v.type === 'B' ? `B[${Buffer.from(v.value).toString('hex')}]` : `${v.type}:${JSON.stringify('value' in v ? v.value : null)}`);

// ---- Arbitraries -------------------------------------------------------------------------------

// NUL and 0x01 (low bytes), the UTF-8 vs UTF-16 split (U+FFFF is above a surrogate pair's code
// units in UTF-16 but below its bytes in UTF-8) and multi-byte sequences.
const trickyChar = fc.constantFrom('\0', '\x01', 'a', 'b', '\x7f', '\u0080', '\u07ff', '\ue000', '\uffff', '\u{1f600}', '\u{10ffff}');
const sText = fc.oneof(fc.string({ unit: trickyChar, minLength: 1, maxLength: 8 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }));
const bBytes = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => b.map((x) => [0x00, 0x01, 0xff, 0xfe, 0x7f, x][x % 6]!)),
  fc.uint8Array({ minLength: 1, maxLength: 14 }),
);
const digits = fc
  .array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 38 })
  .map((ds) => ds.join('').replace(/^0+/, '').replace(/0+$/, ''))
  .filter((d) => d.length > 0);
/** 0.digits x 10^exponent: 1-38 significant digits, exponents from 1E-130 to 9.99E+125. */
const numberParts = fc.record({
  negative: fc.boolean(),
  digits,
  exponent: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -129, max: 126 }), fc.constantFrom(-129, 126)),
});
const numberOf = (p: { negative: boolean; digits: string; exponent: number }): AttributeValue => N(`${p.negative ? '-' : ''}0.${p.digits}E${p.exponent}`);
const NINES = '9'.repeat(38);
const edgeNumbers = fc.constantFrom(
  '0', '-0', '1', '-1', '0.1', '-0.1', '10', '-10', '1E-130', '-1E-130', `0.${NINES}E126`, `-0.${NINES}E126`, `0.${NINES}E-129`, `-0.${NINES}E-129`,
  '12345678901234567890123456789012345678', '-12345678901234567890123456789012345678', '1E+125', '-1E+125', '1.0000000000000000000000000000000000001',
);
const nValue = fc.oneof({ weight: 4, arbitrary: numberParts.map(numberOf) }, { weight: 1, arbitrary: edgeNumbers.map((t) => N(t)) });
const sValue = sText.map(S);
const bValue = bBytes.map(B);
const valueOf = (t: ScalarType): fc.Arbitrary<AttributeValue> => (t === 'S' ? sValue : t === 'N' ? nValue : bValue);
const scalarType = fc.constantFrom<ScalarType>('S', 'N', 'B');

/** Values close to `v`: equal, a prefix or an extension of it, its last unit one up or down (where order decisions are made). */
function near(v: AttributeValue): fc.Arbitrary<AttributeValue> {
  if (v.type === 'S') {
    const cps = [...v.value];
    return fc.oneof(
      fc.constant(v),
      fc.integer({ min: 1, max: cps.length }).map((k) => S(cps.slice(0, k).join(''))),
      fc.string({ unit: trickyChar, minLength: 1, maxLength: 3 }).map((x) => S(v.value + x)),
      fc.constantFrom(1, -1).map((d) => {
        const last = cps[cps.length - 1]!.codePointAt(0)!;
        const next = Math.min(0x10ffff, Math.max(0, last + d));
        return S(cps.slice(0, -1).join('') + String.fromCodePoint(next >= 0xd800 && next <= 0xdfff ? (d > 0 ? 0xe000 : 0xd7ff) : next));
      }),
    );
  }
  if (v.type === 'B') {
    const bytes = v.value;
    return fc.oneof(
      fc.constant(v),
      fc.integer({ min: 1, max: bytes.length }).map((k) => B(bytes.slice(0, k))),
      fc.uint8Array({ minLength: 1, maxLength: 3 }).map((x) => B(Uint8Array.from([...bytes, ...x]))),
      fc.constantFrom(1, -1).map((d) => {
        const copy = Uint8Array.from(bytes);
        copy[copy.length - 1] = Math.min(255, Math.max(0, copy[copy.length - 1]! + d));
        return B(copy);
      }),
    );
  }
  if (v.type === 'N') {
    const text = v.value;
    const negated = text.startsWith('-') ? text.slice(1) : text === '0' ? '0' : `-${text}`;
    return fc.oneof(
      fc.constant(v),
      fc.constant(N(negated)),
      // The same digits with one more after them (a longer digit string of the same exponent).
      fc.integer({ min: 1, max: 9 }).map((d) => {
        const significant = text.replace(/^-/, '').replace('.', '').replace(/^0+/, '');
        if (text === '0' || significant.length + 1 > 38) return v;
        return N(text.includes('.') ? `${text}${d}` : `${text}.${d}`);
      }),
    );
  }
  return fc.constant(v);
}

const twoValues = scalarType.chain((t) =>
  fc.oneof(
    fc.tuple(valueOf(t), valueOf(t)),
    valueOf(t).chain((a) => fc.tuple(fc.constant(a), near(a))),
    valueOf(t).chain((a) => fc.tuple(near(a), fc.constant(a))),
  ),
);

// Built from characters rather than fc.stringMatching, whose shrinking is slow enough to stall a failing run.
const tableId = fc.array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567'), { minLength: 16, maxLength: 16 }).map((cs) => cs.join(''));
const twoTableIds = fc.tuple(tableId, tableId).filter(([a, b]) => a !== b);
const partitionValue = scalarType.chain(valueOf);
const optionalSortValue = fc.option(scalarType.chain(valueOf), { nil: undefined });
const scalarTypeOf = (v: AttributeValue | undefined): ScalarType | undefined => (v === undefined ? undefined : (v.type as ScalarType));

// ---- sortKeyPart and orderedBase64 -------------------------------------------------------------

describe('sortKeyPart', () => {
  it('compares as DynamoDB compares the values (S: UTF-8 bytes, B: bytes, N: numbers), in the ordered alphabet', () => {
    fc.assert(
      fc.property(twoValues, ([a, b]) => {
        const ka = sortKeyPart(a);
        const kb = sortKeyPart(b);
        assert.match(ka, ORDERED);
        assert.match(kb, ORDERED);
        assert.equal(sign(strcmp(ka, kb)), sign(compareScalars(a, b)), `${show(a)} vs ${show(b)}: ${ka} vs ${kb}`);
      }),
      fcOptions,
    );
  });

  it('orders the item keys of one partition as their sort keys', () => {
    fc.assert(
      fc.property(tableId, partitionValue, twoValues, (id, p, [a, b]) => {
        assert.equal(sign(strcmp(itemKey(id, p, a), itemKey(id, p, b))), sign(compareScalars(a, b)), `${show(a)} vs ${show(b)}`);
      }),
      { ...fcOptions, numRuns: 100 },
    );
  });

  it('orders hand-picked numbers: negatives, zero, 38 digits and the extreme exponents', () => {
    const ascending = [
      `-0.${NINES}E126`, '-1E+125', '-12345678901234567890123456789012345678', '-10', '-1.0000000000000000000000000000000000001', '-1', '-0.5', '-0.1',
      `-0.${NINES}E-129`, '-1E-130', '0', '1E-130', `0.${NINES}E-129`, '0.1', '0.5', '1', '1.0000000000000000000000000000000000001', '10',
      '12345678901234567890123456789012345678', '1E+125', `0.${NINES}E126`,
    ].map((t) => N(t));
    const parts = ascending.map(sortKeyPart);
    for (let i = 1; i < parts.length; i++) {
      assert.ok(compareScalars(ascending[i - 1]!, ascending[i]!) < 0, `oracle: ${show(ascending[i - 1]!)} < ${show(ascending[i]!)}`);
      assert.ok(parts[i - 1]! < parts[i]!, `${show(ascending[i - 1]!)} (${parts[i - 1]}) < ${show(ascending[i]!)} (${parts[i]})`);
    }
    // Equal numbers spelled differently share one sort key part.
    assert.equal(sortKeyPart({ type: 'N', value: '1.50' }), sortKeyPart(N('1.5')));
    assert.equal(sortKeyPart({ type: 'N', value: '-0' }), sortKeyPart(N('0')));
  });

  it('orders strings by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FFFF is EF BF BF; U+1F600 is F0 9F 98 80, but its first UTF-16 unit 0xD83D is below 0xFFFF.
    assert.ok('\uffff' > '\u{1f600}', '\'\\uffff\' > \'\\u{1f600}\'');
    assert.ok(sortKeyPart(S('\uffff')) < sortKeyPart(S('\u{1f600}')), 'sortKeyPart(S(\'\\uffff\')) < sortKeyPart(S(\'\\u{1f600}\'))');
    assert.ok(sortKeyPart(S('a')) < sortKeyPart(S('a\0')), 'sortKeyPart(S(\'a\')) < sortKeyPart(S(\'a\\0\'))');
    assert.ok(sortKeyPart(B(Uint8Array.of(0xff))) < sortKeyPart(B(Uint8Array.of(0xff, 0x00))), 'sortKeyPart(B(Uint8Array.of(0xff))) < sortKeyPart(B(Uint8Array.of(0xff, 0x00)))');
  });

  it('refuses a non-key type', () => {
    assert.throws(() => sortKeyPart({ type: 'BOOL', value: true }), RangeError);
  });
});

/** Standard base64 (no padding) with its alphabet mapped onto the ordered one: an independent oracle. */
const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ORDERED_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const viaNodeBase64 = (bytes: Uint8Array): string =>
  [...Buffer.from(bytes).toString('base64').replace(/=+$/, '')].map((c) => ORDERED_ALPHABET[STANDARD.indexOf(c)]).join('');

describe('orderedBase64', () => {
  const anyBytes = fc.oneof(
    fc.uint8Array({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 12 }).map((b) => b.map((x) => [0x00, 0xff, 0x80, 0x7f, x][x % 5]!)),
  );
  const bytePair = fc.oneof(
    fc.tuple(anyBytes, anyBytes),
    fc.tuple(anyBytes, fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([a, x]) => [a, Uint8Array.from([...a, ...x])] as const),
    fc.tuple(anyBytes, fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([a, x]) => [Uint8Array.from([...a, ...x]), a] as const),
    fc.tuple(anyBytes.filter((a) => a.length > 0), fc.constantFrom(1, -1)).map(([a, d]) => {
      const b = Uint8Array.from(a);
      b[b.length - 1] = (b[b.length - 1]! + d + 256) % 256;
      return [a, b] as const;
    }),
  );

  it('compares as the bytes compare (a prefix first), is one-to-one, and is base64 in an ascending alphabet', () => {
    assert.equal([...ORDERED_ALPHABET].sort().join(''), ORDERED_ALPHABET);
    fc.assert(
      fc.property(bytePair, ([a, b]) => {
        const ea = orderedBase64(a);
        const eb = orderedBase64(b);
        const hex = `${Buffer.from(a).toString('hex')} vs ${Buffer.from(b).toString('hex')}`;
        assert.equal(sign(strcmp(ea, eb)), sign(Buffer.compare(a, b)), hex);
        assert.equal(ea, viaNodeBase64(a));
        assert.equal(ea.length, Math.ceil((a.length * 8) / 6));
      }),
      fcOptions,
    );
  });

  it('known answers', () => {
    assert.equal(orderedBase64(new Uint8Array(0)), '');
    assert.equal(orderedBase64(Uint8Array.of(0)), '--');
    assert.equal(orderedBase64(Uint8Array.of(0, 0, 0)), '----');
    assert.equal(orderedBase64(Uint8Array.of(0xff)), 'zk');
    assert.equal(orderedBase64(Uint8Array.of(0xff, 0xff, 0xff)), 'zzzz');
  });
});

// ---- sizes -------------------------------------------------------------------------------------

describe('itemKey sizes', () => {
  const id = 'abcdefghijklmnop';
  const longest = [
    S('x'.repeat(PARTITION_KEY_BYTES_MAX)),
    S('\u{10ffff}'.repeat(PARTITION_KEY_BYTES_MAX / 4)),
    B(new Uint8Array(PARTITION_KEY_BYTES_MAX).fill(0xff)),
    B(new Uint8Array(PARTITION_KEY_BYTES_MAX)),
    N(`-0.${'9'.repeat(38)}E126`),
  ];
  const longestSorts = [
    S('y'.repeat(SORT_KEY_BYTES_MAX)),
    S('\u{10ffff}'.repeat(SORT_KEY_BYTES_MAX / 4)),
    S('\u07ff'.repeat(SORT_KEY_BYTES_MAX / 2)),
    B(new Uint8Array(SORT_KEY_BYTES_MAX).fill(0xff)),
    B(new Uint8Array(SORT_KEY_BYTES_MAX)),
  ];

  it('the largest keys take exactly ITEM_KEY_BYTES_MAX bytes, within the peer protocol\'s KEY_BYTES_MAX', () => {
    assert.ok(ITEM_KEY_BYTES_MAX <= KEY_BYTES_MAX, `${ITEM_KEY_BYTES_MAX} > ${KEY_BYTES_MAX}`);
    assert.equal(SORT_KEY_CHARS_MAX, Math.ceil((SORT_KEY_BYTES_MAX * 4) / 3));
    for (const p of longest) {
      for (const s of longestSorts) {
        const key = itemKey(id, p, s);
        assert.equal(Buffer.byteLength(key, 'utf8'), ITEM_KEY_BYTES_MAX, `${p.type} partition, ${s.type} sort`);
        assert.equal(key.length, ITEM_KEY_BYTES_MAX, 'every character is one byte');
        assert.ok(isValidKey(key), 'a valid peer key');
      }
      // Numbers are far shorter: 38 digits take 19 bytes of key-codec bytes.
      for (const n of [N(`-0.${NINES}E126`), N(`0.${NINES}E-129`), N('-1E-130')]) {
        const key = itemKey(id, p, n);
        assert.ok(Buffer.byteLength(key, 'utf8') < ITEM_KEY_BYTES_MAX && isValidKey(key), `${p.type} partition, N sort`);
      }
      assert.ok(isValidKey(itemKey(id, p, undefined)), 'no sort key');
    }
  });

  it('every item key is at most ITEM_KEY_BYTES_MAX bytes, and one byte per character', () => {
    fc.assert(
      fc.property(tableId, partitionValue, optionalSortValue, (tid, p, s) => {
        const key = itemKey(tid, p, s);
        assert.equal(Buffer.byteLength(key, 'utf8'), key.length);
        assert.ok(key.length <= ITEM_KEY_BYTES_MAX, `${key.length} characters`);
      }),
      fcOptions,
    );
  });
});

// ---- placement ---------------------------------------------------------------------------------

describe('item placement', () => {
  it('every item of one partition has the partition\'s ring position (and preference list); other tables never share it', () => {
    const ring = Ring.of(['n1', 'n2', 'n3', 'n4', 'n5']);
    fc.assert(
      fc.property(
        twoTableIds,
        scalarType.chain((t) => fc.tuple(valueOf(t), fc.array(valueOf(t), { minLength: 1, maxLength: 5 }))),
        scalarType,
        ([a, b], [p, sorts], sortType) => {
          const part = partitionPart(a, p);
          const position = md5Position(part);
          const keys = [itemKey(a, p, undefined), ...sorts.map((s) => itemKey(a, p, s))];
          const range = partitionRange(a, p, sortType, undefined);
          for (const key of [...keys, range.start]) {
            assert.equal(placementText(key), part);
            assert.equal(ringPosition(key), position);
            assert.deepEqual(ring.preferenceList(key, 3), ring.preferenceList(part, 3));
          }
          const other = itemKey(b, p, sorts[0]);
          assert.notEqual(placementText(other), part);
          assert.notEqual(ringPosition(other), position);
        },
      ),
      { ...fcOptions, numRuns: 100 },
    );
  });

  it('equal partition values (numbers spelled differently) share one partition; different ones do not', () => {
    const id = 'abcdefghijklmnop';
    assert.equal(partitionPart(id, { type: 'N', value: '1.50' }), partitionPart(id, N('1.5')));
    assert.notEqual(partitionPart(id, S('1')), partitionPart(id, N('1')));
    assert.notEqual(partitionPart(id, S('1')), partitionPart(id, B(Buffer.from('1'))));
    assert.notEqual(partitionPart(id, S('a')), partitionPart(id, S('a\0')));
  });
});

// ---- partitionRange ----------------------------------------------------------------------------

type Scenario = { readonly type: ScalarType; readonly condition: SortKeyCondition; readonly values: readonly AttributeValue[] };

/** A comparison or BETWEEN on a sort key of `t`, and values around its operands. */
function comparisonScenario(t: ScalarType): fc.Arbitrary<Scenario> {
  const op = fc.constantFrom<'=' | '<' | '<=' | '>' | '>='>('=', '<', '<=', '>', '>=');
  const compare = fc.tuple(op, valueOf(t)).map(([o, value]): SortKeyCondition => ({ kind: 'compare', op: o, value }));
  const between = fc
    .oneof(fc.tuple(valueOf(t), valueOf(t)), valueOf(t).chain((a) => fc.tuple(fc.constant(a), near(a))))
    .map(([x, y]): SortKeyCondition => (compareScalars(x, y) <= 0 ? { kind: 'between', low: x, high: y } : { kind: 'between', low: y, high: x }));
  return fc.oneof(compare, between).chain((condition) => {
    const operands = condition.kind === 'compare' ? [condition.value] : condition.kind === 'between' ? [condition.low, condition.high] : [];
    return fc
      .tuple(fc.array(valueOf(t), { maxLength: 8 }), ...operands.map((o) => fc.array(near(o), { minLength: 1, maxLength: 6 })))
      .map((lists) => ({ type: t, condition, values: lists.flat() }));
  });
}

/** begins_with on an S or B sort key, prefixes often ending in 0xFF bytes (or all 0xFF), and values around them. */
function prefixScenario(t: 'S' | 'B'): fc.Arbitrary<Scenario> {
  const prefix: fc.Arbitrary<AttributeValue> =
    t === 'S'
      ? fc.oneof(sValue, fc.constantFrom(S('\u{10ffff}'), S('a\u{10ffff}'), S('\uffff'), S('\x7f')))
      : fc.oneof(
        bValue,
        fc.tuple(fc.uint8Array({ maxLength: 3 }), fc.integer({ min: 1, max: 3 })).map(([head, ffs]) => B(Uint8Array.from([...head, ...new Array<number>(ffs).fill(0xff)]))),
        fc.integer({ min: 1, max: 4 }).map((n) => B(new Uint8Array(n).fill(0xff))),
      );
  return prefix.chain((p) => {
    const bytes = p.type === 'S' ? Buffer.from(p.value, 'utf8') : (p as { value: Uint8Array }).value;
    const around: fc.Arbitrary<AttributeValue>[] = [
      near(p),
      fc.uint8Array({ minLength: 1, maxLength: 3 }).map((x) => (t === 'B' ? B(Uint8Array.from([...bytes, ...x])) : S((p as { value: string }).value + Buffer.from(x).toString('latin1')))),
    ];
    if (t === 'B') {
      // Just past every extension: the prefix with its last non-0xFF byte raised, and 0xFF runs.
      let end = bytes.length;
      while (end > 0 && bytes[end - 1] === 0xff) end--;
      if (end > 0) {
        const upper = Uint8Array.from(bytes.subarray(0, end));
        upper[end - 1]! += 1;
        around.push(fc.constant(B(upper)), fc.constant(B(bytes.subarray(0, end))));
      }
      around.push(fc.integer({ min: 1, max: 3 }).map((n) => B(Uint8Array.from([...bytes, ...new Array<number>(n).fill(0xff)]))));
    }
    return fc
      .tuple(fc.array(valueOf(t), { maxLength: 6 }), fc.array(fc.oneof(...around), { minLength: 1, maxLength: 10 }))
      .map(([random, close]) => ({ type: t, condition: { kind: 'begins_with', prefix: p } as SortKeyCondition, values: [...random, ...close] }));
  });
}

describe('partitionRange', () => {
  const check = (id: string, p: AttributeValue, other: AttributeValue, s: Scenario) => {
    const range = partitionRange(id, p, s.type, s.condition);
    const part = partitionPart(id, p);
    // Never outside the partition.
    const whole = partitionRange(id, p, s.type, undefined);
    assert.ok(whole.start <= range.start && range.end <= whole.end, 'inside the partition');
    for (const v of s.values) {
      const key = itemKey(id, p, v);
      assert.ok(inRange(key, whole), 'an item of the partition');
      const holds = sortKeyConditionHolds(s.condition, v);
      const contained = inRange(key, range);
      const what = `${JSON.stringify(s.condition, (_, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x))} on ${show(v)}`;
      if (s.condition.kind === 'begins_with') {
        if (holds) assert.ok(contained, `a match outside the range: ${what}`);
      } else {
        assert.equal(contained, holds, what);
      }
      // Another partition's or another table's item with this sort key is never in the range.
      assert.ok(!inRange(itemKey(id, other, v), range) || partitionPart(id, other) === part, 'another partition');
      assert.ok(!inRange(itemKey('zzzzzzzzzzzzzzzz', p, v), range) || id === 'zzzzzzzzzzzzzzzz', 'another table');
    }
  };

  it('=, <, <=, >, >= and BETWEEN hold exactly the keys whose sort key satisfies the condition', () => {
    fc.assert(fc.property(tableId, partitionValue, partitionValue, scalarType.chain(comparisonScenario), check), fcOptions);
  });

  it('begins_with holds every key whose sort key starts with the prefix (prefixes ending in 0xFF bytes too)', () => {
    fc.assert(fc.property(tableId, partitionValue, partitionValue, fc.constantFrom<'S' | 'B'>('S', 'B').chain(prefixScenario), check), fcOptions);
  });

  it('hand-picked begins_with on B: 61 FF FF ends at 62, all-0xFF ends at the partition\'s end', () => {
    const id = 'abcdefghijklmnop';
    const p = S('p');
    const whole = partitionRange(id, p, 'B', undefined);
    const r = partitionRange(id, p, 'B', { kind: 'begins_with', prefix: B(Uint8Array.of(0x61, 0xff, 0xff)) });
    assert.equal(r.end, itemKey(id, p, B(Uint8Array.of(0x62))));
    assert.ok(inRange(itemKey(id, p, B(Uint8Array.of(0x61, 0xff, 0xff, 0xff, 0xff))), r), 'inRange(itemKey(id, p, B(Uint8Array.of(0x61, 0xff, 0xff, 0xff, 0xff))), r)');
    assert.ok(!inRange(itemKey(id, p, B(Uint8Array.of(0x61, 0xff, 0xfe, 0xff))), r), '!inRange(itemKey(id, p, B(Uint8Array.of(0x61, 0xff, 0xfe, 0xff))), r)');
    assert.ok(!inRange(itemKey(id, p, B(Uint8Array.of(0x62))), r), '!inRange(itemKey(id, p, B(Uint8Array.of(0x62))), r)');
    const all = partitionRange(id, p, 'B', { kind: 'begins_with', prefix: B(Uint8Array.of(0xff, 0xff)) });
    assert.equal(all.end, whole.end);
    assert.ok(inRange(itemKey(id, p, B(new Uint8Array(SORT_KEY_BYTES_MAX).fill(0xff))), all), 'inRange(itemKey(id, p, B(new Uint8Array(SORT_KEY_BYTES_MAX).fill(0xff))), all)');
    assert.ok(!inRange(itemKey(id, p, B(Uint8Array.of(0xff, 0xfe))), all), '!inRange(itemKey(id, p, B(Uint8Array.of(0xff, 0xfe))), all)');
  });

  it('without a condition (or a sort key) is the whole partition, the hash-only item included', () => {
    const id = 'abcdefghijklmnop';
    const p = N('7');
    const whole = partitionRange(id, p, undefined, undefined);
    assert.ok(inRange(itemKey(id, p, undefined), whole), 'inRange(itemKey(id, p, undefined), whole)');
    assert.deepEqual(partitionRange(id, p, undefined, { kind: 'compare', op: '<', value: N('1') }), whole);
    assert.ok(!inRange(itemKey(id, N('8'), undefined), whole), '!inRange(itemKey(id, N(\'8\'), undefined), whole)');
  });
});

// ---- tables ------------------------------------------------------------------------------------

describe('tableItemsRange and table keys', () => {
  const tableName = fc.array(fc.constantFrom(...'abcXYZ019_.-'), { minLength: 3, maxLength: 20 }).map((cs) => cs.join(''));

  it('holds every item key of its table and none of another table\'s or any definition', () => {
    fc.assert(
      fc.property(twoTableIds, partitionValue, optionalSortValue, tableName, ([a, b], p, s, name) => {
        const ra = tableItemsRange(a);
        const rb = tableItemsRange(b);
        assert.ok(inRange(itemKey(a, p, s), ra), 'own table');
        assert.ok(!inRange(itemKey(a, p, s), rb), 'not in another table\'s range');
        assert.ok(!inRange(itemKey(b, p, s), ra), 'another table\'s item');
        assert.ok(inRange(partitionRange(a, p, scalarTypeOf(s), undefined).start, ra) && partitionRange(a, p, scalarTypeOf(s), undefined).end <= ra.end, 'a partition inside its table');
        assert.ok(!inRange(tableKey(name), ra), 'a definition');
        assert.ok(inRange(tableKey(name), tableKeysRange()), 'a definition among definitions');
        assert.ok(!inRange(itemKey(a, p, s), tableKeysRange()), 'an item among definitions');
        assert.equal(tableNameOfKey(tableKey(name)), name);
        assert.equal(tableNameOfKey(itemKey(a, p, s)), undefined);
      }),
      fcOptions,
    );
  });

  it('isTableId holds for 16 characters of a-z and 2-7 only', () => {
    assert.ok(isTableId('abcdefghijklmnop'), 'isTableId(\'abcdefghijklmnop\')');
    assert.ok(isTableId('234567abcdefghij'), 'isTableId(\'234567abcdefghij\')');
    for (const bad of ['abcdefghijklmno', 'abcdefghijklmnopq', 'Abcdefghijklmnop', 'abcdefghijklmno1', 'abcdefghijklmno8', 'abcdefghijklmno/', '', 16, null, undefined]) {
      assert.equal(isTableId(bad), false, String(bad));
    }
  });

  it('justAfter is the least key above its argument', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (k, other) => {
        const after = justAfter(k);
        assert.ok(k < after, JSON.stringify(k));
        // No key lies strictly between k and justAfter(k).
        assert.ok(!(k < other && other < after), JSON.stringify([k, other]));
      }),
      { ...fcOptions, numRuns: 200 },
    );
  });
});
