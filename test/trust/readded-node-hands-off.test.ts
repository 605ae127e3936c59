// Harsh seed 55805 in small: an acknowledged write was held, in the end, only by a node that the
// operator removed and re-added while it was cut off (or down); hearing of the re-add, that node
// discarded what it held, and the write was gone. Now such a node first hands off what it held
// before its removal to its keys' current replicas, then discards. Its peers take that hand-off
// only within their window for the removal (a re-add no longer closes it), and purge no
// tombstone during it, so a value deleted while it was away stays deleted; after the window they
// refuse it, and nothing deleted comes back either.
// Simulator: tombstone grace 60 s (hand-off window 30 s), anti-entropy every 2 s.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import { Ring } from '../../src/ring/ring.ts';
import { distinctValues } from '../../src/version/siblings.ts';
import { testSeed } from '../support/seed.ts';

const GRACE_MS = 60_000;

type Away = 'cut off' | 'down';

/**
 * n5 alone holds `kept` (acknowledged; its other replicas' disks wiped) and still holds `doomed`
 * (deleted meanwhile, its tombstone older than the grace period). n5 goes away; the operator
 * removes and re-adds it; n5 returns `returnAfterMs` after the removal.
 */
async function scenario(seed: number, away: Away, returnAfterMs: number) {
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

  let heal: (() => void) | undefined;
  if (away === 'down') await cluster.crashNode('n5');
  else heal = cluster.network.isolate('n5');
  for (const id of ring.preferenceList(kept, 3).filter((x) => x !== 'n5')) {
    await cluster.wipeNode(id);
    await cluster.startNode(id);
  }
  await scheduler.runUntil(scheduler.nowMs + 10_000);
  const read = await scheduler.complete(cluster.node('n1').get(doomed, 2));
  await put(doomed, null, read.context, 2);
  await scheduler.runUntil(scheduler.nowMs + GRACE_MS + 10_000);
  const live = cluster.ids.filter((id) => id !== 'n5');
  assert.deepEqual(live.filter((id) => cluster.node(id).store.read(kept).length > 0), [], `seed ${seed}: only n5 holds ${kept}`);

  // The operator removes n5 and adds it back while it is away.
  const n1 = cluster.node('n1');
  const record = n1.membership.record('n5')!;
  n1.membership.removeMember('n5');
  await scheduler.runUntil(scheduler.nowMs + 1_000);
  n1.membership.addMember('n5', record.peer, record.http);
  await scheduler.runUntil(scheduler.nowMs + returnAfterMs - 1_000);
  const withinWindow = returnAfterMs < GRACE_MS / 2;
  if (withinWindow) {
    assert.deepEqual(live.filter((id) => cluster.node(id).antiEntropy.totals.tombstonesPurged > 0), [], `seed ${seed}: a tombstone was purged within the hand-off window of a re-added node`);
  }
  const n5 = away === 'down' ? await cluster.startNode('n5') : cluster.node('n5');
  heal?.();
  assert.equal(n5.store.read(doomed).length, 1, `seed ${seed}: n5 returns holding the deleted value`);
  await scheduler.runWhile(() => n5.admission.totals.discards === 0, 60_000);
  await scheduler.runUntil(scheduler.nowMs + 10_000);
  assert.equal(n5.admission.totals.discards, 1, `seed ${seed}: n5 discards what it held from before its removal`);
  const keptRead = await scheduler.complete(cluster.node('n1').get(kept, 2));
  const doomedRead = await scheduler.complete(cluster.node('n1').get(doomed, 3));
  await scheduler.runUntil(scheduler.nowMs + 10_000);
  const holdingDoomed = cluster.ids.filter((id) => cluster.node(id).store.read(doomed).some((x) => x.value !== null));
  for (const id of cluster.ids) cluster.node(id).stop();
  return { keptValues: distinctValues(keptRead.siblings).map((s) => Buffer.from(s.value!).toString()), doomedValues: distinctValues(doomedRead.siblings), holdingDoomed };
}

describe('a node removed and re-added while away hands its data off before it discards it (harsh seed 55805)', () => {
  const seed = testSeed();
  for (const away of ['cut off', 'down'] as const) {
    it(`${away}, back within the window: the acknowledged write only it held survives; the deleted value stays deleted`, async () => {
      const r = await scenario(seed, away, 15_000);
      assert.deepEqual(r.keptValues, ['acknowledged'], `seed ${seed}: the acknowledged write is lost`);
      assert.deepEqual(r.doomedValues, [], `seed ${seed}: the deleted value came back`);
      assert.deepEqual(r.holdingDoomed, [], `seed ${seed}: replicas hold the deleted value again`);
    });
  }

  it('back after the window: its peers refuse what it held (a tombstone may be gone), and nothing deleted comes back', async () => {
    const r = await scenario(seed, 'down', GRACE_MS);
    assert.deepEqual(r.keptValues, [], `seed ${seed}: a hand-off was taken after the window`);
    assert.deepEqual(r.doomedValues, [], `seed ${seed}: the deleted value came back`);
    assert.deepEqual(r.holdingDoomed, [], `seed ${seed}: replicas hold the deleted value again`);
  });
});
