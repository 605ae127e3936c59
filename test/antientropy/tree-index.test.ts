// Issue 14 section 2: the Merkle trees are built in pages (the event loop turns between them)
// and carry an index of keys by leaf, so a bucket listing costs the bucket, not the store.
// Shown here on a real ReplicaStore over memory storage: writes, overwrites and deletes landing
// between the pages of a build (on keys the build has read and on keys it has not) leave trees
// and index equal to a fresh build of the final store; a build answers no peer until it ends;
// listing one bucket reads that bucket's keys only. Two states real storage reaches (found in
// review): a batch LMDB shows before its commit resolves (the build must read what the observers
// last saw), and a record found corrupt after it was indexed (the index rebuilds, no assertion).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AntiEntropy } from '../../src/antientropy/anti-entropy.ts';
import { MerkleTree } from '../../src/antientropy/merkle-tree.ts';
import { REBUILD_PAGE_KEYS, TreeIndex } from '../../src/antientropy/tree-index.ts';
import { silentLog } from '../../src/env/log.ts';
import type { ScanOptions, Space, Storage, StorageEntry, StorageWrite } from '../../src/env/storage.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import { Ring } from '../../src/ring/ring.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { encodeRecord } from '../../src/version/record-codec.ts';
import { SeededRandom } from '../../sim/seeded-random.ts';
import { testSeed } from '../support/seed.ts';
import { IDS, live, SteppedClock } from './harness.ts';

const KEYS = 5 * REBUILD_PAGE_KEYS;

async function filledStore(keys: readonly string[]): Promise<{ storage: MemoryStorage; store: ReplicaStore }> {
  const storage = new MemoryStorage();
  await storage.commit(keys.map((key) => ({ space: 'data' as const, key, value: encodeRecord(live(key)) })));
  return { storage, store: new ReplicaStore(storage, 'data', silentLog) };
}

function describeIndex(index: TreeIndex, ring: Ring): { roots: string[]; keys: string[] } {
  const ranges = ring.rangesReplicatedBy('n1', 3).map((r) => r.node);
  const leaves = Array.from({ length: index.tree(ranges[0]!)!.leafCount }, (_, i) => i);
  return {
    roots: ranges.map((r) => index.tree(r)!.root()),
    keys: ranges.flatMap((r) => index.bucket(r, leaves)).sort(),
  };
}

