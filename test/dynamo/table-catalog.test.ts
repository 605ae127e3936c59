// Shows that a stored table definition survives the round trip through its bytes, that every
// definition CreateTable accepts decodes again (key attribute names of 255 characters of any
// width included), that decodeTable treats stored bytes as hostile (a bad name, id, key type,
// creation time or size is an InternalServerError DynamoError, never another exception), and that
// resolveTable picks the earliest definition (by creation time, then id) whatever the order of
// the siblings, ignoring tombstones.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DynamoError } from '../../src/dynamo/errors.ts';
import { TABLE_CONTENT_TYPE } from '../../src/dynamo/item-record.ts';
import { decodeTable, encodeTable, resolveDefinition, resolveTable, TableCatalog, type StoredTable } from '../../src/dynamo/table-catalog.ts';
import type { NodeFrontDoor } from '../../src/node/front-door.ts';
import { parseCreateTable, schemaOfCreateTable } from '../../src/dynamo/table-requests.ts';
import type { Sibling } from '../../src/version/siblings.ts';
import { EMPTY_CLOCK } from '../../src/version/vclock.ts';

const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`table-catalog.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
// Every assert.ok in a property carries a message (without one node:assert parses this file's
// source on each failure, which stalls shrinking).
const fcOptions = { seed, numRuns: 300 };

const enc = (x: unknown): Uint8Array => Buffer.from(JSON.stringify(x), 'utf8');
const DEFINITION_BYTES_MAX = 4 * 1024;

function corrupt(f: () => unknown, why?: RegExp, what = ''): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, `expected a DynamoError, got ${String(e)} ${what}`);
    assert.equal(e.type, 'InternalServerError', `${e.message} ${what}`);
    if (why !== undefined) assert.match(e.message, why, what);
    return true;
  }, what);
}

const sibling = (value: Uint8Array | null, counter = 1): Sibling => ({ dot: { node: 'n1', counter, timeMs: 0 }, context: EMPTY_CLOCK, value, contentType: TABLE_CONTENT_TYPE });

// ---- Arbitraries -------------------------------------------------------------------------------

const chars = (alphabet: string, min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((cs) => cs.join(''));
const tableName = fc.oneof(chars('abcXYZ019_.-', 3, 12), chars('a', 255, 255));
const tableId = chars('abcdefghijklmnopqrstuvwxyz234567', 16, 16);
const keyName = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  // The longest names CreateTable accepts: 255 characters, of one to six bytes of JSON each.
  fc.constantFrom('k'.repeat(255), 'é'.repeat(255), '\u0001'.repeat(255), '"'.repeat(255), '\u{1f600}'.repeat(127), '__proto__'),
);
const keyType = fc.constantFrom<'S' | 'N' | 'B'>('S', 'N', 'B');
const table: fc.Arbitrary<StoredTable> = fc
  .record({
    name: tableName,
    id: tableId,
    hashKey: fc.record({ name: keyName, type: keyType }),
    rangeKey: fc.option(fc.record({ name: keyName, type: keyType }), { nil: undefined }),
    createdAtMs: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom(0, Number.MAX_SAFE_INTEGER)),
  })
  .map(({ rangeKey, hashKey, ...rest }) => {
    const base: StoredTable = { ...rest, hashKey: { ...hashKey }, status: 'ACTIVE' };
    return rangeKey === undefined ? base : { ...base, rangeKey: { ...rangeKey } };
  });

// ---- Round trip --------------------------------------------------------------------------------

describe('encodeTable and decodeTable', () => {
  it('round-trip any definition, within DEFINITION_BYTES_MAX', () => {
    fc.assert(
      fc.property(table, (t) => {
        const bytes = encodeTable(t);
        assert.ok(bytes.length <= DEFINITION_BYTES_MAX, `${bytes.length} bytes`);
        assert.deepEqual(decodeTable(bytes), t);
      }),
      fcOptions,
    );
  });

  it('decode every definition CreateTable accepts: key names of 255 characters of any width', () => {
    // CreateTable holds key attribute names to 255 characters (as DynamoDB's API does), not bytes.
    for (const [hash, range] of [['é'.repeat(255), '\u{10ffff}'.repeat(127)], ['\u0001'.repeat(255), '"'.repeat(255)], ['中'.repeat(255), 'x']] as const) {
      const op = parseCreateTable({
        TableName: 'x'.repeat(255),
        AttributeDefinitions: [{ AttributeName: hash, AttributeType: 'S' }, { AttributeName: range, AttributeType: 'B' }],
        KeySchema: [{ AttributeName: hash, KeyType: 'HASH' }, { AttributeName: range, KeyType: 'RANGE' }],
        BillingMode: 'PAY_PER_REQUEST',
      });
      const stored: StoredTable = { ...schemaOfCreateTable(op, 1_700_000_000_000), id: 'abcdefghijklmnop' };
      const bytes = encodeTable(stored);
      assert.ok(bytes.length <= DEFINITION_BYTES_MAX, `${bytes.length} bytes`);
      assert.deepEqual(decodeTable(bytes), stored, `${Buffer.byteLength(hash)}-byte hash key name`);
    }
  });

  it('decode a view into a larger buffer', () => {
    const t: StoredTable = { name: 'Music', id: 'abcdefghijklmnop', hashKey: { name: 'a', type: 'S' }, createdAtMs: 5, status: 'ACTIVE' };
    const bytes = encodeTable(t);
    const padded = Buffer.concat([Buffer.from('[[['), bytes, Buffer.from('}}}')]);
    assert.deepEqual(decodeTable(new Uint8Array(padded.buffer, padded.byteOffset + 3, bytes.length)), t);
  });
});

// ---- Hostile definitions -----------------------------------------------------------------------

describe('decodeTable refuses hostile definitions', () => {
  const good = { v: 1, name: 'Music', id: 'abcdefghijklmnop', hash: { name: 'Artist', type: 'S' }, range: { name: 'Song', type: 'N' }, createdAtMs: 1_700_000_000_000 };

  it('accepts the good one', () => {
    assert.deepEqual(decodeTable(enc(good)), {
      name: 'Music', id: 'abcdefghijklmnop', hashKey: { name: 'Artist', type: 'S' }, rangeKey: { name: 'Song', type: 'N' }, createdAtMs: 1_700_000_000_000, status: 'ACTIVE',
    });
    assert.equal(decodeTable(enc({ ...good, range: null })).rangeKey, undefined);
  });

  it('not JSON, not an object', () => {
    for (const raw of ['', '{', 'NaN', '{"v":1,}']) corrupt(() => decodeTable(Buffer.from(raw)), /not JSON/, raw);
    corrupt(() => decodeTable(Uint8Array.of(0xff, 0x00)), /not JSON/);
    for (const raw of [null, 1, 'Music', true]) corrupt(() => decodeTable(enc(raw)), /not an object/, JSON.stringify(raw));
    corrupt(() => decodeTable(enc([good])), /bad fields/);
  });

  it('a bad version', () => {
    for (const v of [0, 2, '1', null, undefined]) corrupt(() => decodeTable(enc({ ...good, v })), /bad fields/, String(v));
  });

  it('a bad name', () => {
    for (const name of ['ab', 'x'.repeat(256), 'has space', 'slash/', 'ünï', '', 5, null, ['Music'], undefined]) {
      corrupt(() => decodeTable(enc({ ...good, name })), /bad fields/, JSON.stringify(name));
    }
  });

  it('a bad id', () => {
    for (const id of ['abcdefghijklmno', 'abcdefghijklmnopq', 'ABCDEFGHIJKLMNOP', 'abcdefghijklmno1', 'abcdefghijklmno8', '../../etc/passwdx', 16, null, undefined]) {
      corrupt(() => decodeTable(enc({ ...good, id })), /bad fields/, JSON.stringify(id));
    }
  });

  it('bad key attributes: types, names, shapes', () => {
    const badKeys: unknown[] = [
      { name: 'a', type: 'SS' }, { name: 'a', type: 'BOOL' }, { name: 'a', type: 's' }, { name: 'a', type: null }, { name: 'a' }, { type: 'S' }, { name: '', type: 'S' },
      { name: 5, type: 'S' }, { name: 'x'.repeat(256), type: 'S' }, 'S', null, [], ['a', 'S'], undefined,
    ];
    for (const k of badKeys) {
      corrupt(() => decodeTable(enc({ ...good, hash: k })), /bad fields/, `hash ${JSON.stringify(k)}`);
      if (k !== null) corrupt(() => decodeTable(enc({ ...good, range: k })), /bad range key/, `range ${JSON.stringify(k)}`);
    }
  });

  it('a bad creation time', () => {
    for (const createdAtMs of [-1, 1.5, 2 ** 53, '1', null, undefined, [1]]) corrupt(() => decodeTable(enc({ ...good, createdAtMs })), /bad creation time/, JSON.stringify(createdAtMs));
    corrupt(() => decodeTable(Buffer.from(JSON.stringify(good).replace('1700000000000', '1e400'))), /bad creation time/);
  });

  it('too large, refused unread', () => {
    const json = JSON.stringify(good);
    const atMax = Buffer.alloc(DEFINITION_BYTES_MAX, 0x20);
    atMax.write(json, 0, 'utf8');
    assert.equal(decodeTable(atMax).name, 'Music');
    const over = Buffer.alloc(DEFINITION_BYTES_MAX + 1, 0x20);
    over.write(json, 0, 'utf8');
    corrupt(() => decodeTable(over), /too large/);
  });

  it('random mutations: a checked definition or an InternalServerError, nothing else', () => {
    const field = fc.constantFrom('v', 'name', 'id', 'hash', 'range', 'createdAtMs');
    const mutation = fc.oneof(
      fc.tuple(field, fc.jsonValue({ maxDepth: 3 })).map(([f, x]) => (r: Record<string, unknown>) => ({ ...r, [f]: x })),
      field.map((f) => (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== f))),
      fc.tuple(fc.constantFrom('hash', 'range'), fc.constantFrom('name', 'type'), fc.jsonValue({ maxDepth: 2 })).map(([k, f, x]) => (r: Record<string, unknown>) => ({
        ...r,
        [k]: { ...(r[k] as object), [f]: x },
      })),
      fc.tuple(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })).map(([k, x]) => (r: Record<string, unknown>) => ({ ...r, [k]: x })),
    );
    const byteMutation = fc.oneof(
      fc.nat().map((at) => (b: Buffer) => b.subarray(0, at % (b.length + 1))),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, x]) => (b: Buffer) => {
        const c = Buffer.from(b);
        if (c.length > 0) c[at % c.length] = x;
        return c;
      }),
    );
    const hostile = fc.oneof(
      fc.tuple(table, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.array(byteMutation, { maxLength: 2 })).map(([t, ms, bms]) => {
        let raw = JSON.parse(Buffer.from(encodeTable(t)).toString('utf8')) as Record<string, unknown>;
        for (const m of ms) raw = m(raw);
        let b: Buffer = Buffer.from(JSON.stringify(raw), 'utf8');
        for (const m of bms) b = m(b);
        return b;
      }),
      fc.jsonValue({ maxDepth: 3 }).map((x) => Buffer.from(JSON.stringify(x) ?? '', 'utf8')),
      fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(hostile, (bytes) => {
        let t: StoredTable;
        try {
          t = decodeTable(bytes);
        } catch (e) {
          assert.ok(e instanceof DynamoError && e.type === 'InternalServerError', `not an InternalServerError: ${String(e)} for ${bytes.toString('utf8').slice(0, 200)}`);
          return;
        }
        assert.match(t.name, /^[a-zA-Z0-9_.-]{3,255}$/);
        assert.match(t.id, /^[a-z2-7]{16}$/);
        for (const k of t.rangeKey === undefined ? [t.hashKey] : [t.hashKey, t.rangeKey]) {
          assert.ok(['S', 'N', 'B'].includes(k.type) && typeof k.name === 'string' && k.name.length >= 1 && k.name.length <= 255, `key ${JSON.stringify(k)}`);
        }
        assert.ok(Number.isSafeInteger(t.createdAtMs) && t.createdAtMs >= 0, `createdAtMs ${t.createdAtMs}`);
        assert.deepEqual(decodeTable(encodeTable(t)), t);
      }),
      { ...fcOptions, numRuns: 1000 },
    );
  });
});

// ---- resolveTable ------------------------------------------------------------------------------

describe('resolveTable', () => {
  const def = (createdAtMs: number, id: string, hash = 'h'): StoredTable => ({ name: 'Music', id, hashKey: { name: hash, type: 'S' }, createdAtMs, status: 'ACTIVE' });

  it('picks the earliest definition (creation time, then id), whatever the order of siblings; tombstones lose', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.constantFrom('aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc', '2222222222222222')), {
          minLength: 1, maxLength: 6, selector: ([t, id]) => `${t}/${id}`,
        }),
        fc.integer({ min: 0, max: 2 }),
        fc.nat(),
        (defs, tombstones, rotation) => {
          const siblings = [...defs.map(([t, id], i) => sibling(encodeTable(def(t, id)), i + 1)), ...Array.from({ length: tombstones }, (_, i) => sibling(null, 50 + i))];
          const r = rotation % siblings.length;
          const rotated = [...siblings.slice(r), ...siblings.slice(0, r)];
          const [t, id] = [...defs].sort(([t1, i1], [t2, i2]) => t1 - t2 || (i1 < i2 ? -1 : i1 > i2 ? 1 : 0))[0]!;
          assert.deepEqual(resolveTable(rotated), def(t, id));
          assert.deepEqual(resolveTable([...rotated].reverse()), def(t, id));
        },
      ),
      fcOptions,
    );
  });

  it('hand-picked: earlier time wins over a smaller id; equal times fall to the smaller id', () => {
    const early = def(10, 'zzzzzzzzzzzzzzzz');
    const late = def(11, 'aaaaaaaaaaaaaaaa');
    assert.deepEqual(resolveTable([sibling(encodeTable(late)), sibling(encodeTable(early), 2)]), early);
    const x = def(10, 'bbbbbbbbbbbbbbbb');
    const y = def(10, '2222222222222222');
    assert.deepEqual(resolveTable([sibling(encodeTable(x)), sibling(encodeTable(y), 2)]), y);
    assert.deepEqual(resolveTable([sibling(encodeTable(y)), sibling(encodeTable(x), 2)]), y);
  });

  it('nothing, or only tombstones: no table', () => {
    assert.equal(resolveTable([]), undefined);
    assert.equal(resolveTable([sibling(null), sibling(null, 2)]), undefined);
  });

  it('a corrupt sibling is an InternalServerError', () => {
    corrupt(() => resolveTable([sibling(encodeTable(def(1, 'aaaaaaaaaaaaaaaa'))), sibling(Buffer.from('{"v":1}'), 2)]), /bad fields/);
  });
});

describe('deletion markers (second review M-b, M-c)', () => {
  const base: StoredTable = { name: 'Tbl', id: 'aaaaaaaaaaaaaaaa', hashKey: { name: 'k', type: 'S' }, createdAtMs: 1_000, status: 'ACTIVE' };
  const marker = (deletedAtMs: number): StoredTable => ({ ...base, deletedAtMs });
  const table = (id: string, createdAtMs: number): StoredTable => ({ ...base, id, createdAtMs });

  it('a table created after a concurrent marker\'s deletion beats it; one created before loses; tables alone: the earliest', () => {
    assert.equal(resolveTable([sibling(encodeTable(marker(5_000))), sibling(encodeTable(table('bbbbbbbbbbbbbbbb', 6_000)), 2)])?.id, 'bbbbbbbbbbbbbbbb');
    assert.equal(resolveTable([sibling(encodeTable(marker(5_000))), sibling(encodeTable(table('bbbbbbbbbbbbbbbb', 4_000)), 2)]), undefined);
    assert.equal(resolveTable([sibling(encodeTable(table('cccccccccccccccc', 7_000))), sibling(encodeTable(table('bbbbbbbbbbbbbbbb', 6_000)), 2)])?.id, 'bbbbbbbbbbbbbbbb');
    assert.equal(resolveDefinition([sibling(encodeTable(marker(5_000))), sibling(encodeTable(marker(9_000)), 2)])?.deletedAtMs, 9_000);
  });

  it('a marker from a clock far ahead delays re-creation by RECREATE_AFTER_DELETE_MS at most, from this node\'s now', async () => {
    const now = 1_000_000;
    let stored: StoredTable = marker(now + 365 * 24 * 3600 * 1000);
    const front = {
      get: async () => ({ siblings: [sibling(encodeTable(stored))], context: 'ctx' }),
      put: async (w: { value: Uint8Array }) => {
        stored = decodeTable(w.value);
        return 'ctx2';
      },
    } as unknown as NodeFrontDoor;
    const catalog = new TableCatalog(front, () => 0, () => now);
    const attempt = catalog.create(table('dddddddddddddddd', now), 'exists');
    await assert.rejects(attempt, (e: DynamoError) => e.type === 'ResourceInUseException' && /again in 10 s/.test(e.message));
    assert.equal(stored.deletedAtMs, now, 'the marker restarted from this node\'s now');
  });
});
