// Shows that ring placement follows the seed spec: MD5 positions as 128-bit big-endian integers,
// home node = greatest position <= the key's (wrapping to the highest), preference list = home plus
// distinct successors, home ranges tiling the ring. Hand-picked cases pin the edges (wrap, exact
// hit, ties, fewer nodes than N); fast-check properties compare the ring against a brute-force
// oracle on random id sets and keys, and on tiny position spaces where ties are common.
// Randomised runs print their seed; rerun one with DYNAKV_SEED=<seed>.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  homeRangeContains,
  positionHex,
  Ring,
  ringPosition,
  type HomeRange,
  type RingNode,
} from '../../src/ring/ring.ts';

// fast-check seeds are 32-bit integers; keep the printed seed exactly the one used.
const seed = process.env.DYNAKV_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.DYNAKV_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`DYNAKV_SEED must be an integer, got ${process.env.DYNAKV_SEED}`);
console.log(`ring.test.ts fast-check seed=${seed} (rerun with DYNAKV_SEED=${seed})`);
const fcOptions = { seed, numRuns: 200 };

const TOP = (1n << 128n) - 1n;

/** Straight from the spec, by linear scan, sharing no code with Ring. */
function oracleHome(nodes: readonly RingNode[], p: bigint): string {
  const byOrder = (a: RingNode, b: RingNode): number =>
    a.position !== b.position ? (a.position < b.position ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  const atOrBelow = nodes.filter((n) => n.position <= p);
  const pool = atOrBelow.length > 0 ? atOrBelow : nodes;
  const best = [...pool].sort(byOrder).at(-1);
  assert.ok(best !== undefined);
  return best.id;
}

function ringWith(entries: Array<[string, bigint]>): Ring {
  return Ring.withPositions(entries.map(([id, position]) => ({ id, position })));
}

describe('ringPosition', () => {
  it('is the MD5 digest read as an unsigned big-endian 128-bit integer', () => {
    // Well-known digests (RFC 1321 test suite and the classic pangram).
    assert.equal(positionHex(ringPosition('')), 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal(positionHex(ringPosition('a')), '0cc175b9c0f1b6a831c399e269772661');
    assert.equal(positionHex(ringPosition('abc')), '900150983cd24fb0d6963f7d28e17f72');
    assert.equal(
      ringPosition('The quick brown fox jumps over the lazy dog'),
      0x9e107d9d372bb6826bd81d3542a419d6n,
    );
  });

  it('hashes the UTF-8 bytes of the text', async () => {
    const { createHash } = await import('node:crypto');
    const utf8 = Buffer.from([0xc3, 0xa9]); // 'é' in UTF-8; latin1 would be the single byte 0xe9
    assert.equal(ringPosition('é'), BigInt('0x' + createHash('md5').update(utf8).digest('hex')));
  });

  it('positionHex pads to 32 lowercase digits and rejects values off the ring', () => {
    assert.equal(positionHex(0n), '0'.repeat(32));
    assert.equal(positionHex(0xabn), '0'.repeat(30) + 'ab');
    assert.equal(positionHex(TOP), 'f'.repeat(32));
    assert.throws(() => positionHex(-1n));
    assert.throws(() => positionHex(TOP + 1n));
  });
});

describe('Ring construction', () => {
  it('orders nodes by position whatever the input order', () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const a = Ring.of(ids);
    const b = Ring.of([...ids].reverse());
    assert.deepEqual(a.nodes, b.nodes);
    for (let i = 1; i < a.nodes.length; i++) assert.ok(a.nodes[i - 1]!.position < a.nodes[i]!.position);
    for (const n of a.nodes) assert.equal(n.position, ringPosition(n.id));
  });

  it('rejects an empty list and duplicate ids', () => {
    assert.throws(() => Ring.of([]), /at least one node/);
    assert.throws(() => Ring.of(['n1', 'n2', 'n1']), /duplicate/);
  });

  it('has() knows its members', () => {
    const ring = Ring.of(['n1', 'n2']);
    assert.ok(ring.has('n1'));
    assert.ok(!ring.has('n3'));
    assert.equal(ring.size, 2);
  });

  it('breaks position ties by id', () => {
    const ring = ringWith([['b', 10n], ['a', 10n], ['c', 5n]]);
    assert.deepEqual(ring.nodes.map((n) => n.id), ['c', 'a', 'b']);
    // The later of the tied nodes is home for the shared position; the earlier owns an empty range.
    assert.equal(ring.homeOfPosition(10n), 'b');
    const ranges = ring.homeRanges(3);
    assert.deepEqual(ranges.find((r) => r.node === 'a'), { node: 'a', position: 10n, start: 10n, end: 10n, wraps: false, replicas: ['a', 'b', 'c'] });
  });
});

describe('home node', () => {
  const ring = ringWith([['low', 100n], ['mid', 200n], ['high', 300n]]);

  it('is the node with the greatest position <= the key position', () => {
    assert.equal(ring.homeOfPosition(150n), 'low');
    assert.equal(ring.homeOfPosition(250n), 'mid');
    assert.equal(ring.homeOfPosition(TOP), 'high');
  });

  it('is the node itself when the key sits exactly on its position', () => {
    assert.equal(ring.homeOfPosition(100n), 'low');
    assert.equal(ring.homeOfPosition(200n), 'mid');
    assert.equal(ring.homeOfPosition(300n), 'high');
    assert.equal(ring.homeOfPosition(199n), 'low');
  });

  it('wraps to the highest node for keys below every node', () => {
    assert.equal(ring.homeOfPosition(0n), 'high');
    assert.equal(ring.homeOfPosition(99n), 'high');
  });

  it('wraps for real keys too (MD5 positions)', () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const md5Ring = Ring.of(ids);
    const lowest = md5Ring.nodes[0]!.position;
    const highest = md5Ring.nodes.at(-1)!;
    let key = '';
    for (let i = 0; key === ''; i++) if (ringPosition(`k${i}`) < lowest) key = `k${i}`;
    assert.equal(md5Ring.homeOf(key), highest.id);
    // A node's own id hashes to its own position, so it is its own home.
    for (const id of ids) assert.equal(md5Ring.homeOf(id), id);
  });
});

