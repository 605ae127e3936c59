// Shows gossip and failure detection deterministically in the simulator: a table change made
// on one node reaches all 5 within a few gossip rounds (the count is printed); a crashed node
// is marked down on every live node within the detector's bound and up again after restart; and
// the same seed replays the identical message trace.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import type { MemberRecord } from '../../src/membership/table.ts';
import { testSeed } from '../support/seed.ts';

const seed = testSeed();

async function scenario(seed: number) {
  const cluster = await SimCluster.start({ seed });
  const { scheduler } = cluster;
  const gossipMs = cluster.configOf('n1').gossipIntervalMs;
  // A change only n1 knows (a decommissioned node's record), spread by gossip alone.
  const record: MemberRecord = { id: 'n9', peer: 'sim:9', http: '', status: 'removed', epoch: 2, version: 3, changedBy: 'n1', changedAtMs: 1, heartbeat: 0, transfer: null, state: 'ready' };
  cluster.node('n1').membership.mergeAll([record]);
  const changedAt = scheduler.nowMs;
  const everywhere = () => cluster.ids.every((id) => cluster.node(id).membership.record('n9') !== undefined);
  await scheduler.runWhile(() => !everywhere(), 60_000);
  const rounds = Math.ceil((scheduler.nowMs - changedAt) / gossipMs);

  await cluster.crashNode('n4');
  const crashedAt = scheduler.nowMs;
  const live = cluster.ids.filter((id) => id !== 'n4');
  const statusOfN4Everywhere = (ids: readonly string[], status: string) => ids.every((id) => cluster.node(id).membership.record('n4')?.status === status);
  await scheduler.runWhile(() => !statusOfN4Everywhere(live, 'down'), 60_000);
  const detectionMs = scheduler.nowMs - crashedAt;
  const ringSize = cluster.node('n1').ring()!.nodes.length;

  await cluster.startNode('n4');
  const restartedAt = scheduler.nowMs;
  await scheduler.runWhile(() => !statusOfN4Everywhere(cluster.ids, 'up'), 60_000);
  const recoveryMs = scheduler.nowMs - restartedAt;
  return { rounds, detectionMs, recoveryMs, ringSize, trace: cluster.traceHash() };
}

describe('simulated membership', () => {
  it('spreads a change in a few rounds and detects a crash within the bound', async () => {
    const run = await scenario(seed);
    console.log(`seed ${seed}: change on all 5 nodes after ${run.rounds} gossip rounds; crash detected everywhere after ${run.detectionMs.toFixed(0)} ms; back up after ${run.recoveryMs.toFixed(0)} ms`);
    assert.ok(run.rounds <= 8, `seed ${seed}: ${run.rounds} rounds`);
    // 3 missed pings at 500 ms intervals, plus a ping timeout, plus gossip to the rest.
    assert.ok(run.detectionMs <= 3 * 500 + 500 + 2_000, `seed ${seed}: detection took ${run.detectionMs} ms`);
    assert.ok(run.recoveryMs <= 3_000, `seed ${seed}: recovery took ${run.recoveryMs} ms`);
    assert.equal(run.ringSize, 5, 'down never changes the ring');
  });

  it('replays identically for the same seed', async () => {
    assert.equal((await scenario(seed)).trace, (await scenario(seed)).trace, `seed ${seed}`);
  });
});
