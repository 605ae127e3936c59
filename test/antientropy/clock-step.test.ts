// Review F5: tombstone purge must judge ages on the monotonic clock. Purge compares when this
// node stored a tombstone with when its last complete sync with each replica started; both were
// wall-clock readings, so after a backward step of the wall clock (NTP step, VM restore) a
// tombstone stored AFTER a sync looked older than it, and was purged as if a replica that never
// saw it (down since that sync) held it. Real AntiEntropy and ReplicaStore on five nodes wired
// directly; the wall clock steps back 10 minutes while the monotonic clock moves on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aeCluster, keysOfRange, live, tombstoneOf } from './harness.ts';

const GRACE_MS = 3_600_000;

describe('tombstone purge across a wall-clock step', () => {
  it('a tombstone stored after a backward step is not purged while a replica that never saw it is down', async () => {
    const c = aeCluster({ graceMs: GRACE_MS });
    const n1 = c.node('n1');
    const range = c.ring.rangesReplicatedBy('n1', 3).find((r) => r.node === 'n1')!;
    const [key] = keysOfRange(c.ring, range.node, 1);
    const [other, missing] = range.replicas.filter((id) => id !== 'n1') as [string, string];
    const value = live('alive');
    for (const id of range.replicas) await c.node(id).store.merge(key!, value);
    // Complete syncs of the range with both peers; then `missing` goes down for good.
    for (const peer of [other, missing]) assert.equal((await n1.ae.syncRange(range.node, peer)).complete, true);
    c.down.add(missing);
    // The wall clock of every node steps back 10 minutes; a minute later the key is deleted on
    // the two live replicas (the third never sees it).
    for (const node of c.nodes.values()) node.clock.wallMs -= 10 * 60_000;
    for (const node of c.nodes.values()) node.clock.advance(60_000);
    const tombstone = tombstoneOf(value);
    for (const id of ['n1', other]) await c.node(id).store.merge(key!, tombstone);
    // The grace period passes; n1 keeps syncing with the live replica.
    for (const node of c.nodes.values()) node.clock.advance(GRACE_MS + 1_000);
    assert.equal((await n1.ae.syncRange(range.node, other)).complete, true);
    assert.equal(await n1.ae.purgeTombstones(range.node), 0, `n1 purged a tombstone ${missing} never saw`);
    assert.equal(n1.store.read(key!).length, 1);

    // Once the missing replica is back and has synced, the tombstone goes.
    c.down.delete(missing);
    assert.equal((await n1.ae.syncRange(range.node, missing)).complete, true);
    assert.equal(c.node(missing).store.read(key!)[0]!.value, null, `${missing} holds the tombstone after the sync`);
    for (const node of c.nodes.values()) node.clock.advance(1_000);
    assert.equal((await n1.ae.syncRange(range.node, other)).complete, true);
    assert.equal(await n1.ae.purgeTombstones(range.node), 1);
    assert.equal(n1.store.read(key!).length, 0);
  });

  it('a sync that could not push the tombstone to a replica does not count for purging it', async () => {
    // Only a complete sync (every differing key moved both ways) shows the peer holds what this
    // node holds: a peer that refused the tombstone may still hold the live value.
    const c = aeCluster({ graceMs: GRACE_MS });
    const n1 = c.node('n1');
    const range = c.ring.rangesReplicatedBy('n1', 3).find((r) => r.node === 'n1')!;
    const [key] = keysOfRange(c.ring, range.node, 1);
    const [other, refusing] = range.replicas.filter((id) => id !== 'n1') as [string, string];
    const value = live('alive');
    for (const id of range.replicas) await c.node(id).store.merge(key!, value);
    const tombstone = tombstoneOf(value);
    for (const id of ['n1', other]) await c.node(id).store.merge(key!, tombstone);
    for (const node of c.nodes.values()) node.clock.advance(GRACE_MS + 1_000);
    c.refusingPushes.add(refusing);
    assert.equal((await n1.ae.syncRange(range.node, other)).complete, true);
    const refused = await n1.ae.syncRange(range.node, refusing);
    assert.equal(refused.complete, false);
    assert.equal(await n1.ae.purgeTombstones(range.node), 0, `n1 purged a tombstone ${refusing} refused`);
    assert.equal(c.node(refusing).store.read(key!)[0]!.value?.toString(), 'alive');

    // Once the push goes through, the tombstone may go.
    c.refusingPushes.delete(refusing);
    assert.equal((await n1.ae.syncRange(range.node, refusing)).complete, true);
    assert.equal(await n1.ae.purgeTombstones(range.node), 1);
  });
});
