// Core review F2 (issue 13): a node removed while it was away, that comes back on its old disk,
// must not bring back what the cluster deleted meanwhile. The reviewer's scenario
// (/tmp/review-core/removed-node-returns.mts) in the simulator, tombstone grace cut to 30 s: n5
// holds a value (and a hint of it) and goes away; the operator removes it; a client deletes the
// value on the new replicas, which purge the tombstone (anti-entropy every 2 s). Then n5 returns: restarted (it learns it
// was removed), restarted and re-added by the operator, or (never restarted) cut off all along,
// then healed and re-added. Re-added, n5 discards its replicas and hints, and takes a new actor
// id, before it serves; only restarted (removed once, as it was when it went down), it keeps them
// to hand them off, which its peers refuse once their hand-off window is over. Each time an R=3
// read still finds nothing, and no member holds the deleted value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import { Ring } from '../../src/ring/ring.ts';
import { distinctValues } from '../../src/version/siblings.ts';
import { testSeed } from '../support/seed.ts';

type Mode = 'restart' | 'readd' | 'cut-off-then-readd';

async function scenario(seed: number, mode: Mode): Promise<void> {
  const cluster = await SimCluster.start({ seed, config: { tombstoneGraceMs: 30_000, antiEntropyIntervalMs: 2_000 } });
  const { scheduler } = cluster;
  const ring = Ring.of(cluster.ids);
  const key = Array.from({ length: 100 }, (_, i) => `doomed-${i}`).find((k) => ring.preferenceList(k, 3).includes('n5'))!;
  const coordOld = ring.preferenceList(key, 3).find((id) => id !== 'n5')!;
  await scheduler.complete(cluster.node(coordOld).coordinator.put({ key, value: Buffer.from('deleted-value'), contentType: 'text/plain', context: [] }));
  for (let i = 0; i < 20; i++) await scheduler.complete(cluster.node('n1').coordinator.put({ key: `kept-${i}`, value: Buffer.from('kept'), contentType: 'text/plain', context: [] }));
  await scheduler.runUntil(scheduler.nowMs + 5_000);
  const n5 = cluster.node('n5');
  assert.equal(n5.store.read(key).length, 1, `seed ${seed}: n5 holds the value`);
  // n5 also holds a hint of it, as the fallback of a write it took for another replica.
  const otherReplica = ring.preferenceList(key, 3).find((id) => id !== 'n5')!;
  await scheduler.complete(n5.hints.store(otherReplica, key, n5.store.read(key)));
  const actor = cluster.storages.get('n5')!.get('meta', 'actor-epoch');

  let healCut: (() => void) | undefined;
  if (mode === 'cut-off-then-readd') healCut = cluster.network.isolate('n5');
  else await cluster.crashNode('n5');
  await scheduler.runUntil(scheduler.nowMs + 5_000);
  cluster.node('n1').membership.removeMember('n5');
  await scheduler.runUntil(scheduler.nowMs + 30_000);
  const live = cluster.ids.filter((id) => id !== 'n5');
  const newReplicas = cluster.node('n1').ring()!.preferenceList(key, 3);
  assert.ok(!newReplicas.includes('n5'));

  // A client reads and deletes what it read; then every replica purges the tombstone.
  const read = await scheduler.complete(cluster.node(newReplicas[0]!).get(key, 3));
  await scheduler.complete(cluster.node(newReplicas[0]!).put({ key, value: null, contentType: '', context: read.context, w: 3 }));
  await scheduler.runWhile(() => live.some((id) => cluster.node(id).store.read(key).length > 0), 60 * 60_000);
  await scheduler.runUntil(scheduler.nowMs + 60_000);

  // n5 returns on its old disk.
  if (mode === 'cut-off-then-readd') {
    healCut!();
    await scheduler.runUntil(scheduler.nowMs + 30_000); // it hears of its removal, long after the hand-off window
  } else {
    await cluster.startNode('n5');
    await scheduler.runUntil(scheduler.nowMs + 5_000);
  }
  if (mode !== 'restart') cluster.node('n1').membership.addMember('n5', 'sim:5', '');
  await scheduler.runUntil(scheduler.nowMs + 2 * 60_000);

  const returned = cluster.node('n5');
  const after = await scheduler.complete(cluster.node(newReplicas[0]!).get(key, 3));
  const values = distinctValues(after.siblings).map((s) => Buffer.from(s.value!).toString());
  const held = cluster.ids.map((id) => `${id}:${cluster.node(id).store.read(key).length}`).join(' ');
  console.log(`seed ${seed} (${mode}): R=3 read after n5 returned: [${values.join(', ')}]; records held ${held}; n5 discarded ${JSON.stringify(returned.admission.totals)}`);
  assert.deepEqual(values, [], `seed ${seed} (${mode}): the deleted value came back`);
  assert.deepEqual(live.filter((id) => cluster.node(id).store.read(key).length > 0), [], `seed ${seed} (${mode}): a member took the deleted value back`);
  if (mode === 'restart') {
    // Removed once while down, it keeps its data to hand it off (harsh seed 53093), but returned
    // long after its peers' hand-off window: they refuse it. Still removed, it takes no client
    // request, and says why.
    assert.equal(returned.admission.state, 'serving');
    assert.deepEqual(returned.admission.totals, { discards: 0, replicas: 0, hints: 0 });
    assert.equal(returned.store.read(key).length, 1, `seed ${seed} (${mode}): n5 kept what its peers refused`);
    await assert.rejects(scheduler.complete(returned.get(key)), { code: 'NOT_A_MEMBER' });
    await assert.rejects(scheduler.complete(returned.put({ key: 'kept-0', value: Buffer.from('x'), contentType: 'text/plain', context: '' })), { code: 'NOT_A_MEMBER' });
    for (const id of cluster.ids) cluster.node(id).stop();
    return;
  }
  assert.equal(returned.store.read(key).length, 0, `seed ${seed} (${mode}): n5 still holds the deleted value`);
  assert.deepEqual(returned.hints.heldPerOwner(), {}, `seed ${seed} (${mode}): n5 still holds hints`);
  assert.equal(returned.admission.state, 'serving');
  const { totals } = returned.admission;
  assert.ok(totals.replicas >= 1 && totals.hints >= 1, `seed ${seed} (${mode}): n5 discarded its replicas and hints: ${JSON.stringify(totals)}`);
  // Its old versions are gone from its disk but may live on elsewhere: it writes as a new actor,
  // so its next versions never claim them (simulator harsh seed 50092).
  const epochNow = cluster.storages.get('n5')!.get('meta', 'actor-epoch');
  assert.ok(epochNow !== undefined && actor !== undefined && !Buffer.from(epochNow).equals(Buffer.from(actor)), `seed ${seed} (${mode}): n5 still writes as its old actor`);
  {
    // Re-added, n5 is a replica again and receives its ranges' data from the others.
    assert.equal(cluster.node('n1').membership.record('n5')?.status, 'up');
    const ownKeys = Array.from({ length: 20 }, (_, i) => `kept-${i}`).filter((k) => cluster.node('n1').ring()!.preferenceList(k, 3).includes('n5'));
    assert.ok(ownKeys.length > 0);
    assert.deepEqual(ownKeys.filter((k) => returned.store.read(k).length === 0), [], `seed ${seed} (${mode}): n5 got its ranges' keys back`);
  }
  for (const id of cluster.ids) cluster.node(id).stop();
}

describe('a node removed while away returns on its old disk (core review F2)', () => {
  const seed = testSeed();
  for (const mode of ['restart', 'readd', 'cut-off-then-readd'] as const) {
    it(`${mode}: nothing deleted comes back (a re-added node discards what it held first)`, async () => {
      await scenario(seed, mode);
    });
  }
  // Its first setup write was forwarded to a replica that had not heard the table yet; the
  // forward was not tried on the next replica (coordinator.ts forward, provenNotApplied).
  it('regression seed 247242830: a forward refused unread goes to the next replica', async () => {
    await scenario(247_242_830, 'restart');
  });
});
