// Scan segments as key ranges of partition digests (review M3: a segment used to walk the whole
// table and skip the other segments' items uncounted): segments are contiguous, disjoint, cover
// the table, and every item key falls in exactly one; items spread over segments.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S } from '../../src/dynamo/attribute-value.ts';
import { itemKey, segmentItemsRange, tableItemsRange } from '../../src/dynamo/item-keys.ts';

const TABLE = 'abcdefghijklmnop';

describe('Scan segments', () => {
  it('are contiguous, disjoint and cover the table; every item is in exactly one', () => {
    for (const total of [1, 2, 3, 7, 64, 1000]) {
      const ranges = Array.from({ length: total }, (_, s) => segmentItemsRange(TABLE, s, total));
      assert.equal(ranges[0]!.start, tableItemsRange(TABLE).start);
      assert.equal(ranges[total - 1]!.end, tableItemsRange(TABLE).end);
      for (let s = 1; s < total; s++) {
        assert.equal(ranges[s]!.start, ranges[s - 1]!.end);
      }
      const counts = new Array<number>(total).fill(0);
      for (let i = 0; i < 500; i++) {
        const key = itemKey(TABLE, S(`pk-${i}`), S('sort'));
        const inside = ranges.map((r, s) => (key >= r.start && key < r.end ? s : -1)).filter((s) => s >= 0);
        assert.equal(inside.length, 1, `${key} in ${inside.length} of ${total} segments`);
        counts[inside[0]!]!++;
      }
      if (total <= 7) assert.ok(counts.every((c) => c > 500 / total / 3), `spread: ${counts.join(',')}`);
    }
    assert.throws(() => segmentItemsRange(TABLE, 3, 3), RangeError);
  });
});
