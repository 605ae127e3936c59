// Shows that a stored item survives the round trip through its bytes, that decodeStoredItem treats
// stored bytes as hostile (anything it cannot vouch for is an InternalServerError DynamoError,
// never another exception, never a half-checked item), that every item PutItem may store decodes
// again (the JSON of a 400 KB item can be several times its size), that the hybrid clock's stamps
// only go up whatever the wall clock does and pass every stamp observed, and that resolveItem
// picks the live version with the greatest stamp.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ITEM_BYTES_MAX, itemSizeBytes, itemToWire, parseItem, type Item, type WireAttributeValue } from '../../src/dynamo/attribute-value.ts';
import { canonicalNumber } from '../../src/dynamo/decimal.ts';
import { DynamoError } from '../../src/dynamo/errors.ts';
import {
  compactNumber, compareStamps, decodeStoredItem, encodeStoredItem, HybridClock, ITEM_CONTENT_TYPE, ITEM_VALUE_BYTES_MAX, resolveItem, type Stamp, type StoredItem,
} from '../../src/dynamo/item-record.ts';
import { EMPTY_CLOCK } from '../../src/version/vclock.ts';
import type { Sibling } from '../../src/version/siblings.ts';
import { RECORD_BYTES_MAX } from '../../src/version/record-codec.ts';

