// Shows the sibling semantics the API promises: a write with a context supersedes exactly the
// versions that context covers; blind writes through the same node stay siblings; deletes are
// tombstones that win over what they saw; and merging sibling sets is a join (the order in which
// replicas exchange versions never matters). Property tests print their seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { clockOf, covers, distinctValues, joinClocks, liveSiblings, mergeSiblings, type Sibling } from '../../src/version/siblings.ts';
import { EMPTY_CLOCK, type VClock } from '../../src/version/vclock.ts';
import { decodeRecord, encodeRecord } from '../../src/version/record-codec.ts';
import { testSeed } from '../support/seed.ts';

const seed = testSeed();
let nextCounter = 1;
function write(node: string, context: VClock, value: string | null): Sibling {
  return { dot: { node, counter: nextCounter++, timeMs: 1 }, context, value: value === null ? null : Buffer.from(value), contentType: 'text/plain' };
}
const values = (s: readonly Sibling[]) => liveSiblings(s).map((x) => Buffer.from(x.value!).toString()).sort();

describe('siblings (dotted version vectors)', () => {
  it('keeps blind writes through the same node as siblings', () => {
    const a = write('n1', EMPTY_CLOCK, 'a');
    const b = write('n1', EMPTY_CLOCK, 'b');
    assert.deepEqual(values(mergeSiblings([a], [b])), ['a', 'b']);
  });

  it('a write with the read context supersedes exactly what it saw', () => {
    const a = write('n1', EMPTY_CLOCK, 'a');
    const b = write('n2', EMPTY_CLOCK, 'b');
    const seen = joinClocks([a]); // the client read only a
    const c = write('n1', seen, 'c');
    assert.deepEqual(values(mergeSiblings(mergeSiblings([a], [b]), [c])), ['b', 'c']);
    const resolved = write('n3', joinClocks([a, b, c]), 'resolved');
    assert.deepEqual(values(mergeSiblings([a, b, c], [resolved])), ['resolved']);
  });

  it('a delete is a tombstone that wins over what it saw and keeps a clock', () => {
    const a = write('n1', EMPTY_CLOCK, 'a');
    const del = write('n2', joinClocks([a]), null);
    const merged = mergeSiblings([a], [del]);
    assert.deepEqual(values(merged), []);
    assert.equal(merged.length, 1);
    assert.ok(joinClocks(merged).length > 0);
    const concurrent = write('n3', EMPTY_CLOCK, 'late');
    assert.deepEqual(values(mergeSiblings(merged, [concurrent])), ['late']);
  });

  it('collapses byte-equal values for readers', () => {
    const a = write('n1', EMPTY_CLOCK, 'same');
    const b = write('n2', EMPTY_CLOCK, 'same');
    assert.equal(distinctValues(mergeSiblings([a], [b])).length, 1);
  });

  it('merge is commutative, associative and idempotent over histories', () => {
    // Random histories: each write picks a node, a subset of earlier writes it "read", a value.
    const historyArb = fc.array(
      fc.record({ node: fc.constantFrom('n1', 'n2', 'n3'), reads: fc.array(fc.nat(), { maxLength: 4 }), tomb: fc.boolean() }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(historyArb, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (history, picks) => {
        const all: Sibling[] = [];
        history.forEach((h, i) => {
          const seen = h.reads.filter((r) => r < all.length).map((r) => all[r]!);
          all.push(write(h.node, joinClocks(seen), h.tomb ? null : `v${i}`));
        });
        const subset = (p: number) => all.filter((_, i) => (p >> i % 30) & 1 || i === p % all.length);
        const [x, y, z] = picks.map(subset) as [Sibling[], Sibling[], Sibling[]];
        const key = (s: readonly Sibling[]) => s.map((v) => `${v.dot.node}:${v.dot.counter}`).join(',');
        assert.equal(key(mergeSiblings(x, y)), key(mergeSiblings(y, x)));
        assert.equal(key(mergeSiblings(mergeSiblings(x, y), z)), key(mergeSiblings(x, mergeSiblings(y, z))));
        assert.equal(key(mergeSiblings(x, x)), key(mergeSiblings([], x)));
        // No surviving sibling is covered by another's context.
        const m = mergeSiblings(x, mergeSiblings(y, z));
        for (const s of m) for (const o of m) if (o !== s) assert.ok(!covers(o.context, s.dot), 'a kept sibling is covered by another');
      }),
      { seed },
    );
  });

  it('record codec round-trips and refuses corrupt bytes', () => {
    const a = write('n1', EMPTY_CLOCK, 'a');
    const del = write('n2', clockOf(a), null);
    assert.deepEqual(decodeRecord(encodeRecord([a, del])).map((s) => s.dot), [a.dot, del.dot]);
    assert.throws(() => decodeRecord(Buffer.from([0xc1, 0x00])), { code: 'RECORD_CORRUPT' } as object);
    assert.throws(() => decodeRecord(encodeRecord([]).subarray(0, 1)), { code: 'RECORD_CORRUPT' } as object);
  });
});
