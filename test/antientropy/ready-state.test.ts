// Review F9: a node's sync state (GET /local/stats `sync.state`, which chaos and operators wait
// on) said `ready` while its start-up recovery was still running, because recover() and
// peerReturned() shared one progress field and whichever ended first set it. Shown in the
// simulator: n3 restarts on an empty disk while n2 is out of its reach for a minute and n4 for
// 3 s; n4's return starts a sync of its own, which must not report the node ready. The node may
// say `ready` only once its start-up recovery has ended.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { testSeed } from '../support/seed.ts';

describe('sync state', () => {
  it('stays syncing until start-up recovery ends, whatever a returning peer syncs meanwhile', async () => {
    const seed = testSeed();
    const cluster = await SimCluster.start({ seed });
    const { scheduler, network } = cluster;
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    const n1 = cluster.node('n1');
    await scheduler.complete(Promise.all(Array.from({ length: 300 }, (_, i) => n1.coordinator.put({ key: `k${i}`, value: Buffer.alloc(100, 1), contentType: 'x', context: [] }))));
    await scheduler.runUntil(scheduler.nowMs + 10_000);
    await cluster.crashNode('n3');
    cluster.storages.set('n3', new MemoryStorage());
    const cut = (a: string, b: string) => network.addDropRule((f, t) => (f === a && t === b) || (f === b && t === a));
    const healN2 = cut('n3', 'n2');
    const healN4 = cut('n3', 'n4');
    const n3 = await cluster.startNode('n3');
    let recoveredMs: number | undefined;
    void n3.antiEntropy.recover().then(() => (recoveredMs = scheduler.nowMs));
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    healN4();
    let readyMs: number | undefined;
    const t0 = scheduler.nowMs;
    while (scheduler.nowMs - t0 < 120_000 && (readyMs === undefined || recoveredMs === undefined)) {
      await scheduler.runUntil(scheduler.nowMs + 100);
      if (scheduler.nowMs - t0 >= 57_000) healN2();
      if (readyMs === undefined && n3.antiEntropy.status().state === 'ready') readyMs = scheduler.nowMs;
    }
    console.log(`seed ${seed}: n3 recovered at +${((recoveredMs! - t0) / 1000).toFixed(1)} s, first reported ready at +${((readyMs! - t0) / 1000).toFixed(1)} s`);
    assert.ok(recoveredMs !== undefined && readyMs !== undefined, 'n3 never recovered or never reported ready');
    assert.ok(readyMs >= recoveredMs, `n3 reported ready at ${readyMs} ms, before its start-up recovery ended at ${recoveredMs} ms`);
    assert.equal(n3.antiEntropy.status().state, 'ready');
    for (const id of cluster.ids) cluster.node(id).stop();
  });
});
