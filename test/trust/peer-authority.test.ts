// Attack finding 2 on issue 13: the peer port checked who a certificate is, not whether that
// node is a member. Shows who may say what: a node that is not a ring member in the receiver's
// table (never added, or removed) may ping and pull the table, nothing else (its gossip is
// answered with our table and not merged; every data-bearing request gets a NOT_A_MEMBER error
// reply); a removed node may still hand its keys off (replica_put_batch, and its own transfer
// progress) for a bounded window (REMOVED_HANDOFF_WINDOW_MS, here shortened) after the receiver learned of the removal, and not
// after; a member asserts owner fields (heartbeat, transfer, state) only about itself.
// Membership runs on the harness (real frames, hand-cranked clock); the node-level refusals run
// in the simulator (real DynakvNode.handle).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SimCluster } from '../../sim/sim-cluster.ts';
import type { MemberRecord } from '../../src/membership/table.ts';
import type { PeerRequest } from '../../src/protocol/messages.ts';
import { EncodedRecord } from '../../src/version/record-codec.ts';
import { answer, TEST_CONFIG, World } from '../membership/harness.ts';
import { testSeed } from '../support/seed.ts';

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];

async function cluster(): Promise<World> {
  const world = new World(IDS);
  world.startAll();
  await world.run(3_000);
  return world;
}

function selfAdd(id: string, epoch: number): MemberRecord {
  return { id, peer: '127.0.0.1:7999', http: '127.0.0.1:7998', status: 'up', epoch, version: epoch, changedBy: id, changedAtMs: 1_000_000, heartbeat: 0, transfer: null, state: 'ready' };
}

function gossip(world: World, to: string, from: string, records: MemberRecord[]): MemberRecord[] {
  const reply = answer(world.node(to), from, { kind: 'gossip', records });
  assert.equal(reply.kind, 'gossip_ok');
  return reply.kind === 'gossip_ok' ? [...reply.records] : [];
}

describe('gossip from a node that is not a member', () => {
  it('a certificate never added pulls the table but cannot put itself (or anyone) in the ring', async () => {
    const world = await cluster();
    const table = gossip(world, 'n3', 'n6', [selfAdd('n6', 1), selfAdd('n7', 1)]);
    assert.deepEqual(table.map((r) => r.id), IDS, 'answered with our table');
    await world.run(5_000);
    for (const id of IDS) assert.deepEqual(world.node(id).table().map((r) => r.id), IDS, `${id}'s table`);
  });

  it('a removed node cannot undo its removal by claiming a higher epoch, and learns it was removed', async () => {
    const world = await cluster();
    const removed = world.node('n1').removeMember('n5');
    await world.runUntil(() => IDS.every((id) => world.node(id).record('n5')?.status === 'removed'), 10_000);
    gossip(world, 'n2', 'n5', [selfAdd('n5', removed.epoch + 1)]);
    await world.run(5_000);
    for (const id of IDS) assert.equal(world.node(id).record('n5')?.status, 'removed', `n5 as ${id} sees it`);
    for (const id of IDS) assert.deepEqual(world.node(id).ring()!.nodes.map((n) => n.id).sort(), ['n1', 'n2', 'n3', 'n4']);
  });

  it('a removed node publishes its own transfer progress within the hand-off window, and nothing else, and nothing after it', async () => {
    const world = await cluster();
    world.node('n1').removeMember('n5');
    await world.runUntil(() => IDS.every((id) => world.node(id).record('n5')?.status === 'removed'), 10_000);
    // n5 stops, so what n2 hears as n5 below is only what this test sends.
    const own = world.node('n5').record('n5')!;
    world.stop('n5');
    const progress = { keysTotal: 10, keysDone: 4, targets: ['n1'] };
    gossip(world, 'n2', 'n5', [{ ...own, heartbeat: own.heartbeat + 1_000, transfer: progress, status: 'up', epoch: own.epoch + 1 }]);
    const seen = world.node('n2').record('n5')!;
    assert.deepEqual([seen.status, seen.epoch, seen.transfer], ['removed', own.epoch, progress], 'owner fields taken, versioned fields not');
    // A restart of n2 keeps the window (its change log says when it learned of the removal).
    await world.run(10);
    world.stop('n2');
    world.start('n2');
    assert.equal(world.node('n2').standingOf('n5'), 'handing-off');
    await world.run(TEST_CONFIG.removedHandoffWindowMs);
    assert.equal(world.node('n2').standingOf('n5'), 'stranger');
    gossip(world, 'n2', 'n5', [{ ...own, heartbeat: own.heartbeat + 2_000, transfer: null }]);
    assert.notEqual(world.node('n2').record('n5')!.heartbeat, own.heartbeat + 2_000, 'after the window nothing is taken');
  });
});

describe('owner fields are their owner\'s word alone', () => {
  it("a member's record about another node keeps our copy of that node's heartbeat, transfer and state", async () => {
    const world = await cluster();
    const ours = world.node('n1').record('n3')!;
    const claim: MemberRecord = { ...ours, heartbeat: ours.heartbeat + 100, state: 'syncing', transfer: { keysTotal: 5, keysDone: 0, targets: ['n2'] } };
    gossip(world, 'n1', 'n2', [claim]);
    const after = world.node('n1').record('n3')!;
    assert.deepEqual([after.heartbeat, after.state, after.transfer], [ours.heartbeat, ours.state, ours.transfer]);
    // The same record from n3 itself is taken.
    gossip(world, 'n1', 'n3', [claim]);
    assert.deepEqual([world.node('n1').record('n3')!.state, world.node('n1').record('n3')!.heartbeat], ['syncing', claim.heartbeat]);
  });
});