describe('Merkle trees built in pages, with keys by leaf', () => {
  it('writes between the pages of a build leave trees and index as a fresh build of the final store', async () => {
    const seed = testSeed();
    const random = new SeededRandom(seed);
    const ring = Ring.of([...IDS]);
    const keys = Array.from({ length: KEYS }, (_, i) => `k${String(i).padStart(6, '0')}`);
    const { store } = await filledStore(keys);
    const clock = new SteppedClock(1_000_000, 1_000);
    const index = new TreeIndex({ self: 'n1', n: 3, store, clock, log: silentLog, onDrift: () => {} });
    store.observe((key, before, after) => void index.apply(key, before, after));
    const built = index.rebuild(ring);
    assert.equal(index.isReady, false, 'a store of several pages is not read at once');
    assert.equal(index.tree(ring.rangesReplicatedBy('n1', 3)[0]!.node), undefined, 'no tree is answered during a build');
    // Between pages: overwrite, delete and add keys all over the key space (read and unread).
    let turns = 0;
    while (!index.isReady) {
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < 50; i++) {
        const key = keys[random.nextInt(keys.length)]!;
        const roll = random.nextInt(3);
        if (roll === 0) writes.push(store.merge(key, live(`${key}-again`)));
        else if (roll === 1) writes.push(store.removeIfUnchanged(key, store.read(key)));
        else writes.push(store.merge(`new-${turns}-${i}`, live('new')));
      }
      await Promise.all(writes);
      turns++;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert.equal(await built, true);
    assert.ok(turns >= KEYS / REBUILD_PAGE_KEYS - 1, `seed ${seed}: the build yielded ${turns} times`);

    const fresh = new TreeIndex({ self: 'n1', n: 3, store, clock, log: silentLog, onDrift: () => {} });
    assert.equal(await fresh.rebuild(ring), true);
    assert.deepEqual(describeIndex(index, ring), describeIndex(fresh, ring), `seed ${seed}: the index drifted from the store`);
    const stored = store.keys(undefined, 10 * KEYS).filter((k) => ring.rangesReplicatedBy('n1', 3).some((r) => r.node === ring.homeOf(k)));
    assert.deepEqual(describeIndex(index, ring).keys, stored.sort(), `seed ${seed}: the index lists exactly the stored keys`);
  });

  it('a newer build replaces a running one; the older resolves false', async () => {
    const ring = Ring.of([...IDS]);
    const { store } = await filledStore(Array.from({ length: KEYS }, (_, i) => `k${i}`));
    const index = new TreeIndex({ self: 'n1', n: 3, store, clock: new SteppedClock(0, 0), log: silentLog, onDrift: () => {} });
    const first = index.rebuild(ring);
    const second = index.rebuild(Ring.of(['n1', 'n2', 'n3', 'n4']));
    assert.deepEqual([await first, await second], [false, true]);
    assert.equal(index.ring?.nodes.length, 4);
  });

  it('listing one bucket reads the keys of that bucket, not the store', async () => {
    const ring = Ring.of([...IDS]);
    const keys = Array.from({ length: 20_000 }, (_, i) => `key-${i}`);
    const filled = await filledStore(keys);
    let reads = 0;
    const counting = new Proxy(filled.storage, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'get') return (space: Space, key: string) => (reads++, target.get(space, key));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const store = new ReplicaStore(counting, 'data', silentLog);
    const ae = loneAntiEntropy(store);
    await ae.rebuild(ring);
    const range = ring.rangesReplicatedBy('n1', 3)[0]!.node;
    const probe = new MerkleTree();
    const leaf = probe.leafOf(keys.find((k) => ring.homeOf(k) === range)!);
    const inLeaf = keys.filter((k) => ring.homeOf(k) === range && probe.leafOf(k) === leaf);
    assert.ok(inLeaf.length > 0, 'the leaf holds keys');
    reads = 0;
    const reply = await ae.handle({ kind: 'ae_bucket', range, leaves: [leaf] });
    assert.ok(reply.kind === 'ae_bucket_ok');
    assert.deepEqual(reply.entries.map(([k]) => k).sort(), inLeaf.sort());
    assert.ok(reads <= inLeaf.length, `listing a bucket of ${inLeaf.length} keys read ${reads} records (of ${keys.length} stored)`);
  });
});

/** n1's anti-entropy over `store`, with no peers: for what it answers and builds on its own. */
function loneAntiEntropy(store: ReplicaStore): AntiEntropy {
  return new AntiEntropy({
    self: 'n1',
    n: 3,
    store,
    transport: { request: () => Promise.reject(new Error('no peers')), serve() {}, close: async () => {} },
    clock: new SteppedClock(1_000_000, 1_000),
    random: { nextFloat: () => 0, nextInt: () => 0 },
    log: silentLog,
    intervalMs: 10_000,
    requestTimeoutMs: 1_000,
    onState: () => {},
    tombstoneGraceMs: 60_000,
    removedHandoffOpen: () => false,
  });
}

/** Like lmdb-js: a committed batch is visible to reads before its commit resolves. */
class VisibleBeforeResolved implements Storage {
  constructor(private readonly inner: MemoryStorage) {}
  get(space: Space, key: string): Uint8Array | undefined {
    return this.inner.get(space, key);
  }
  commit(writes: readonly StorageWrite[]): Promise<void> {
    // Long enough that the build walks past the written keys before the commit resolves.
    return this.inner.commit(writes).then(() => new Promise<void>((resolve) => setTimeout(resolve, 1_500)));
  }
  scanKeys(space: Space, options?: ScanOptions): Iterable<string> {
    return this.inner.scanKeys(space, options);
  }
  scan(space: Space, options?: ScanOptions): Iterable<StorageEntry> {
    return this.inner.scan(space, options);
  }
  count(space: Space): number {
    return this.inner.count(space);
  }
  async close(): Promise<void> {}
}

