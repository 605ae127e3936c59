// replica_range over the simulated network, real node code: a range read returns the replica's
// keys in order, in both directions, with `more` past the limit; and a peer's answer is checked
// like any input (review L5): keys outside the range asked, out of order, or more than asked are refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import type { PeerReply, PeerRequest } from '../../src/protocol/messages.ts';
import { EncodedRecord } from '../../src/version/record-codec.ts';
import { testSeed } from '../support/seed.ts';

describe('range reads between simulated nodes', () => {
  it('reads a replica\'s range both ways and refuses a hostile answer', async () => {
    const seed = testSeed();
    const cluster = await SimCluster.start({ seed });
    const { scheduler } = cluster;
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    const partition = '\u0000Itest/p';
    const keys = Array.from({ length: 12 }, (_, i) => `${partition}\u0001${String(i).padStart(2, '0')}`);
    const n1 = cluster.node('n1');
    for (const key of keys) await scheduler.complete(n1.coordinator.put({ key, value: Buffer.from(key), contentType: 'text/plain', context: [] }));
    const replica = n1.ring()!.preferenceList(partition, 3).find((id) => id !== 'n1')!;
    const forward = await scheduler.complete(n1.readRange(replica, `${partition}\u0001`, `${partition}\u0002`, 5, false, 1_000));
    assert.deepEqual(forward.entries.map((e) => e.key), keys.slice(0, 5));
    assert.equal(forward.more, true);
    const backward = await scheduler.complete(n1.readRange(replica, `${partition}\u0001`, `${partition}\u0002`, 20, true, 1_000));
    assert.deepEqual(backward.entries.map((e) => e.key), [...keys].reverse());
    assert.equal(backward.more, false);

    // A hostile peer: answers with a key outside the range, or keys out of order.
    const transport = (n1 as unknown as { world: { transport: { request: (to: string, r: PeerRequest, t: number) => Promise<PeerReply> } } }).world.transport;
    const real = transport.request.bind(transport);
    const record = EncodedRecord.of([]);
    for (const [why, entries] of [
      ['outside the range', [{ key: 'zzz', record }]],
      ['out of order', [{ key: keys[3]!, record }, { key: keys[1]!, record }]],
      ['more than the 2 asked', keys.slice(0, 3).map((key) => ({ key, record }))],
    ] as const) {
      transport.request = async (to, r, t) => (r.kind === 'replica_range' ? { kind: 'replica_range_ok', entries, more: false } : real(to, r, t));
      await assert.rejects(scheduler.complete(n1.readRange(replica, `${partition}\u0001`, `${partition}\u0002`, why.startsWith('more') ? 2 : 20, false, 1_000)), new RegExp(why), `seed ${seed}`);
    }
    transport.request = real;
  });
});
