// Pins the failure detector's exact count (issue 13, section 4): with missedPingsMax = 3, one
// and two consecutive missed pings leave a peer up (suspect only), the third marks it down, and
// an answered ping resets the count. Two nodes on a manual clock; only b's pings to x are
// dropped, and each step waits for the n-th timed-out ping, so the counts are exact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { World } from './harness.ts';

function view(world: World): { locallyDown: boolean; suspect: boolean; status: string | undefined } {
  const b = world.node('b');
  return { locallyDown: b.isLocallyDown('x'), suspect: b.isSuspect('x'), status: b.record('x')?.status };
}

const UP = { locallyDown: false, suspect: false, status: 'up' };
const SUSPECT = { locallyDown: false, suspect: true, status: 'up' };
const DOWN = { locallyDown: true, suspect: true, status: 'down' };

describe('failure detector', () => {
  it('marks a peer down on the third consecutive missed ping, not before', async () => {
    const world = new World(['b', 'x']);
    world.startAll();
    await world.runUntil(() => world.answeredPings('b', 'x') >= 2, 5_000);
    assert.deepEqual(view(world), UP);
    world.drop((from, to, kind) => kind === 'ping' && from === 'b' && to === 'x');
    await world.runUntil(() => world.missedPings('b', 'x') === 1, 5_000);
    assert.deepEqual(view(world), SUSPECT, 'after 1 missed ping');
    await world.runUntil(() => world.missedPings('b', 'x') === 2, 5_000);
    assert.deepEqual(view(world), SUSPECT, 'after 2 missed pings');
    assert.equal(world.node('b').detectorTransitions.down, 0);
    await world.runUntil(() => world.missedPings('b', 'x') === 3, 5_000);
    assert.deepEqual(view(world), DOWN, 'after 3 missed pings');
    assert.equal(world.node('b').detectorTransitions.down, 1);
  });

  it('resets the count when a ping is answered', async () => {
    const world = new World(['b', 'x']);
    world.startAll();
    await world.runUntil(() => world.answeredPings('b', 'x') >= 1, 5_000);
    let heal = world.drop((from, to, kind) => kind === 'ping' && from === 'b' && to === 'x');
    await world.runUntil(() => world.missedPings('b', 'x') === 2, 5_000);
    heal();
    const answered = world.answeredPings('b', 'x');
    await world.runUntil(() => world.answeredPings('b', 'x') === answered + 1, 5_000);
    assert.deepEqual(view(world), UP, 'an answer clears the two misses');
    heal = world.drop((from, to, kind) => kind === 'ping' && from === 'b' && to === 'x');
    await world.runUntil(() => world.missedPings('b', 'x') === 4, 5_000);
    assert.deepEqual(view(world), SUSPECT, 'two misses after the answer are still only two');
    await world.runUntil(() => world.missedPings('b', 'x') === 5, 5_000);
    assert.deepEqual(view(world), DOWN, 'the third consecutive miss after the answer');
    heal();
    await world.runUntil(() => world.node('b').record('x')?.status === 'up', 5_000);
    assert.deepEqual(view(world), UP, 'an answer brings it back up');
    assert.deepEqual(world.node('b').detectorTransitions, { down: 1, up: 1 });
  });
});