describe('data requests from a node that is not a member (simulator, DynakvNode.handle)', () => {
  const record = EncodedRecord.of([{ dot: { node: 'n6#0000000000', counter: 1, timeMs: 0 }, context: [], value: Buffer.from('evil'), contentType: 'text/plain' }]);
  const requests: PeerRequest[] = [
    { kind: 'replica_put', key: 'k', record },
    { kind: 'replica_put_batch', entries: [{ key: 'k', record }] },
    { kind: 'stale_put_batch', entries: [{ key: 'k', record }], removedAtEpoch: 1 },
    { kind: 'hint_put', owner: 'n1', key: 'k', record },
    { kind: 'replica_get', key: 'k' },
    { kind: 'replica_get_batch', keys: ['k'] },
    { kind: 'forward_put', key: 'k', value: Buffer.from('evil'), contentType: 'text/plain', context: [], w: 1 },
    { kind: 'ae_level', range: 'n1', level: 0, indexes: [0] },
    { kind: 'ae_bucket', range: 'n1', leaves: [0] },
    { kind: 'activity' },
  ];

  it('refuses every one with a NOT_A_MEMBER error reply; a removed node may hand keys off within the window only', async () => {
    const seed = testSeed();
    // A grace period of 2 min makes the hand-off window 1 min (at most half the grace period).
    const sim = await SimCluster.start({ seed, config: { tombstoneGraceMs: 120_000 } });
    const { scheduler } = sim;
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    const n1 = sim.node('n1');
    const outcome = async (from: string, request: PeerRequest): Promise<string> => {
      try {
        return (await scheduler.complete(n1.handle(from, request))).kind;
      } catch (err) {
        return (err as { code?: string }).code ?? String(err);
      }
    };
    for (const request of requests) assert.equal(await outcome('n6', request), 'NOT_A_MEMBER', `seed ${seed}: ${request.kind} from a stranger`);
    assert.equal(await outcome('n6', { kind: 'ping' }), 'pong');
    assert.equal(await outcome('n6', { kind: 'gossip', records: [selfAdd('n6', 1)] }), 'gossip_ok');
    assert.equal(n1.membership.record('n6'), undefined, `seed ${seed}: n6 not merged`);
    assert.equal(n1.store.read('k').length, 0, `seed ${seed}: nothing written`);

    n1.membership.removeMember('n5');
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    for (const request of requests.filter((r) => r.kind !== 'replica_put_batch' && r.kind !== 'stale_put_batch')) assert.equal(await outcome('n5', request), 'NOT_A_MEMBER', `seed ${seed}: ${request.kind} from a removed node`);
    assert.equal(await outcome('n5', { kind: 'replica_put_batch', entries: [{ key: 'handed-off', record }] }), 'replica_put_ok', `seed ${seed}: hand-off within the window`);
    await scheduler.runUntil(scheduler.nowMs + 60_000);
    assert.equal(await outcome('n5', { kind: 'replica_put_batch', entries: [{ key: 'too-late', record }] }), 'NOT_A_MEMBER', `seed ${seed}: hand-off after the window`);
    for (const id of sim.ids) sim.node(id).stop();
  });

  it("takes a re-added node's data from before its removal only within the window of that very removal (harsh seed 55805)", async () => {
    const seed = testSeed();
    const sim = await SimCluster.start({ seed, config: { tombstoneGraceMs: 120_000 } });
    const { scheduler } = sim;
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    const n1 = sim.node('n1');
    const outcome = async (request: PeerRequest): Promise<string> => {
      try {
        return (await scheduler.complete(n1.handle('n5', request))).kind;
      } catch (err) {
        return (err as { code?: string }).code ?? String(err);
      }
    };
    const stale = (key: string, removedAtEpoch: number): PeerRequest => ({ kind: 'stale_put_batch', entries: [{ key, record }], removedAtEpoch });
    const before = n1.membership.record('n5')!;
    assert.equal(await outcome(stale('never-removed', before.epoch + 1)), 'HANDOFF_CLOSED', `seed ${seed}: no removal seen, no stale hand-off`);
    const removed = n1.membership.removeMember('n5');
    await scheduler.runUntil(scheduler.nowMs + 1_000);
    const readded = n1.membership.addMember('n5', before.peer, before.http);
    assert.equal(readded.epoch, removed.epoch + 1);
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    assert.equal(n1.membership.removedHandoffOpen(), true, `seed ${seed}: the re-add keeps purges paused for the window`);
    assert.equal(await outcome(stale('other-epoch', removed.epoch - 2)), 'HANDOFF_CLOSED', `seed ${seed}: another removal's epoch`);
    assert.equal(await outcome(stale('within', removed.epoch)), 'replica_put_ok', `seed ${seed}: within the window`);
    assert.equal(n1.store.read('within').length, 1);
    await scheduler.runUntil(scheduler.nowMs + 60_000);
    assert.equal(await outcome(stale('too-late', removed.epoch)), 'HANDOFF_CLOSED', `seed ${seed}: after the window`);
    assert.equal(n1.membership.removedHandoffOpen(), false, `seed ${seed}: purges resume after the window`);
    assert.equal(n1.store.read('too-late').length, 0);
    assert.equal(await outcome({ kind: 'replica_put_batch', entries: [{ key: 'member-write', record }] }), 'replica_put_ok', `seed ${seed}: as a member it writes as any member`);
    for (const id of sim.ids) sim.node(id).stop();
  });
});

