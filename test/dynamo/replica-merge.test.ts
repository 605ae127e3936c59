// Review finding H1: a Query or Scan joins each key's versions from several replicas. Appended,
// an old version a delete superseded (still on a lagging replica) came back in a consistent
// Query; joined by their clocks, it is dropped, as the coordinator drops it for GetItem.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S } from '../../src/dynamo/attribute-value.ts';
import { encodeStoredItem, resolveItem } from '../../src/dynamo/item-record.ts';
import { atLeast, readMergedPage, Slots } from '../../src/dynamo/replica-reads.ts';
import type { NodeFrontDoor, RangeRead } from '../../src/node/front-door.ts';
import type { Sibling } from '../../src/version/siblings.ts';

const old: Sibling = {
  dot: { node: 'a#aaaaaaaaaa', counter: 1, timeMs: 1 }, context: [], contentType: 'application/x-dynakv-item',
  value: encodeStoredItem({ item: new Map([['pk', S('p')], ['v', S('old')]]), stamp: { wall: 10, counter: 0, node: 'a' } }),
};
const tombstone: Sibling = { dot: { node: 'b#bbbbbbbbbb', counter: 1, timeMs: 2 }, context: [{ node: 'a#aaaaaaaaaa', counter: 1, timeMs: 1 }], value: null, contentType: '' };

function frontOf(replicas: Record<string, RangeRead>): NodeFrontDoor {
  return { readRange: async (node: string) => replicas[node]! } as unknown as NodeFrontDoor;
}

describe('merged range reads join versions by their clocks', () => {
  it('a deleted item on a lagging replica does not come back', async () => {
    const front = frontOf({
      lagging: { entries: [{ key: 'k', siblings: [old] }], more: false },
      current: { entries: [{ key: 'k', siblings: [tombstone] }], more: false },
    });
    for (const order of [['lagging', 'current'], ['current', 'lagging']]) {
      const page = await readMergedPage(front, order, 'a', 'z', false, atLeast(2), 1_000);
      assert.equal(page.entries.length, 1);
      assert.deepEqual(page.entries[0]!.siblings, [tombstone], order.join(','));
      assert.equal(resolveItem(page.entries[0]!.siblings).current, undefined);
    }
  });

  it('concurrent versions are both kept (last writer wins decides later)', async () => {
    const other: Sibling = { ...old, dot: { node: 'c#cccccccccc', counter: 1, timeMs: 3 } };
    const front = frontOf({ x: { entries: [{ key: 'k', siblings: [old] }], more: false }, y: { entries: [{ key: 'k', siblings: [other] }], more: false } });
    const page = await readMergedPage(front, ['x', 'y'], 'a', 'z', false, atLeast(2), 1_000);
    assert.equal(page.entries[0]!.siblings.length, 2);
  });
});

describe('page slots (review M4: a node bounds the merged pages it holds)', () => {
  it('lets max holders in, queues the rest first come first served, and passes slots on', async () => {
    const slots = new Slots(2);
    const order: number[] = [];
    const a = await slots.acquire();
    const b = await slots.acquire();
    const waiters = [3, 4].map((n) => slots.acquire().then((release) => (order.push(n), release)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'nobody past the two holders');
    a();
    a(); // a second release of one slot does nothing
    const c = await waiters[0]!;
    assert.deepEqual(order, [3]);
    b();
    const d = await waiters[1]!;
    assert.deepEqual(order, [3, 4]);
    c();
    d();
    const again = await Promise.all([slots.acquire(), slots.acquire()]);
    assert.equal(again.length, 2);
  });
});

describe('a page holds its slot until every replica asked has settled (second review M-d)', () => {
  it('calls onSettled only after the slow replica answers, though the page resolved with enough', async () => {
    let answerSlow: (r: RangeRead) => void = () => {};
    const front = {
      readRange: (node: string) => (node === 'slow' ? new Promise<RangeRead>((resolve) => (answerSlow = resolve)) : Promise.resolve({ entries: [], more: false })),
    } as unknown as NodeFrontDoor;
    let settled = 0;
    const page = await readMergedPage(front, ['a', 'b', 'slow'], 'a', 'z', false, atLeast(2), 1_000, () => settled++);
    assert.deepEqual(page.entries, []);
    assert.equal(settled, 0, 'the slow replica has not answered');
    answerSlow({ entries: [], more: false });
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, 1);
  });

  it('refuses with a throttling error past the waiting bound', async () => {
    const slots = new Slots(1, 2);
    await slots.acquire();
    const waiting = [slots.acquire(), slots.acquire()];
    await assert.rejects(slots.acquire(), { name: 'DynamoError', type: 'ProvisionedThroughputExceededException' });
    void waiting;
  });
});