describe('preference list', () => {
  const ring = ringWith([['a', 10n], ['b', 20n], ['c', 30n], ['d', 40n]]);

  it('is the home node then its successors clockwise, wrapping', () => {
    assert.deepEqual(ring.preferenceListOfPosition(25n, 3), ['b', 'c', 'd']);
    assert.deepEqual(ring.preferenceListOfPosition(35n, 3), ['c', 'd', 'a']);
    assert.deepEqual(ring.preferenceListOfPosition(5n, 3), ['d', 'a', 'b']);
    assert.deepEqual(ring.preferenceListOfPosition(40n, 1), ['d']);
  });

  it('holds every node once when there are fewer nodes than N', () => {
    assert.deepEqual(ring.preferenceListOfPosition(25n, 10), ['b', 'c', 'd', 'a']);
    const single = Ring.of(['solo']);
    assert.deepEqual(single.preferenceList('any key', 3), ['solo']);
    const pair = Ring.of(['n1', 'n2']);
    assert.deepEqual(new Set(pair.preferenceList('k', 3)), new Set(['n1', 'n2']));
    assert.equal(pair.preferenceList('k', 3).length, 2);
  });

  it('rejects N < 1', () => {
    assert.throws(() => ring.preferenceListOfPosition(1n, 0));
    assert.throws(() => ring.preferenceList('k', 1.5));
  });
});

describe('successors and predecessors', () => {
  const ring = ringWith([['a', 10n], ['b', 20n], ['c', 30n]]);

  it('walk the ring in each direction, nearest first, never including the node', () => {
    assert.deepEqual(ring.successors('b', 1), ['c']);
    assert.deepEqual(ring.successors('c', 2), ['a', 'b']);
    assert.deepEqual(ring.successors('a', 10), ['b', 'c']);
    assert.deepEqual(ring.successors('a', 0), []);
    assert.deepEqual(ring.predecessors('a', 1), ['c']);
    assert.deepEqual(ring.predecessors('b', 5), ['a', 'c']);
    assert.deepEqual(Ring.of(['solo']).successors('solo', 3), []);
  });

  it('throw for a node that is not in the ring', () => {
    assert.throws(() => ring.successors('zz', 1), /not in the ring/);
    assert.throws(() => ring.predecessors('zz', 1), /not in the ring/);
  });
});

