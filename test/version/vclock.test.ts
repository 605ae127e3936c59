// Shows the vector clock laws (Dynamo 4.4): merge is a join (commutative, associative,
// idempotent, an upper bound), compare agrees with descends, and pruning keeps the newest
// entries within the limit. Property tests over random clocks; the seed is printed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { advance, compare, descends, merge, prune, isVClock, type VClock } from '../../src/version/vclock.ts';
import { testSeed } from '../support/seed.ts';

const seed = testSeed();
const clockArb: fc.Arbitrary<VClock> = fc
  .dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.record({ counter: fc.integer({ min: 1, max: 20 }), timeMs: fc.integer({ min: 0, max: 1000 }) }))
  .map((d) =>
    Object.entries(d)
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([node, e]) => ({ node, counter: e.counter, timeMs: e.timeMs })),
  );
const counters = (c: VClock) => c.map((e) => [e.node, e.counter]);

describe('vector clocks', () => {
  it('merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        assert.deepEqual(counters(merge(a, b)), counters(merge(b, a)));
        assert.deepEqual(counters(merge(merge(a, b), c)), counters(merge(a, merge(b, c))));
        assert.deepEqual(counters(merge(a, a)), counters(a));
      }),
      { seed },
    );
  });

  it('merge is the least upper bound', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const m = merge(a, b);
        assert.ok(descends(m, a) && descends(m, b));
        assert.ok(isVClock(m));
      }),
      { seed },
    );
  });

  it('compare agrees with descends', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const order = compare(a, b);
        assert.equal(order === 'equal' || order === 'after', descends(a, b));
        assert.equal(order === 'equal' || order === 'before', descends(b, a));
      }),
      { seed },
    );
  });

  it('orders examples as expected', () => {
    const a = advance([], 'n1', 1, 0);
    const b = advance(a, 'n2', 1, 0);
    const c = advance(a, 'n3', 1, 0);
    assert.equal(compare(a, b), 'before');
    assert.equal(compare(b, a), 'after');
    assert.equal(compare(b, c), 'concurrent');
    assert.equal(compare(b, b), 'equal');
    assert.throws(() => advance(b, 'n2', 1, 0), /must advance/);
  });

  it('prunes the oldest entries past the limit', () => {
    const clock: VClock = [
      { node: 'a', counter: 1, timeMs: 100 },
      { node: 'b', counter: 5, timeMs: 50 },
      { node: 'c', counter: 2, timeMs: 300 },
      { node: 'd', counter: 9, timeMs: 200 },
    ];
    assert.deepEqual(prune(clock, 4), clock);
    assert.deepEqual(prune(clock, 2).map((e) => e.node), ['c', 'd']);
    // Entries to keep stay whatever their age, and count towards the limit.
    assert.deepEqual(prune(clock, 2, new Set(['b'])).map((e) => e.node), ['b', 'c']);
    assert.deepEqual(prune(clock, 1, new Set(['a', 'b'])).map((e) => e.node), ['a', 'b']);
    fc.assert(
      fc.property(clockArb, fc.integer({ min: 1, max: 5 }), (c, max) => {
        const p = prune(c, max);
        assert.ok(p.length <= max && isVClock(p));
        assert.ok(descends(c, p), 'pruning only forgets');
      }),
      { seed },
    );
  });

  it('rejects malformed clocks', () => {
    assert.equal(isVClock([{ node: 'b', counter: 1, timeMs: 0 }, { node: 'a', counter: 1, timeMs: 0 }]), false);
    assert.equal(isVClock([{ node: 'a', counter: 0, timeMs: 0 }]), false);
    assert.equal(isVClock([{ node: '', counter: 1, timeMs: 0 }]), false);
    assert.equal(isVClock('x'), false);
  });
});
