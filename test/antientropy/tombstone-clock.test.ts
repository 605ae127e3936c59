// Tombstone purge judged by the purging node's own clock, not the writer's: with the grace period
// scaled down to 5 s, a delete coordinated by a node whose clock runs 10 minutes behind must not
// be purged by a replica while another replica still misses it (else that replica brings the
// value back), and a delete coordinated by a node 1 hour ahead must still be purged everywhere
// (and stay purged: replicas purge one after another, and none may take it back from another).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ring } from '../../src/ring/ring.ts';
import { joinClocks, type Sibling } from '../../src/version/siblings.ts';
import { FrameLimitedCluster } from '../support/frame-limited-cluster.ts';
import { testSeed } from '../support/seed.ts';

const seed = testSeed();
const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];
const config = { antiEntropyIntervalMs: 500, tombstoneGraceMs: 5_000, requestTimeoutMs: 200 };
const live = (siblings: readonly Sibling[]) => siblings.filter((s) => s.value !== null).map((s) => Buffer.from(s.value!).toString());

describe('tombstone purge under clock skew', () => {
  it('a delete from a coordinator 10 minutes behind is not purged while a replica misses it, and the value stays deleted', async () => {
    const key = 'skewed-delete';
    const [writer, keeper, missing] = Ring.of(IDS).preferenceList(key, 3) as [string, string, string];
    const cluster = await FrameLimitedCluster.start({ seed, config, skewMs: { [writer]: -10 * 60_000 } });
    const { scheduler } = cluster;
    await scheduler.complete(cluster.node(writer).coordinator.put({ key, value: Buffer.from('alive'), contentType: 'text/plain', context: [], w: 3 }));
    // Every pair of replicas has completed a sync of the key's range before the delete.
    const range = Ring.of(IDS).homeOf(key);
    for (const [a, b] of [[keeper, missing], [keeper, writer], [writer, missing]] as const) await scheduler.complete(cluster.node(a).antiEntropy.syncRange(range, b));
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    await cluster.crashNode(missing); // keeps the live value and misses the delete
    await scheduler.runUntil(scheduler.nowMs + 2_000);
    const read = await scheduler.complete(cluster.node(writer).coordinator.get(key));
    await scheduler.complete(cluster.node(writer).coordinator.put({ key, value: null, contentType: '', context: joinClocks(read.siblings), w: 2 }));
    await scheduler.runUntil(scheduler.nowMs + 30_000);
    assert.ok(cluster.node(keeper).store.read(key).length > 0, `${keeper} purged the tombstone while ${missing} still misses it`);
    // The writer goes away; the replica that missed the delete returns and syncs with the keeper.
    await cluster.crashNode(writer);
    const back = await cluster.startNode(missing);
    await scheduler.runWhile(() => back.antiEntropy.status().state !== 'ready', 60_000);
    await scheduler.runUntil(scheduler.nowMs + 20_000);
    const after = await scheduler.complete(cluster.node(keeper).coordinator.get(key, 2));
    assert.deepEqual(live(after.siblings), [], 'the deleted value came back');
    console.log(`seed ${seed}: ${writer} (10 min behind) deleted ${key}; ${keeper} kept the tombstone until ${missing} had it`);
  });

  it('a delete from a coordinator 1 hour ahead is still purged on every replica', async () => {
    const key = 'ahead-delete';
    const replicas = Ring.of(IDS).preferenceList(key, 3);
    const cluster = await FrameLimitedCluster.start({ seed, config, skewMs: { [replicas[0]!]: 3_600_000 } });
    const { scheduler } = cluster;
    const writer = cluster.node(replicas[0]!);
    const clock = await scheduler.complete(writer.coordinator.put({ key, value: Buffer.from('v'), contentType: 'text/plain', context: [], w: 3 }));
    await scheduler.complete(writer.coordinator.put({ key, value: null, contentType: '', context: clock, w: 3 }));
    assert.ok(replicas.every((id) => cluster.node(id).store.read(key).length > 0), 'every replica holds the tombstone');
    const gone = () => replicas.every((id) => cluster.node(id).store.read(key).length === 0);
    await scheduler.runWhile(() => !gone(), 120_000);
    const goneAtMs = scheduler.nowMs;
    // Replicas purge one after another; one that purged must not take the tombstone back.
    await scheduler.runUntil(scheduler.nowMs + 30_000);
    assert.ok(gone(), 'a purged tombstone came back from a replica that had not purged it yet');
    console.log(`seed ${seed}: a tombstone written 1 h ahead was purged everywhere after ${goneAtMs.toFixed(0)} ms and stayed purged`);
  });
});
