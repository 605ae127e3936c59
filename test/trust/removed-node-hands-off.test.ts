// Harsh seed 53093 in small: an acknowledged write was held, in the end, only by a node that the
// operator removed while it was down; on its return that node discarded what it held, and the
// write was gone. Now a node removed once while it was down hands its data off on return, as a
// node removed while running does. Its peers take the hand-off only within their window, and
// purge no tombstone during it, so a value deleted while it was away does not come back either.
// Simulator: tombstone grace 60 s (hand-off window 30 s), anti-entropy every 2 s.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import { Ring } from '../../src/ring/ring.ts';
import { distinctValues } from '../../src/version/siblings.ts';
import { testSeed } from '../support/seed.ts';

const GRACE_MS = 60_000;

describe('a node removed while down hands its data off when it returns within the window (harsh seed 53093)', () => {
  const seed = testSeed();
  it('an acknowledged write only it still holds survives; a value deleted while it was away stays deleted', async () => {
    const cluster = await SimCluster.start({ seed, config: { tombstoneGraceMs: GRACE_MS, antiEntropyIntervalMs: 2_000 } });
    const { scheduler } = cluster;
    const ring = Ring.of(cluster.ids);
    const onN5 = Array.from({ length: 200 }, (_, i) => `k-${i}`).filter((k) => ring.preferenceList(k, 3).includes('n5') && !ring.preferenceList(k, 3).includes('n1'));
    const [kept, doomed] = onN5;
    assert.ok(kept !== undefined && doomed !== undefined, `seed ${seed}: two keys on n5 and not on n1`);
    const put = (key: string, value: string | null, context = '', w = 3) =>
      scheduler.complete(cluster.node('n1').put({ key, value: value === null ? null : Buffer.from(value), contentType: 'text/plain', context, w }));
    await scheduler.runUntil(scheduler.nowMs + 2_000);
    await put(kept, 'acknowledged');
    await put(doomed, 'to-be-deleted');
    await scheduler.runUntil(scheduler.nowMs + 2_000);

    // n5 goes down. The other replicas of `kept` lose their disks: n5 alone holds it now.
    await cluster.crashNode('n5');
    for (const id of ring.preferenceList(kept, 3).filter((x) => x !== 'n5')) {
      await cluster.wipeNode(id);
      await cluster.startNode(id);
    }
    await scheduler.runUntil(scheduler.nowMs + 10_000);
    // The value of `doomed` is deleted; the tombstone ages past the grace period.
    const read = await scheduler.complete(cluster.node('n1').get(doomed, 2));
    await put(doomed, null, read.context, 2);
    await scheduler.runUntil(scheduler.nowMs + GRACE_MS + 10_000);
    const live = cluster.ids.filter((id) => id !== 'n5');
    assert.deepEqual(live.filter((id) => cluster.node(id).store.read(kept).length > 0), [], `seed ${seed}: only n5 holds ${kept}`);

    // The operator removes n5 while it is down; n5 returns 20 s later, within the 30 s window.
    cluster.node('n1').membership.removeMember('n5');
    await scheduler.runUntil(scheduler.nowMs + 20_000);
    // Within the window no peer purges a tombstone: n5 may still hand the deleted value back.
    assert.deepEqual(live.filter((id) => cluster.node(id).antiEntropy.totals.tombstonesPurged > 0), [], `seed ${seed}: a tombstone was purged within the hand-off window`);
    const n5 = await cluster.startNode('n5');
    assert.equal(n5.store.read(doomed).length, 1, `seed ${seed}: n5 returns holding the deleted value`);
    await scheduler.runWhile(() => n5.store.read(kept).length > 0, 20_000);
    await scheduler.runUntil(scheduler.nowMs + 5_000);

    assert.deepEqual(n5.admission.totals, { discards: 0, replicas: 0, hints: 0 }, `seed ${seed}: n5 discarded what it held`);
    assert.equal(n5.store.read(kept).length, 0, `seed ${seed}: n5 handed ${kept} off and dropped it`);
    const keptRead = await scheduler.complete(cluster.node('n1').get(kept, 2));
    assert.deepEqual(
      distinctValues(keptRead.siblings).map((s) => Buffer.from(s.value!).toString()),
      ['acknowledged'],
      `seed ${seed}: the acknowledged write is lost`,
    );
    const doomedRead = await scheduler.complete(cluster.node('n1').get(doomed, 3));
    assert.deepEqual(distinctValues(doomedRead.siblings), [], `seed ${seed}: the deleted value came back`);
    await scheduler.runUntil(scheduler.nowMs + 10_000);
    const holding = live.filter((id) => cluster.node(id).store.read(doomed).some((x) => x.value !== null));
    assert.deepEqual(holding, [], `seed ${seed}: replicas hold the deleted value again`);
    for (const id of cluster.ids) cluster.node(id).stop();
  });
});
