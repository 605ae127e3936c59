// Attack finding 3 on issue 13: one gossip frame carrying a count near 2^53 (a version, a
// heartbeat or an epoch) bricked a node: its next increment left the safe integers, peers refused
// its gossip, and once it saved its table it no longer started. Five nodes run on the membership
// harness (real frame encoding, hand-cranked clock); the attack's frames are sent as the receiving
// transport would hand them over, from a member (a compromised or buggy node: the bound must hold
// even for them) and from a certificate that is no member. Afterwards every node's saved table
// parses, every node restarts, and no count in any table passes MEMBERSHIP_COUNT_MAX. Counts at
// the bound are accepted but never incremented past it; an operator's remove and re-add (a new
// epoch) restarts a version that reached it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPersisted } from '../../src/membership/persisted.ts';
import { MEMBERSHIP_COUNT_MAX, type MemberRecord } from '../../src/membership/table.ts';
import { parsePeerRequest } from '../../src/protocol/messages.ts';
import { answer, httpOf, overTheWire, peerOf, World } from '../membership/harness.ts';

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];
const MAX = Number.MAX_SAFE_INTEGER;
const NOW = 1_000_000;

/** The frames of /tmp/review-attack/gossip-brick.sh, with this harness's addresses. */
function brickFrames(count: number): unknown[] {
  const rec = { id: 'n4', peer: peerOf(IDS, 'n4'), http: httpOf(IDS, 'n4'), status: 'down', epoch: 0, version: count, changedBy: 'n6', changedAtMs: NOW, heartbeat: 0, transfer: null, state: 'ready' };
  const rec2 = { id: 'zz', peer: '127.0.0.1:9', http: '', status: 'removed', epoch: 1, version: 1, changedBy: 'n6', changedAtMs: NOW, heartbeat: 0, transfer: null, state: 'ready' };
  return [
    { kind: 'gossip', records: [rec] },
    { kind: 'gossip', records: [rec2] },
  ];
}

/** The same attack through a heartbeat and through an epoch (then re-added by an operator). */
function heartbeatFrame(world: World, count: number): unknown {
  return { kind: 'gossip', records: [{ ...world.node('n4').record('n4')!, heartbeat: count }] };
}

function epochFrame(count: number): unknown {
  return { kind: 'gossip', records: [{ id: 'zz', peer: '127.0.0.1:9', http: '', status: 'removed', epoch: count, version: count, changedBy: 'n2', changedAtMs: NOW, heartbeat: 0, transfer: null, state: 'ready' }] };
}

/** What the receiving transport does: parse, then hand a valid request to the node. */
function deliver(world: World, to: string, from: string, frame: unknown): boolean {
  const request = parsePeerRequest(overTheWire(frame));
  if (request === undefined) return false;
  answer(world.node(to), from, request);
  return true;
}

function countsOf(records: readonly MemberRecord[]): number[] {
  return records.flatMap((r) => [r.epoch, r.version, r.heartbeat]);
}

/** Every node's saved table parses with counts within the bound, and every node restarts. */
async function assertHealthy(world: World): Promise<void> {
  await world.run(10); // lets the last writes land
  for (const id of IDS) {
    const table = readPersisted(world.storages.get(id)!).table;
    assert.ok(!table.ok || table.value.length > 0, `${id} saved its table`);
    assert.ok(table.ok, `${id}'s saved table: ${table.ok ? '' : table.problem}`);
    assert.ok(countsOf(table.value).every((c) => c <= MEMBERSHIP_COUNT_MAX), `${id}'s saved counts: ${countsOf(table.value).join(',')}`);
  }
  for (const id of IDS) {
    world.stop(id);
    world.start(id); // throws CORRUPT_TABLE if the saved table no longer parses
  }
  for (const id of IDS) assert.ok(countsOf(world.node(id).table()).every((c) => c <= MEMBERSHIP_COUNT_MAX), `${id}'s counts after restart`);
}

async function cluster(): Promise<World> {
  const world = new World(IDS);
  world.startAll();
  await world.run(3_000);
  return world;
}

describe('gossip counts near 2^53 (the gossip-brick attack)', () => {
  for (const from of ['n6', 'n2']) {
    it(`the attack's frames from ${from} brick no node: every table parses and every node restarts`, async () => {
      const world = await cluster();
      for (const frame of brickFrames(MAX)) deliver(world, 'n4', from, frame);
      await world.run(5_000);
      await assertHealthy(world);
      await world.run(5_000);
      for (const id of IDS) assert.equal(world.node(id).record('n4')?.status, 'up', `n4 as ${id} sees it`);
    });
  }

  it('refuses counts beyond MEMBERSHIP_COUNT_MAX at the boundary, in versions, heartbeats and epochs', async () => {
    const world = await cluster();
    for (const frame of [brickFrames(MEMBERSHIP_COUNT_MAX + 1)[0], heartbeatFrame(world, MAX), heartbeatFrame(world, MEMBERSHIP_COUNT_MAX + 1), epochFrame(MAX)]) {
      assert.equal(deliver(world, 'n4', 'n2', frame), false, JSON.stringify(frame).slice(0, 120));
    }
    // An operator re-adding the id afterwards (the attack's epoch variant) works as usual.
    world.node('n1').addMember('zz', '127.0.0.1:9', '');
    await world.run(3_000);
    await assertHealthy(world);
  });

  it('accepts counts at the bound from a member but never increments past it; an operator remove and re-add heals the version', async () => {
    const world = await cluster();
    assert.ok(deliver(world, 'n4', 'n2', brickFrames(MEMBERSHIP_COUNT_MAX)[0]), 'a version at the bound parses');
    // A heartbeat at the bound: about n4 to n4 (it must jump past, but cannot), and as if from n4 to n1.
    assert.ok(deliver(world, 'n4', 'n2', heartbeatFrame(world, MEMBERSHIP_COUNT_MAX)), 'a heartbeat at the bound parses');
    assert.ok(deliver(world, 'n1', 'n4', heartbeatFrame(world, MEMBERSHIP_COUNT_MAX)));
    assert.ok(deliver(world, 'n1', 'n2', epochFrame(MEMBERSHIP_COUNT_MAX)), 'an epoch at the bound parses');
    await world.run(5_000);
    // The epoch is spent: the operator is told so, and nothing changes.
    assert.throws(() => world.node('n1').addMember('zz', '127.0.0.1:9', ''), { code: 'COUNT_LIMIT' });
    await assertHealthy(world);
    // n4 could not refute past the bound, so it stays down in that epoch until an operator acts.
    await world.run(3_000);
    world.node('n1').removeMember('n4');
    await world.run(3_000);
    world.node('n1').addMember('n4', peerOf(IDS, 'n4'), httpOf(IDS, 'n4'));
    await world.runUntil(() => IDS.every((id) => world.node(id).record('n4')?.status === 'up' && world.node(id).record('n4')!.version < MEMBERSHIP_COUNT_MAX), 30_000);
    await assertHealthy(world);
  });
});
