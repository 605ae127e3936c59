// Shows that an operator's removal is final (issue 13, finding 3): a failure detector's down/up
// and a node's refutation of its own down happen inside an operator epoch and can never undo a
// removal made at a higher one. Four nodes (a, b, c, x) run on a manual clock and an in-memory
// network carrying real frames; drop rules set up each race, then the network heals and the
// test waits until every table agrees. Only an operator add brings the id back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { World } from './harness.ts';

const IDS = ['a', 'b', 'c', 'x'];

function statusEverywhere(world: World, id: string): string[] {
  return IDS.map((n) => world.node(n).record(id)?.status ?? 'unknown');
}

async function settle(world: World): Promise<void> {
  const agreed = () => {
    const tables = IDS.map((n) => JSON.stringify(world.node(n).table().map((r) => [r.id, r.status, r.version, r.epoch])));
    return tables.every((t) => t === tables[0]);
  };
  await world.runUntil(agreed, 60_000);
  // Agreement can be transient (a refutation still in flight): run on and check again.
  await world.run(10_000);
  await world.runUntil(agreed, 60_000);
}

describe('an operator removal races the failure detector', () => {
  it("(a) b's detector marks x down while a removes x, and x refutes: x ends removed everywhere", async () => {
    const world = new World(IDS);
    world.startAll();
    await world.run(5_000);
    // a hears no gossip, so its removal is concurrent with what follows; b cannot ping x.
    const healA = world.drop((from, to, kind) => kind === 'gossip' && (from === 'a' || to === 'a'));
    const healPing = world.drop((from, to, kind) => kind === 'ping' && from === 'b' && to === 'x');
    await world.runUntil(() => world.node('b').record('x')?.status === 'down', 10_000);
    // x hears of b's down (through b or c) and refutes it with a higher version.
    await world.runUntil(() => world.node('x').record('x')?.changedBy === 'x' && world.node('b').record('x')?.status === 'up', 10_000);
    world.node('a').removeMember('x');
    healPing();
    healA();
    await settle(world);
    assert.deepEqual(statusEverywhere(world, 'x'), ['removed', 'removed', 'removed', 'removed']);
    for (const n of IDS) assert.deepEqual(world.node(n).ring()!.nodes.map((r) => r.id).sort(), ['a', 'b', 'c']);
  });

  it('(b) b flips x down and up before it hears of the removal: x ends removed everywhere', async () => {
    const world = new World(IDS);
    world.startAll();
    await world.run(5_000);
    const healA = world.drop((from, to, kind) => kind === 'gossip' && (from === 'a' || to === 'a'));
    const healPing = world.drop((from, to, kind) => kind === 'ping' && from === 'b' && to === 'x');
    world.node('a').removeMember('x');
    await world.runUntil(() => world.node('b').record('x')?.status === 'down', 10_000);
    healPing();
    await world.runUntil(() => world.node('b').record('x')?.status === 'up', 10_000);
    assert.equal(world.node('b').record('x')?.changedBy, 'b', 'b itself marked x up again');
    healA();
    await settle(world);
    assert.deepEqual(statusEverywhere(world, 'x'), ['removed', 'removed', 'removed', 'removed']);
  });

  it('only an operator add brings a removed id back, at a higher epoch', async () => {
    const world = new World(IDS);
    world.startAll();
    await world.run(5_000);
    const removed = world.node('a').removeMember('x');
    await settle(world);
    assert.deepEqual(statusEverywhere(world, 'x'), ['removed', 'removed', 'removed', 'removed']);
    // x's own refutation never applies to a removal; a down/up from a stale detector neither.
    assert.equal(world.node('x').record('x')?.status, 'removed');
    const added = world.node('c').addMember('x', '127.0.0.1:7104', '127.0.0.1:7004');
    assert.ok(added.epoch > removed.epoch, `epoch ${added.epoch} after ${removed.epoch}`);
    await settle(world);
    assert.deepEqual(statusEverywhere(world, 'x'), ['up', 'up', 'up', 'up']);
  });
});
