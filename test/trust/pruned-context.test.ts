// A delete wins over exactly what it saw, however many actors a key's history has collected.
// Every lost disk adds an actor to the clocks of the keys its node coordinates; past
// clockEntriesMax the coordinator prunes the oldest entries of a write's context, and the oldest
// is exactly the one that covers a long-standing sibling: a delete (or a resolving write) with
// the context of a read that returned that sibling left it in place, every time (outside review
// of issue 13, F3). Simulated: a "stale" sibling beside a lineage rewritten through two nodes
// that lose their disk before each write (9 actors), then a delete with the read's context.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import { Ring } from '../../src/ring/ring.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { distinctValues, joinClocks, type Sibling } from '../../src/version/siblings.ts';
import { testSeed } from '../support/seed.ts';

const values = (siblings: readonly Sibling[]) => distinctValues(siblings).map((s) => Buffer.from(s.value!).toString()).sort();

describe('pruning a context with many actors', () => {
  it('never drops the entry that covers a sibling the context saw', async () => {
    // Ten entries (the default before actors changed per lost disk), so nine actors reach the limit.
    const cluster = await SimCluster.start({ seed: testSeed(), config: { clockEntriesMax: 10 } });
    const { scheduler } = cluster;
    const key = 'cart-17';
    const [a, b, c] = Ring.of(cluster.ids).preferenceList(key, 3) as [string, string, string];
    const put = (via: string, value: string | null, context: string) =>
      scheduler.complete(cluster.node(via).put({ key, value: value === null ? null : Buffer.from(value), contentType: 'text/plain', context }));

    await put(a, 'stale', '');
    await scheduler.runUntil(scheduler.nowMs + 1_000);
    let context = await put(b, 'main-0', '');
    await scheduler.runUntil(scheduler.nowMs + 2_000);
    for (let i = 1; i <= 8; i++) {
      const via = i % 2 === 1 ? c : b;
      await cluster.crashNode(via);
      cluster.storages.set(via, new MemoryStorage());
      await cluster.startNode(via);
      await scheduler.runUntil(scheduler.nowMs + 30_000);
      context = await put(via, `main-${i}`, context);
    }
    await scheduler.runUntil(scheduler.nowMs + 30_000);
    const read = await scheduler.complete(cluster.node(c).get(key, 3));
    assert.deepEqual(values(read.siblings), ['main-8', 'stale']);
    assert.ok(joinClocks(read.siblings).length >= 10, 'the history has more actors than a context keeps');

    await put(c, null, read.context);
    await scheduler.runUntil(scheduler.nowMs + 5_000);
    assert.deepEqual(values((await scheduler.complete(cluster.node(a).get(key, 3))).siblings), [], 'the delete removed both values it saw');

    await put(c, 'again', '');
    const again = await scheduler.complete(cluster.node(c).get(key, 3));
    await put(c, 'resolved', again.context);
    await scheduler.runUntil(scheduler.nowMs + 5_000);
    assert.deepEqual(values((await scheduler.complete(cluster.node(a).get(key, 3))).siblings), ['resolved']);
    for (const id of cluster.ids) cluster.node(id).stop();
  });
});
