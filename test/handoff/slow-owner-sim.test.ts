// Review F4 in the simulator, on whole nodes: n4 comes back after a partition answering pings
// and gossip but never a batch (a stalled disk), holding 1,500 hints' worth of writes; then n5 is
// cut off for a while and takes 200 writes' hints. Every holder must hand n5 its hints within
// seconds of n5 being back. Before, deliverAll was one sequential loop over owners and batches
// that timed out twice were split down to single hints of 10 s each: n2 delivered its n5 hints
// 10,220 s after n5 was back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import type { PeerRequest } from '../../src/protocol/messages.ts';
import { Ring } from '../../src/ring/ring.ts';
import { testSeed } from '../support/seed.ts';

/** Detection (3 missed pings of 500 ms, then a ping answered), a hint round, the batches. */
const DELIVERED_WITHIN_MS = 15_000;

describe('hint delivery with a stalled owner', () => {
  it('every holder delivers a returning owner\'s hints within seconds, whatever another owner does', async () => {
    const seed = testSeed();
    const cluster = await SimCluster.start({ seed });
    const { scheduler, network } = cluster;
    const ring = Ring.of(cluster.ids);
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    const writeWhileCut = async (owner: string, prefix: string, count: number) => {
      const heal = network.isolate(owner);
      const others = cluster.ids.filter((id) => id !== owner);
      await scheduler.runWhile(() => !others.every((id) => cluster.node(id).membership.isLocallyDown(owner)), 30_000);
      const keys = Array.from({ length: 20 * count }, (_, i) => `${prefix}${i}`).filter((k) => ring.preferenceList(k, 3).includes(owner)).slice(0, count);
      const coordinatorOf = (key: string) => cluster.node(ring.preferenceList(key, 3).find((id) => id !== owner)!);
      await scheduler.complete(Promise.all(keys.map((key) => coordinatorOf(key).coordinator.put({ key, value: Buffer.from('v'), contentType: 'x', context: [] }))));
      return heal;
    };
    const held = (owner: string) => Object.fromEntries(cluster.ids.map((id) => [id, cluster.node(id).hints.heldPerOwner()[owner] ?? 0]));

    const healN4 = await writeWhileCut('n4', 'a', 1_500);
    const n4 = cluster.node('n4');
    const handle = n4.handle.bind(n4);
    n4.handle = (from: string, request: PeerRequest) => (request.kind === 'replica_put_batch' ? new Promise(() => {}) : handle(from, request));
    healN4();
    await scheduler.runUntil(scheduler.nowMs + 40_000);

    const healN5 = await writeWhileCut('n5', 'b', 200);
    const waiting = held('n5');
    healN5();
    const backMs = scheduler.nowMs;
    const deliveredAt = new Map<string, number>();
    while (scheduler.nowMs - backMs < 3_600_000 && cluster.ids.some((id) => held('n5')[id]! > 0)) {
      await scheduler.runUntil(scheduler.nowMs + 500);
      for (const id of cluster.ids) if (waiting[id]! > 0 && held('n5')[id] === 0 && !deliveredAt.has(id)) deliveredAt.set(id, scheduler.nowMs - backMs);
    }
    console.log(`seed ${seed}: n4 stalled holding ${JSON.stringify(held('n4'))}; n5 hints ${JSON.stringify(waiting)} delivered after (ms) ${JSON.stringify(Object.fromEntries(deliveredAt))}`);
    assert.deepEqual(held('n5'), Object.fromEntries(cluster.ids.map((id) => [id, 0])), 'n5 hints still held after an hour');
    for (const [id, ms] of deliveredAt) assert.ok(ms <= DELIVERED_WITHIN_MS, `${id} delivered its n5 hints ${ms} ms after n5 was back`);
    assert.ok(cluster.ids.some((id) => held('n4')[id]! > 0), 'n4 never acknowledged a batch, so its hints stay');
    for (const id of cluster.ids) cluster.node(id).stop();
  });
});