const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`item-record.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
// Every assert.ok in a property carries a message (without one node:assert parses this file's
// source on each failure, which stalls shrinking).
const fcOptions = { seed, numRuns: 300 };

const COUNTER_MAX = 2 ** 31;
const enc = (x: unknown): Uint8Array => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x), 'utf8');
const wireJson = (item: Item): string => JSON.stringify(itemToWire(item));

/** `f` throws an InternalServerError DynamoError (whose message matches `why`, if given). */
function corrupt(f: () => unknown, why?: RegExp, what = ''): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, `expected a DynamoError, got ${String(e)} ${what}`);
    assert.equal(e.type, 'InternalServerError', `${e.message} ${what}`);
    assert.equal(e.status, 500);
    if (why !== undefined) assert.match(e.message, why, what);
    return true;
  }, what);
}

// ---- Arbitraries -------------------------------------------------------------------------------

const text = fc.string({ unit: 'binary', maxLength: 8 });
const numberText = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.tuple(fc.integer({ min: -999, max: 999 }), fc.nat({ max: 9999 }), fc.integer({ min: -100, max: 100 })).map(([i, f, e]) => `${i}.${f}E${e}`),
  fc.constantFrom('1E-130', '-9.9999999999999999999999999999999999999E+125', '12345678901234567890123456789012345678', '0.5'),
);
const base64 = fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('base64'));
const nonEmptyBase64 = fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => Buffer.from(b).toString('base64'));
const wireValue: fc.Arbitrary<WireAttributeValue> = fc.letrec<{ value: WireAttributeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text.map((S) => ({ S })),
    numberText.map((N) => ({ N })),
    base64.map((B) => ({ B })),
    fc.boolean().map((BOOL) => ({ BOOL })),
    fc.constant({ NULL: true as const }),
    fc.array(tie('value'), { maxLength: 4 }).map((L) => ({ L })),
    fc.array(fc.tuple(text, tie('value')), { maxLength: 4 }).map((entries) => ({ M: Object.fromEntries(entries) })),
    fc.uniqueArray(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
    fc.uniqueArray(numberText, { minLength: 1, maxLength: 4, selector: (n) => canonicalNumber(n) }).map((NS) => ({ NS })),
    fc.uniqueArray(nonEmptyBase64, { minLength: 1, maxLength: 4 }).map((BS) => ({ BS })),
  ),
})).value;
// Names include `__proto__` and `constructor`: items are Maps, their wire form null-prototype objects.
const attributeName = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'k'));
const item: fc.Arbitrary<Item> = fc
  .array(fc.tuple(attributeName, wireValue), { minLength: 1, maxLength: 6 })
  .map((entries) => {
    const wire = Object.create(null) as Record<string, WireAttributeValue>;
    for (const [name, v] of entries) wire[name] = v;
    return parseItem(wire);
  });
const stamp: fc.Arbitrary<Stamp> = fc.record({
  wall: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom(0, Number.MAX_SAFE_INTEGER)),
  counter: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, COUNTER_MAX - 1)),
  node: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/), fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }).filter((s) => s.length <= 64)),
});

function sibling(value: Uint8Array | null, counter = 1): Sibling {
  return { dot: { node: 'n1', counter, timeMs: 0 }, context: EMPTY_CLOCK, value, contentType: ITEM_CONTENT_TYPE };
}

// ---- Round trip --------------------------------------------------------------------------------

describe('encodeStoredItem and decodeStoredItem', () => {
  it('round-trip any item and stamp', () => {
    fc.assert(
      fc.property(item, stamp, (i, s) => {
        const decoded = decodeStoredItem(encodeStoredItem({ item: i, stamp: s }));
        assert.deepEqual(decoded.stamp, { ...s });
        assert.equal(wireJson(decoded.item), wireJson(i));
        assert.deepEqual([...decoded.item.keys()], [...i.keys()]);
      }),
      fcOptions,
    );
  });

  it('decode a view into a larger buffer (byteOffset honoured)', () => {
    const stored: StoredItem = { item: parseItem({ k: { S: 'v' }, n: { N: '1.5' }, b: { B: 'AAEC' } }), stamp: { wall: 5, counter: 2, node: 'n2' } };
    const bytes = encodeStoredItem(stored);
    const padded = Buffer.concat([Buffer.from('garbage{['), bytes, Buffer.from(']]junk')]);
    const view = new Uint8Array(padded.buffer, padded.byteOffset + 9, bytes.length);
    const decoded = decodeStoredItem(view);
    assert.deepEqual(decoded.stamp, stored.stamp);
    assert.equal(wireJson(decoded.item), wireJson(stored.item));
  });

  it('every item of at most ITEM_BYTES_MAX decodes, however large its JSON', () => {
    // The JSON of an item can be several times its size: a control character is 1 byte of a
    // string and 6 of JSON ("\u0001"), an empty string in a list 1 byte and 9 of JSON. Such
    // items are legal and PutItem stores them; reading them back must not call them corrupt.
    const stamp0 = { wall: 1, counter: 0, node: 'n1' };
    const controls = parseItem({ k: { S: 'x' }, v: { S: '\u0001'.repeat(ITEM_BYTES_MAX - 3) } });
    const emptyStrings = parseItem({ k: { S: 'x' }, l: { L: Array.from({ length: ITEM_BYTES_MAX - 3 - 3 - 1 }, () => ({ S: '' })) } });
    const nulls = parseItem({ k: { S: 'x' }, l: { L: Array.from({ length: Math.floor((ITEM_BYTES_MAX - 6) / 2) }, () => ({ NULL: true as const })) } });
    for (const [what, it] of [['control characters', controls], ['empty strings', emptyStrings], ['NULLs', nulls]] as const) {
      assert.ok(itemSizeBytes(it) <= ITEM_BYTES_MAX, what);
      const bytes = encodeStoredItem({ item: it, stamp: stamp0 });
      assert.ok(bytes.length > 2 * 1024 * 1024, `${what}: ${bytes.length} bytes of JSON`);
      assert.ok(bytes.length <= RECORD_BYTES_MAX, `${what}: a coordinator stores it`);
      const decoded = decodeStoredItem(bytes);
      assert.equal(itemSizeBytes(decoded.item), itemSizeBytes(it), what);
    }
  });

  it('accept every value a coordinator may store, and refuse larger ones unread', () => {
    assert.ok(ITEM_VALUE_BYTES_MAX >= RECORD_BYTES_MAX, 'ITEM_VALUE_BYTES_MAX >= RECORD_BYTES_MAX');
    const json = JSON.stringify({ v: 1, t: [1, 0], n: 'n1', i: { k: { S: 'x' } } });
    const atMax = Buffer.alloc(ITEM_VALUE_BYTES_MAX, 0x20);
    atMax.write(json, 0, 'utf8');
    assert.equal(decodeStoredItem(atMax).stamp.wall, 1);
    const over = Buffer.alloc(ITEM_VALUE_BYTES_MAX + 1, 0x20);
    over.write(json, 0, 'utf8');
    corrupt(() => decodeStoredItem(over), /too large/);
  });
});

// ---- Hostile bytes -----------------------------------------------------------------------------

describe('decodeStoredItem refuses hostile bytes', () => {
  const good = { v: 1, t: [1_700_000_000_000, 3], n: 'n1', i: { k: { S: 'x' } } };

  it('not JSON, or JSON that is not an object', () => {
    for (const raw of ['', '{', 'NaN', '{"v":1,"t":[NaN,0],"n":"a","i":{}}', 'undefined', "{'v':1}", '\uFEFF{}']) corrupt(() => decodeStoredItem(enc(raw)), /not JSON/, raw);
    corrupt(() => decodeStoredItem(Uint8Array.of(0xff, 0xfe, 0x00, 0x7b)), /not JSON/);
    for (const raw of [[], [good], null, 1, 'x', true]) corrupt(() => decodeStoredItem(enc(JSON.stringify(raw))), /not an object/, JSON.stringify(raw));
  });

  it('a wrong or missing version', () => {
    for (const v of [0, 2, '1', 1.5, null, [1], undefined]) corrupt(() => decodeStoredItem(enc({ ...good, v })), /unknown version/, String(v));
  });

  it('a bad stamp: negative, fractional, huge, non-numeric, misshapen', () => {
    const bad: unknown[] = [
      [-1, 0], [0, -1], [1.5, 0], [0, 0.5], [2 ** 53, 0], [0, COUNTER_MAX], [0, 2 ** 53], ['1', 0], [0, '1'], [null, 0], [0, true], [1], [1, 2, 3], [], {}, 'x',
      [1e400, 0], [0, -1e400], [[1], 0],
    ];
    for (const t of bad) corrupt(() => decodeStoredItem(enc({ ...good, t })), /bad stamp/, JSON.stringify(t));
    corrupt(() => decodeStoredItem(enc('{"v":1,"t":[1e400,0],"n":"a","i":{"k":{"S":"x"}}}')), /bad stamp/, 'Infinity');
    const { t: _t, ...noStamp } = good;
    corrupt(() => decodeStoredItem(enc(noStamp)), /bad stamp/);
    // The edges that are fine.
    assert.deepEqual(decodeStoredItem(enc({ ...good, t: [Number.MAX_SAFE_INTEGER, COUNTER_MAX - 1] })).stamp, { wall: Number.MAX_SAFE_INTEGER, counter: COUNTER_MAX - 1, node: 'n1' });
    assert.deepEqual(decodeStoredItem(enc({ ...good, t: [0, 0] })).stamp, { wall: 0, counter: 0, node: 'n1' });
  });

  it('a bad node', () => {
    for (const n of ['', 'x'.repeat(65), 5, null, ['n1'], { id: 'n1' }, undefined]) corrupt(() => decodeStoredItem(enc({ ...good, n })), /bad node/, JSON.stringify(n));
    assert.equal(decodeStoredItem(enc({ ...good, n: 'x'.repeat(64) })).stamp.node, 'x'.repeat(64));
  });

  it('an item that a client could not have written', () => {
    const deep = (levels: number): unknown => {
      let v: unknown = { S: 'leaf' };
      for (let i = 1; i < levels; i++) v = { L: [v] };
      return v;
    };
    const bad: unknown[] = [
      undefined, null, [], 'x', 1, { k: null }, { k: {} }, { k: { X: 'y' } }, { k: { S: 1 } }, { k: { S: 'a', N: '1' } }, { k: { N: 'abc' } }, { k: { N: '1e400' } },
      { k: { B: 'not base64!' } }, { k: { BOOL: 'true' } }, { k: { NULL: false } }, { k: { SS: [] } }, { k: { SS: ['a', 'a'] } }, { k: { NS: ['1', '1.0'] } },
      { k: { L: {} } }, { k: { M: [] } }, { '': { S: 'x' } }, { k: { S: '\ud800' } }, { k: deep(33) }, { k: { S: 'x'.repeat(ITEM_BYTES_MAX) } },
    ];
    for (const i of bad) corrupt(() => decodeStoredItem(enc({ ...good, i })), /bad item/, JSON.stringify(i)?.slice(0, 80));
    // 32 levels is DynamoDB's limit and is fine.
    assert.equal(decodeStoredItem(enc({ ...good, i: { k: deep(32) } })).item.size, 1);
  });

  it('deeply nested JSON is refused, not a stack overflow', () => {
    const depth = 100_000;
    corrupt(() => decodeStoredItem(enc(`{"v":1,"t":[1,0],"n":"a","i":{"k":${'{"L":['.repeat(depth)}${']}'.repeat(depth)}}}`)), /bad item/);
    corrupt(() => decodeStoredItem(enc('['.repeat(depth) + ']'.repeat(depth))), /not an object/);
  });

  it('random mutations of a good record: a checked StoredItem or an InternalServerError, nothing else', () => {
    const field = fc.constantFrom('v', 't', 'n', 'i');
    const stampPart = fc.oneof(
      fc.integer(), fc.double(), fc.constantFrom(-1, 2 ** 31, 2 ** 53, -0, 0.5, Number.MAX_SAFE_INTEGER, 1e308), fc.string({ maxLength: 3 }), fc.constant(null),
    );
    const objectMutation = fc.oneof(
      fc.tuple(field, fc.jsonValue({ maxDepth: 3 })).map(([f, x]) => (r: Record<string, unknown>) => ({ ...r, [f]: x })),
      field.map((f) => (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== f))),
      fc.array(stampPart, { maxLength: 3 }).map((t) => (r: Record<string, unknown>) => ({ ...r, t })),
      fc.tuple(attributeName, fc.jsonValue({ maxDepth: 3 })).map(([name, x]) => (r: Record<string, unknown>) => ({ ...r, i: { ...(r.i as object), [name]: x } })),
      fc.tuple(attributeName, wireValue).map(([name, x]) => (r: Record<string, unknown>) => ({ ...r, i: { ...(r.i as object), [name]: x } })),
      fc.tuple(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })).map(([k, x]) => (r: Record<string, unknown>) => ({ ...r, [k]: x })),
      fc.constant((r: Record<string, unknown>) => [r]),
    );
    const byteMutation = fc.oneof(
      fc.nat().map((at) => (b: Buffer) => b.subarray(0, at % (b.length + 1))),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, x]) => (b: Buffer) => {
        const c = Buffer.from(b);
        if (c.length > 0) c[at % c.length] = x;
        return c;
      }),
      fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([at, x]) => (b: Buffer) => Buffer.concat([b.subarray(0, at % (b.length + 1)), x, b.subarray(at % (b.length + 1))])),
    );
    const hostile = fc.oneof(
      fc.tuple(item, stamp, fc.array(objectMutation, { minLength: 1, maxLength: 3 }), fc.array(byteMutation, { maxLength: 2 })).map(([i, s, objs, bytes]) => {
        let raw: unknown = JSON.parse(Buffer.from(encodeStoredItem({ item: i, stamp: s })).toString('utf8'));
        for (const m of objs) raw = Array.isArray(raw) ? raw : m(raw as Record<string, unknown>);
        let b: Buffer = Buffer.from(JSON.stringify(raw) ?? '', 'utf8');
        for (const m of bytes) b = m(b);
        return b;
      }),
      fc.jsonValue({ maxDepth: 4 }).map((x) => Buffer.from(JSON.stringify(x) ?? '', 'utf8')),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(hostile, (bytes) => {
        let decoded: StoredItem;
        try {
          decoded = decodeStoredItem(bytes);
        } catch (e) {
          assert.ok(e instanceof DynamoError && e.type === 'InternalServerError', `not an InternalServerError: ${String(e)} for ${bytes.toString('utf8').slice(0, 200)}`);
          return;
        }
        // What decodes is a checked item and stamp, and encodes back to something that decodes the same.
        const { wall, counter, node } = decoded.stamp;
        assert.ok(Number.isSafeInteger(wall) && wall >= 0, `wall ${wall}`);
        assert.ok(Number.isSafeInteger(counter) && counter >= 0 && counter < COUNTER_MAX, `counter ${counter}`);
        assert.ok(typeof node === 'string' && node.length >= 1 && node.length <= 64, `node ${node}`);
        assert.ok(decoded.item instanceof Map && itemSizeBytes(decoded.item) <= ITEM_BYTES_MAX, 'a checked item');
        const again = decodeStoredItem(encodeStoredItem(decoded));
        assert.equal(wireJson(again.item), wireJson(decoded.item));
        assert.equal(compareStamps(again.stamp, decoded.stamp), 0, 'same stamp');
      }),
      { ...fcOptions, numRuns: 1000 },
    );
  });
});

// ---- HybridClock -------------------------------------------------------------------------------

describe('HybridClock', () => {
  type Step = { readonly kind: 'next'; readonly now: number } | { readonly kind: 'observe'; readonly stamp: Stamp };
  const nowValue = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_050 }) },
    { weight: 1, arbitrary: fc.double({ min: 1_700_000_000_000, max: 1_700_000_000_050, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 60, -0) },
  );
  const observed: fc.Arbitrary<Stamp> = fc.record({
    wall: fc.integer({ min: 1_700_000_000_000 - 10, max: 1_700_000_000_080 }),
    counter: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(COUNTER_MAX - 2, COUNTER_MAX - 1)),
    node: fc.constantFrom('a', 'n1', 'zz'),
  });
  const steps = fc.array(
    fc.oneof(
      { weight: 3, arbitrary: nowValue.map((now): Step => ({ kind: 'next', now })) },
      { weight: 1, arbitrary: observed.map((stamp): Step => ({ kind: 'observe', stamp })) },
    ),
    { maxLength: 40 },
  );

  it('issues strictly increasing stamps above every stamp observed, following the wall clock when it is ahead', () => {
    fc.assert(
      fc.property(steps, (ss) => {
        let now = 0;
        const clock = new HybridClock('n1', () => now);
        let last: Stamp | undefined;
        let highest: Stamp | undefined; // greatest stamp issued or observed
        for (const step of ss) {
          if (step.kind === 'observe') {
            clock.observe(step.stamp);
            if (highest === undefined || compareStamps(step.stamp, highest) > 0) highest = step.stamp;
            continue;
          }
          now = step.now;
          const s = clock.next();
          assert.equal(s.node, 'n1');
          assert.ok(Number.isSafeInteger(s.wall) && s.wall >= 0, `wall ${s.wall}`);
          assert.ok(Number.isSafeInteger(s.counter) && s.counter >= 0 && s.counter < COUNTER_MAX, `counter ${s.counter}`);
          if (last !== undefined) assert.ok(compareStamps(s, last) > 0, `${JSON.stringify(s)} after ${JSON.stringify(last)}`);
          if (highest !== undefined) assert.ok(compareStamps(s, highest) > 0, `${JSON.stringify(s)} not above ${JSON.stringify(highest)}`);
          const wallNow = Math.floor(now);
          // (A new clock starts at wall 0.)
          if (Number.isSafeInteger(wallNow) && wallNow > (highest?.wall ?? 0)) {
            assert.deepEqual(s, { wall: wallNow, counter: 0, node: 'n1' }, 'follows a wall clock that is ahead');
          }
          // Every stamp issued is one decodeStoredItem accepts.
          assert.deepEqual(decodeStoredItem(encodeStoredItem({ item: parseItem({ k: { S: 'x' } }), stamp: s })).stamp, s);
          last = s;
          highest = s;
        }
      }),
      fcOptions,
    );
  });

  it('keeps going up when the wall clock goes back or stops', () => {
    let now = 1_000;
    const clock = new HybridClock('n1', () => now);
    assert.deepEqual(clock.next(), { wall: 1_000, counter: 0, node: 'n1' });
    assert.deepEqual(clock.next(), { wall: 1_000, counter: 1, node: 'n1' });
    now = 400;
    assert.deepEqual(clock.next(), { wall: 1_000, counter: 2, node: 'n1' });
    now = 1_001.9;
    assert.deepEqual(clock.next(), { wall: 1_001, counter: 0, node: 'n1' });
  });

  it('observe() makes next() exceed the observed stamp, even one from the future or at the counter\'s end', () => {
    const clock = new HybridClock('a', () => 1_000);
    clock.observe({ wall: 5_000, counter: 7, node: 'zzz' });
    const s = clock.next();
    assert.deepEqual(s, { wall: 5_000, counter: 8, node: 'a' });
    clock.observe({ wall: 6_000, counter: COUNTER_MAX - 1, node: 'b' });
    assert.deepEqual(clock.next(), { wall: 6_001, counter: 0, node: 'a' });
    // An older stamp changes nothing.
    clock.observe({ wall: 10, counter: 0, node: 'z' });
    assert.deepEqual(clock.next(), { wall: 6_001, counter: 1, node: 'a' });
    // Same wall and counter, a greater node: the next stamp still wins.
    const c2 = new HybridClock('a', () => 0);
    c2.observe({ wall: 50, counter: 3, node: 'zzzz' });
    assert.ok(compareStamps(c2.next(), { wall: 50, counter: 3, node: 'zzzz' }) > 0, 'above a stamp of a greater node');
  });

  it('compareStamps orders by wall, then counter, then node', () => {
    const sorted: Stamp[] = [
      { wall: 1, counter: 5, node: 'z' }, { wall: 2, counter: 0, node: 'a' }, { wall: 2, counter: 1, node: 'a' }, { wall: 2, counter: 1, node: 'b' }, { wall: 3, counter: 0, node: '' },
    ];
    for (let i = 0; i < sorted.length; i++) {
      for (let j = 0; j < sorted.length; j++) assert.equal(Math.sign(compareStamps(sorted[i]!, sorted[j]!)), Math.sign(i - j), `${i} vs ${j}`);
    }
  });
});

// ---- resolveItem -------------------------------------------------------------------------------

describe('resolveItem', () => {
  const version = (n: number, s: Stamp): Uint8Array => encodeStoredItem({ item: parseItem({ k: { S: 'x' }, n: { N: String(n) } }), stamp: s });
  const valueOf = (v: { current: StoredItem | undefined }): string | undefined => {
    const n = v.current?.item.get('n');
    return n?.type === 'N' ? n.value : undefined;
  };

  it('picks the live version with the greatest stamp, in any sibling order; tombstones lose to any live version', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ wall: fc.integer({ min: 0, max: 5 }), counter: fc.integer({ min: 0, max: 3 }), node: fc.constantFrom('a', 'b') }), {
          minLength: 1, maxLength: 6, selector: (s) => `${s.wall}/${s.counter}/${s.node}`,
        }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        (stamps, tombstones, rotation) => {
          const live = stamps.map((s, i) => sibling(version(i, s), i + 1));
          const dead = Array.from({ length: tombstones }, (_, i) => sibling(null, 100 + i));
          const all = [...live, ...dead];
          const order = [...all.slice(rotation % all.length), ...all.slice(0, rotation % all.length)];
          let best = 0;
          stamps.forEach((s, i) => { if (compareStamps(s, stamps[best]!) > 0) best = i; });
          const r = resolveItem(order);
          assert.equal(valueOf(r), String(best));
          assert.deepEqual(r.newest, { ...stamps[best]! });
          assert.deepEqual(resolveItem([...order].reverse()).current?.stamp, { ...stamps[best]! });
        },
      ),
      fcOptions,
    );
  });

  it('is absent for no siblings and for tombstones only', () => {
    assert.deepEqual(resolveItem([]), { current: undefined, newest: undefined });
    assert.deepEqual(resolveItem([sibling(null), sibling(null, 2)]), { current: undefined, newest: undefined });
  });

  it('a tombstone next to an older live version: the live version (a delete does not beat a write it did not see)', () => {
    const r = resolveItem([sibling(null, 9), sibling(version(1, { wall: 1, counter: 0, node: 'a' }), 1)]);
    assert.equal(valueOf(r), '1');
  });

  it('a corrupt sibling is an InternalServerError', () => {
    corrupt(() => resolveItem([sibling(version(1, { wall: 1, counter: 0, node: 'a' })), sibling(enc('{"v":9}'), 2)]), /unknown version/);
  });
});

describe('numbers are stored compactly', () => {
  it('a legal item of large-exponent numbers stores in about its DynamoDB size, and reads back equal (fails before: 18.4 MB, RECORD_TOO_LARGE)', () => {
    const item = parseItem({ k: { S: 'x' }, l: { L: Array.from({ length: 136_000 }, () => ({ N: '1E+125' })) }, s: { NS: ['-1.5E-100', '12345678901234567890123456789012345678E+80', '0', '10'] } });
    assert.ok(itemSizeBytes(item) <= ITEM_BYTES_MAX, 'a legal item');
    const bytes = encodeStoredItem({ item, stamp: { wall: 1, counter: 0, node: 'a' } });
    assert.ok(bytes.length < 2 * 1024 * 1024, `stored in ${bytes.length} bytes`);
    assert.deepEqual(itemToWire(decodeStoredItem(bytes).item), itemToWire(item));
  });

  it('compactNumber keeps the value and never lengthens the text', () => {
    for (const text of ['0', '1', '-1', '10', '1E+125', '1.5', '-0.000001', '123456789012345678901234567890123456780000', '9.99E-130']) {
      const compact = compactNumber(canonicalNumber(text));
      assert.equal(canonicalNumber(compact), canonicalNumber(text), text);
      assert.ok(compact.length <= canonicalNumber(text).length, text);
    }
  });
});

describe('a version that does not decode, with a reporter', () => {
  it('is reported and left out, so the rest still resolves (fails before: the key could not be read, written or deleted)', () => {
    const reported: string[] = [];
    const good = sibling(encodeStoredItem({ item: parseItem({ k: { S: 'x' } }), stamp: { wall: 5, counter: 0, node: 'a' } }));
    const r = resolveItem([good, sibling(enc('{"v":9}'), 2)], (e) => reported.push(e.message));
    assert.deepEqual(r.current?.stamp, { wall: 5, counter: 0, node: 'a' });
    assert.equal(reported.length, 1);
    assert.match(reported[0]!, /unknown version/);
  });
});
