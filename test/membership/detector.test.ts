// Pins the failure detector (src/membership/failure-detector.ts, phi accrual; issue 14 section 4,
// and issue 13 section 4's "down after 1 missed ping" mutant): at the defaults (a ping every
// 500 ms, 1 s of acceptable pause) a silent peer is suspect at once but held down only after
// about 2 s of silence, never after 1 s; an answer brings it back at once; pongs that come late
// and irregularly (a saturated CPU) never hold a live peer down; a node cut off from every peer
// holds them down but does not gossip that, and a node in contact with the others does. Nodes on
// a manual clock, with drop and delay rules on the in-memory network.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureDetector, INTERVALS_MAX, phiOf, PHI_DOWN } from '../../src/membership/failure-detector.ts';
import { World } from './harness.ts';

function view(world: World, from = 'b', to = 'x'): { locallyDown: boolean; suspect: boolean; status: string | undefined } {
  const b = world.node(from);
  return { locallyDown: b.isLocallyDown(to), suspect: b.isSuspect(to), status: b.record(to)?.status };
}

const UP = { locallyDown: false, suspect: false, status: 'up' };
const SUSPECT = { locallyDown: false, suspect: true, status: 'up' };
const DOWN = { locallyDown: true, suspect: true, status: 'down' };

describe('phi', () => {
  it('grows with the silence, is 0 well before the mean, and finite or Infinity beyond', () => {
    assert.ok(phiOf(0, 1_500, 100) < 0.01);
    assert.ok(phiOf(1_500, 1_500, 100) > 0.2 && phiOf(1_500, 1_500, 100) < 0.4);
    assert.ok(phiOf(1_900, 1_500, 100) < PHI_DOWN, 'mean + 4 deviations is not down');
    assert.ok(phiOf(2_100, 1_500, 100) >= PHI_DOWN, 'mean + 6 deviations is down');
    assert.equal(phiOf(1e9, 1_500, 100), Infinity);
    let last = -1;
    for (let t = 0; t < 5_000; t += 50) {
      const phi = phiOf(t, 1_500, 300);
      assert.ok(phi >= last, `phi fell at ${t} ms`);
      last = phi;
    }
  });
});

describe('FailureDetector on its own', () => {
  const pauseMs = 1_000;
  /** A detector that has seen `intervals` between heartbeats of x, the last at the returned time. */
  function fed(intervals: readonly number[]): { d: FailureDetector; lastMs: number } {
    const d = new FailureDetector({ acceptablePauseMs: pauseMs });
    let t = 0;
    d.watch('x', t, 500);
    for (const i of intervals) d.heartbeat('x', (t += i), false);
    return { d, lastMs: t };
  }

  it('judges an unwatched peer not at all, and a watched one from its first ping with the expected interval', () => {
    const d = new FailureDetector({ acceptablePauseMs: pauseMs });
    assert.equal(d.phi('y', 1e9), 0);
    assert.equal(d.isDown('y', 1e9), false);
    d.watch('x', 0, 500);
    // The first guess: mean 500 ms, deviation 125 ms (then the 100 ms floor does not apply).
    assert.ok(Math.abs(d.phi('x', 1_500) - phiOf(1_500, 500 + pauseMs, 125)) < 1e-9);
    assert.equal(d.isDown('x', 1_000), false);
    assert.equal(d.isDown('x', 3_000), true);
    d.forget('x');
    assert.equal(d.phi('x', 3_000), 0);
  });

  it('learns the mean and deviation of the intervals, and forgets the oldest past INTERVALS_MAX', () => {
    // After many 2 s intervals a 3 s silence is normal; after many 500 ms ones it is down.
    const slow = fed(Array.from({ length: INTERVALS_MAX }, () => 2_000));
    assert.equal(slow.d.isDown('x', slow.lastMs + 3_000), false);
    const fast = fed(Array.from({ length: INTERVALS_MAX }, () => 500));
    assert.equal(fast.d.isDown('x', fast.lastMs + 3_000), true);
    // A window full of 2 s intervals followed by a full window of 500 ms ones judges like the
    // latter alone: the old ones are gone from both the sum and the squares.
    const shifted = fed([...Array.from({ length: INTERVALS_MAX }, () => 2_000), ...Array.from({ length: INTERVALS_MAX }, () => 500)]);
    for (const silence of [800, 1_500, 1_700, 2_000]) {
      assert.ok(Math.abs(shifted.d.phi('x', shifted.lastMs + silence) - fast.d.phi('x', fast.lastMs + silence)) < 1e-6, `after ${silence} ms`);
    }
  });

  it('does not learn the silence of a peer it held down, nor a heartbeat older than the last', () => {
    const base = fed(Array.from({ length: 50 }, () => 500));
    const d = base.d;
    // Down for 60 s, then back: that gap is not an interval of its heartbeats.
    d.heartbeat('x', base.lastMs + 60_000, true);
    assert.equal(d.lastHeartbeatMs('x'), base.lastMs + 60_000);
    assert.equal(d.isDown('x', base.lastMs + 60_000 + 3_000), true, 'a 60 s interval was learned');
    // A heartbeat stamped before the last one neither moves it back nor counts.
    const ref = fed(Array.from({ length: 50 }, () => 500));
    ref.d.heartbeat('x', ref.lastMs + 60_000, true);
    d.heartbeat('x', base.lastMs + 59_000, false);
    assert.equal(d.lastHeartbeatMs('x'), base.lastMs + 60_000);
    for (const silence of [500, 1_500, 2_000]) {
      assert.ok(Math.abs(d.phi('x', base.lastMs + 60_000 + silence) - ref.d.phi('x', ref.lastMs + 60_000 + silence)) < 1e-9, `after ${silence} ms`);
    }
  });
});