describe('Merkle index against storage as it really behaves (review findings)', () => {
  for (const first of [true, false]) {
    it(`a batch visible before its commit resolves, read by a ${first ? 'first' : 'later'} build: no assertion, writes acknowledged, index equal to the store`, async () => {
      const inner = new MemoryStorage();
      const keys = Array.from({ length: 5 * REBUILD_PAGE_KEYS }, (_, i) => `k${String(i).padStart(6, '0')}`);
      await inner.commit(keys.map((key) => ({ space: 'data' as const, key, value: encodeRecord(live(key)) })));
      const store = new ReplicaStore(new VisibleBeforeResolved(inner), 'data', silentLog);
      const ring = Ring.of([...IDS]);
      let drifts = 0;
      const index = new TreeIndex({ self: 'n1', n: 3, store, clock: new SteppedClock(0, 0), log: silentLog, onDrift: () => drifts++ });
      const errors: unknown[] = [];
      store.observe((key, before, after) => {
        try {
          index.apply(key, before, after);
        } catch (err) {
          errors.push(err);
        }
      });
      const built = first ? index.rebuild(ring, () => {}) : index.rebuild(ring);
      // New keys and overwrites near the end of the key space while the build is on its first pages.
      const writes = [
        ...Array.from({ length: 200 }, (_, i) => store.merge(`k${String(4 * REBUILD_PAGE_KEYS + 500 + i)}x`, live('new'))),
        ...keys.slice(-200).map((key) => store.merge(key, live(`${key}-again`))),
        // Deletes: gone from the key listing while their commit is still in flight.
        ...keys.slice(-400, -200).map((key) => store.removeIfUnchanged(key, store.read(key))),
      ];
      await Promise.all(writes);
      assert.equal(await built, true);
      assert.deepEqual(errors, [], 'the commit observer threw');
      assert.equal(drifts, 0);
      const fresh = new TreeIndex({ self: 'n1', n: 3, store, clock: new SteppedClock(0, 0), log: silentLog, onDrift: () => {} });
      await fresh.rebuild(ring);
      assert.deepEqual(describeIndex(index, ring), describeIndex(fresh, ring), 'the index drifted from the store');
    });
  }

  it('a record found corrupt after a build indexed it: the next write rebuilds the index instead of asserting', async () => {
    const storage = new MemoryStorage();
    const ring = Ring.of([...IDS]);
    const key = Array.from({ length: 100 }, (_, i) => `c${i}`).find((k) => ring.rangesReplicatedBy('n1', 3).some((r) => r.node === ring.homeOf(k)))!;
    await storage.commit([{ space: 'data', key, value: Buffer.from([0xc1, 0xff, 0x00]) }]);
    const store = new ReplicaStore(storage, 'data', silentLog);
    const ae = loneAntiEntropy(store);
    await ae.rebuild(ring); // first build: finds it corrupt (absent)
    await ae.rebuild(Ring.of([...IDS, 'n6'])); // later builds read committed bytes, not decoded
    await ae.rebuild(ring);
    await store.merge(key, live('fresh'));
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    const range = ring.homeOf(key);
    const reply = await ae.handle({ kind: 'ae_bucket', range, leaves: [new MerkleTree().leafOf(key)] });
    assert.ok(reply.kind === 'ae_bucket_ok', `the index answers again: ${reply.kind}`);
    assert.deepEqual(reply.entries.map(([k]) => k), [key]);
  });

  it('a partition\'s keys (placed by the partition) are listed under the leaf the tree files each under', async () => {
    const ring = Ring.of([...IDS]);
    // A partition n1 replicates.
    const partition = Array.from({ length: 50 }, (_, i) => `\u0000Itable/p${i}`).find((p) => ring.preferenceList(p, 3).includes('n1'))!;
    const keys = Array.from({ length: 40 }, (_, i) => `${partition}\u0001s${i}`);
    const { store } = await filledStore([]);
    const clock = new SteppedClock(1_000_000, 1_000);
    const index = new TreeIndex({ self: 'n1', n: 3, store, clock, log: silentLog, onDrift: () => {} });
    store.observe((key, before, after) => void index.apply(key, before, after));
    await index.rebuild(ring);
    for (const key of keys) await store.merge(key, live(key));
    const range = ring.homeOf(partition);
    const tree = index.tree(range);
    assert.ok(tree !== undefined);
    for (const key of keys) assert.deepEqual(index.bucket(range, [tree.leafOf(key)]).filter((k) => k === key), [key], key);
    assert.ok(new Set(keys.map((k) => tree.leafOf(k))).size > 20, 'spread over leaves');
  });
});
