// The record codec at its boundary: records come back from disk and over the wire, so every
// malformed shape is a RecordCorruptError with a message saying which (never a crash, never a
// half-read record), and EncodedRecord decodes received bytes once, lazily, reporting corruption
// as false from decoded() and as RECORD_CORRUPT from siblings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { decodeRecord, EncodedRecord, encodeRecord, RecordCorruptError, siblingFromWire, siblingToWire } from '../../src/version/record-codec.ts';
import { COUNTER_MAX } from '../../src/version/vclock.ts';
import type { Sibling } from '../../src/version/siblings.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const sibling: Sibling = {
  dot: { node: 'n1#abcdefghij', counter: 7, timeMs: 1_000 },
  context: [{ node: 'n2#abcdefghij', counter: 3, timeMs: 900 }],
  value: Buffer.from('v'),
  contentType: 'text/plain',
};
const corrupt = (wire: unknown) => () => decodeRecord(packr.pack(wire));

describe('record codec', () => {
  it('names what is wrong with a record of another shape', () => {
    assert.throws(() => decodeRecord(encodeRecord([sibling]).subarray(0, 5)), (e: unknown) => e instanceof RecordCorruptError && /does not decode/.test(e.message));
    for (const wire of [{ a: 1 }, [2, []], [1, {}], 'text', [1]]) {
      assert.throws(corrupt(wire), (e: unknown) => e instanceof RecordCorruptError && e.message === 'record has an unknown format', JSON.stringify(wire));
    }
    assert.throws(corrupt([1, [[1, 2]]]), (e: unknown) => e instanceof RecordCorruptError && e.message === 'record holds a malformed sibling');
  });

  it('refuses siblings with a bad actor, counter, time, context, value or content type', () => {
    const good = siblingToWire(sibling);
    assert.deepEqual(siblingFromWire(good), sibling);
    const bad: Array<[string, unknown[]]> = [
      ['short', good.slice(0, 5)],
      ['actor', ['n1#short', ...good.slice(1)]],
      ['actor breaking the id rule', ['n 1', ...good.slice(1)]],
      ['counter 0', [good[0], 0, ...good.slice(2)]],
      ['counter past COUNTER_MAX', [good[0], COUNTER_MAX + 1, ...good.slice(2)]],
      ['fractional counter', [good[0], 1.5, ...good.slice(2)]],
      ['NaN time', [good[0], good[1], Number.NaN, ...good.slice(3)]],
      ['time as a string', [good[0], good[1], '1', ...good.slice(3)]],
      ['context not a list', [...good.slice(0, 3), {}, ...good.slice(4)]],
      ['context entry of 2', [...good.slice(0, 3), [['n2#abcdefghij', 3]], ...good.slice(4)]],
      ['value as a string', [...good.slice(0, 4), 'v', good[5]]],
      ['content type not a string', [...good.slice(0, 5), 1]],
    ];
    for (const [what, wire] of bad) assert.equal(siblingFromWire(wire), undefined, what);
    assert.equal(siblingFromWire({ length: 6 }), undefined);
    // The top counter itself and a tombstone are fine.
    assert.ok(siblingFromWire([good[0], COUNTER_MAX, ...good.slice(2)]));
    assert.ok(siblingFromWire([...good.slice(0, 4), null, '']));
  });

  it('EncodedRecord: encodes once from siblings, decodes received bytes lazily and once', () => {
    const built = EncodedRecord.of([sibling]);
    assert.deepEqual(decodeRecord(built.bytes), [sibling]);
    assert.equal(built.decoded(), true);
    assert.deepEqual(built.siblings, [sibling]);

    const bytes = encodeRecord([sibling]);
    const known = EncodedRecord.ofEncoded([sibling], bytes);
    assert.equal(known.bytes, bytes);
    assert.deepEqual(known.siblings, [sibling]);

    const received = EncodedRecord.received(bytes);
    assert.equal(received.decoded(), true);
    assert.deepEqual(received.siblings, [sibling]);
    // Decoded once: the siblings object is the same on every read.
    assert.equal(received.siblings, received.siblings);
    const lazy = EncodedRecord.received(bytes);
    assert.deepEqual(lazy.siblings, [sibling]);
    assert.equal(lazy.decoded(), true);
  });

  it('EncodedRecord: corrupt received bytes are false from decoded() and RECORD_CORRUPT from siblings', () => {
    const garbage = EncodedRecord.received(Buffer.from([0x93, 0x01]));
    assert.equal(garbage.decoded(), false);
    assert.equal(garbage.decoded(), false);
    assert.throws(() => garbage.siblings, { code: 'RECORD_CORRUPT' } as object);
    const wrongShape = EncodedRecord.received(packr.pack([1, [[1]]]));
    assert.equal(wrongShape.decoded(), false);
    assert.throws(() => wrongShape.siblings, /malformed sibling/);
  });
});