describe('failure detector', () => {
  it('holds a silent peer down after about 2 s of silence, not after 1 s (suspect meanwhile)', async () => {
    const world = new World(['b', 'x', 'y']);
    world.startAll();
    await world.runUntil(() => world.answeredPings('b', 'x') >= 20, 30_000);
    assert.deepEqual(view(world), UP);
    const silentFromMs = world.clock.nowMs();
    world.drop((from, to, kind) => kind === 'ping' && from === 'b' && to === 'x');
    await world.run(1_100);
    assert.deepEqual(view(world), SUSPECT, 'after 1.1 s of silence (two missed pings)');
    assert.equal(world.node('b').detectorTransitions.down, 0);
    await world.runUntil(() => world.node('b').isLocallyDown('x'), 10_000);
    const detectedMs = world.clock.nowMs() - silentFromMs;
    assert.ok(detectedMs >= 1_500 && detectedMs <= 3_000, `held down after ${detectedMs} ms of silence`);
    assert.deepEqual(view(world), DOWN);
    assert.equal(world.node('b').detectorTransitions.down, 1);
  });

  it('brings a peer back up at its first answer', async () => {
    const world = new World(['b', 'x', 'y']);
    world.startAll();
    await world.runUntil(() => world.answeredPings('b', 'x') >= 10, 30_000);
    const heal = world.drop((from, to, kind) => kind === 'ping' && from === 'b' && to === 'x');
    await world.runUntil(() => world.node('b').record('x')?.status === 'down', 10_000);
    heal();
    const answered = world.answeredPings('b', 'x');
    await world.runUntil(() => world.answeredPings('b', 'x') === answered + 1, 5_000);
    await world.run(10);
    assert.deepEqual(view(world), UP, 'one answer brings it back');
    assert.deepEqual(world.node('b').detectorTransitions, { down: 1, up: 1 });
  });

  it('never holds down a live peer whose pongs come 0.6 to 1.4 s late (a saturated CPU)', async () => {
    const world = new World(['b', 'x', 'y']);
    world.startAll();
    await world.runUntil(() => world.answeredPings('b', 'x') >= 20, 30_000);
    let n = 0;
    world.delayReplies((from, _to, kind) => (kind === 'ping' && from === 'b' ? 600 + (n++ % 5) * 200 : 0));
    await world.run(120_000);
    assert.deepEqual(world.node('b').detectorTransitions, { down: 0, up: 0 }, 'the detector flapped');
    assert.equal(world.node('b').record('x')?.status, 'up');
  });

  it('a node cut off from every peer holds them down but does not gossip it; once healed it sees them up at once', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const world = new World(ids);
    world.startAll();
    await world.run(5_000);
    const heal = world.drop((from, to) => from === 'a' || to === 'a');
    await world.run(5_000);
    const a = world.node('a');
    for (const id of ids.slice(1)) {
      assert.equal(a.isLocallyDown(id), true, `a holds ${id} down`);
      assert.equal(a.record(id)?.status, 'up', `a published ${id} down while cut off`);
    }
    // The others, in contact with each other, do publish that a is down.
    assert.equal(world.node('b').record('a')?.status, 'down');
    heal();
    const healedMs = world.clock.nowMs();
    await world.runUntil(() => ids.slice(1).every((id) => !a.isLocallyDown(id)), 5_000);
    assert.ok(world.clock.nowMs() - healedMs <= 600, `a held its peers down ${world.clock.nowMs() - healedMs} ms after the heal`);
    await world.runUntil(() => ids.every((id) => ids.every((other) => world.node(id).record(other)?.status === 'up')), 10_000);
  });

  it('a node in contact with half its peers publishes a down verdict', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const world = new World(ids);
    world.startAll();
    await world.run(5_000);
    world.stop('e');
    await world.runUntil(() => ids.slice(0, 4).every((id) => world.node(id).record('e')?.status === 'down'), 10_000);
    // Two of a's peers gone: a still reaches half of the others, and says so.
    world.stop('d');
    await world.runUntil(() => world.node('a').record('d')?.status === 'down', 10_000);
  });
});
