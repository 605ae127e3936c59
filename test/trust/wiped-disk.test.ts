// Finding 2 of issue 13: a node restarted with an empty data directory under its old id must
// never reissue a dot. It used to start counting at 1 again, so its first write after the wipe
// got the dot of a write it had made before, and the other replicas dropped the new version as
// already seen: an acknowledged write lost. Shown in the simulator: n3 writes a key, loses its
// disk, restarts and at once (before recovery reaches that key) takes a blind write of the same
// key; a quorum read of all three replicas a minute later must hold both values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import { Ring } from '../../src/ring/ring.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { distinctValues } from '../../src/version/siblings.ts';
import { testSeed } from '../support/seed.ts';

describe('a node that lost its disk', () => {
  it('never reuses a dot: writes it acknowledges after the wipe survive', async () => {
    const cluster = await SimCluster.start({ seed: testSeed() });
    const { scheduler } = cluster;
    const ring = Ring.of(cluster.ids);
    const key = Array.from({ length: 100 }, (_, i) => `wiped-${i}`).find((k) => ring.preferenceList(k, 3).includes('n3'))!;
    const put = (value: string) => cluster.node('n3').coordinator.put({ key, value: Buffer.from(value), contentType: 'text/plain', context: [] });
    await scheduler.complete(put('before-wipe'));
    await scheduler.runUntil(scheduler.nowMs + 5_000);

    await cluster.crashNode('n3');
    cluster.storages.set('n3', new MemoryStorage());
    await cluster.startNode('n3');
    await scheduler.complete(put('after-wipe'));
    await scheduler.runUntil(scheduler.nowMs + 60_000);

    const { siblings } = await scheduler.complete(cluster.node('n1').coordinator.get(key, 3));
    const values = distinctValues(siblings).map((s) => Buffer.from(s.value!).toString()).sort();
    assert.deepEqual(values, ['after-wipe', 'before-wipe']);
    for (const id of cluster.ids) cluster.node(id).stop();
  });
});
