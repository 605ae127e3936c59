// Shows that hints held for a node an operator removed reach the keys' current replicas even when
// the holder's failure detector still held that node down at the removal (found by the simulator,
// seed-rules 937: pings stop for a removed member, so the detector's verdict never changes, and
// delivery skipped the owner as "down" for ever). n4 is cut off, writes through n1 leave hints
// for it, an operator removes it, and every hint must be delivered within a minute.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import { Ring } from '../../src/ring/ring.ts';
import { distinctValues } from '../../src/version/siblings.ts';
import { testSeed } from '../support/seed.ts';

const seed = testSeed();

describe('hints for a removed owner', () => {
  it('are delivered to the current replicas although the detector held the owner down', async () => {
    const cluster = await SimCluster.start({ seed, config: { requestTimeoutMs: 200 } });
    const { scheduler } = cluster;
    const heal = cluster.network.isolate('n4');
    await scheduler.runWhile(() => !cluster.node('n1').membership.isLocallyDown('n4'), 10_000);
    const ring = Ring.of(cluster.ids);
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((k) => ring.preferenceList(k, 3).includes('n4') && !ring.preferenceList(k, 3).includes('n1')).slice(0, 20);
    await scheduler.complete(Promise.all(keys.map((k) => cluster.node('n1').put({ key: k, value: Buffer.from(`v-${k}`), contentType: 'text/plain', context: '' }))));
    const held = () => ['n1', 'n2', 'n3', 'n5'].reduce((sum, id) => sum + (cluster.node(id).stats().hints.n4 ?? 0), 0);
    assert.ok(held() > 0, 'writes with n4 cut off left hints for it');
    cluster.node('n2').membership.removeMember('n4');
    await scheduler.runUntil(scheduler.nowMs + 2_000);
    heal();
    await scheduler.runUntil(scheduler.nowMs + 60_000);
    assert.equal(held(), 0, `seed ${seed}: hints for the removed n4 still held`);
    const after = Ring.of(cluster.ids.filter((id) => id !== 'n4'));
    for (const k of keys) {
      for (const id of after.preferenceList(k, 3)) {
        assert.deepEqual(distinctValues(cluster.node(id).store.read(k)).map((s) => Buffer.from(s.value!).toString()), [`v-${k}`], `${k} on ${id}`);
      }
    }
  });
});