describe('home ranges', () => {
  it('describe each node range, the highest one wrapping to the lowest', () => {
    const ring = ringWith([['a', 10n], ['b', 20n], ['c', 30n]]);
    assert.deepEqual(ring.homeRanges(2), [
      { node: 'a', position: 10n, start: 10n, end: 20n, wraps: false, replicas: ['a', 'b'] },
      { node: 'b', position: 20n, start: 20n, end: 30n, wraps: false, replicas: ['b', 'c'] },
      { node: 'c', position: 30n, start: 30n, end: 10n, wraps: true, replicas: ['c', 'a'] },
    ]);
    assert.deepEqual(ring.rangesReplicatedBy('a', 2).map((r) => r.node), ['a', 'c']);
    assert.deepEqual(ring.rangesReplicatedBy('a', 3).map((r) => r.node), ['a', 'b', 'c']);
    assert.deepEqual(ring.rangesReplicatedBy('zz', 3), []);
  });

  it('give a single node the whole ring', () => {
    const [range] = Ring.of(['solo']).homeRanges(3);
    assert.ok(range !== undefined && range.wraps && range.start === range.end);
    for (const p of [0n, range.start, TOP]) assert.ok(homeRangeContains(range, p));
  });

  it('cover the ring exactly once: consecutive, ending where they began', () => {
    const ring = Ring.of(['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
    const ranges = ring.homeRanges(3);
    assert.equal(ranges.length, 7);
    assert.equal(ranges.filter((r) => r.wraps).length, 1);
    for (let i = 0; i < ranges.length; i++) {
      const next: HomeRange = ranges[(i + 1) % ranges.length]!;
      assert.equal(ranges[i]!.end, next.start);
    }
    for (const p of [0n, 1n, TOP, ...ranges.flatMap((r) => [r.start, r.start - 1n, r.start + 1n])]) {
      if (p < 0n || p > TOP) continue;
      assert.equal(ranges.filter((r) => homeRangeContains(r, p)).length, 1, `position ${p}`);
    }
  });
});

describe('properties (fast-check)', () => {
  const ids = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), { minLength: 1, maxLength: 12 });
  const key = fc.string({ maxLength: 40, unit: 'grapheme' });
  const n = fc.integer({ min: 1, max: 6 });

  it('home node is the max position <= key position, else the max overall', () => {
    fc.assert(
      fc.property(ids, key, (nodeIds, k) => {
        const ring = Ring.of(nodeIds);
        assert.equal(ring.homeOf(k), oracleHome(ring.nodes, ringPosition(k)));
      }),
      fcOptions,
    );
  });

  it('preference list = home + successors, distinct, min(N, size) long', () => {
    fc.assert(
      fc.property(ids, key, n, (nodeIds, k, replicas) => {
        const ring = Ring.of(nodeIds);
        const list = ring.preferenceList(k, replicas);
        const home = ring.homeOf(k);
        assert.deepEqual(list, [home, ...ring.successors(home, replicas - 1)]);
        assert.equal(list.length, Math.min(replicas, nodeIds.length));
        assert.equal(new Set(list).size, list.length);
        for (const id of list) assert.ok(ring.has(id));
      }),
      fcOptions,
    );
  });

  it('every key lies in exactly one home range: its home node range, with its preference list', () => {
    fc.assert(
      fc.property(ids, key, n, (nodeIds, k, replicas) => {
        const ring = Ring.of(nodeIds);
        const p = ringPosition(k);
        const containing = ring.homeRanges(replicas).filter((r) => homeRangeContains(r, p));
        assert.equal(containing.length, 1);
        assert.equal(containing[0]!.node, ring.homeOf(k));
        assert.deepEqual(containing[0]!.replicas, ring.preferenceList(k, replicas));
      }),
      fcOptions,
    );
  });

  it('the ring does not depend on the order of the ids', () => {
    fc.assert(
      fc.property(ids.chain((a) => fc.tuple(fc.constant(a), fc.shuffledSubarray(a, { minLength: a.length }))), ([a, b]) => {
        assert.deepEqual(Ring.of(a).nodes, Ring.of(b).nodes);
      }),
      fcOptions,
    );
  });

  it('successors and predecessors are inverse walks', () => {
    fc.assert(
      fc.property(ids, fc.nat(), fc.integer({ min: 0, max: 14 }), (nodeIds, pick, count) => {
        const ring = Ring.of(nodeIds);
        const id = nodeIds[pick % nodeIds.length]!;
        const succ = ring.successors(id, count);
        assert.equal(succ.length, Math.min(count, nodeIds.length - 1));
        assert.ok(!succ.includes(id));
        if (succ.length > 0) assert.deepEqual(ring.predecessors(succ.at(-1)!, succ.length), [...succ.slice(0, -1)].reverse().concat(id));
      }),
      fcOptions,
    );
  });

  it('holds on tiny position spaces where ties and exact hits are common', () => {
    const smallNodes = fc.uniqueArray(
      fc.record({ id: fc.string({ minLength: 1, maxLength: 3 }), position: fc.bigInt({ min: 0n, max: 8n }) }),
      { minLength: 1, maxLength: 8, selector: (node) => node.id },
    );
    fc.assert(
      fc.property(smallNodes, fc.bigInt({ min: 0n, max: 9n }), n, (nodes, p, replicas) => {
        const ring = Ring.withPositions(nodes);
        const home = ring.homeOfPosition(p);
        assert.equal(home, oracleHome(nodes, p));
        assert.deepEqual(ring.preferenceListOfPosition(p, replicas), [home, ...ring.successors(home, replicas - 1)]);
        const containing = ring.homeRanges(replicas).filter((r) => homeRangeContains(r, p));
        assert.deepEqual(containing.map((r) => r.node), [home]);
      }),
      fcOptions,
    );
  });
});
