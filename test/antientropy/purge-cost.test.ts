// Review F6: one purgeTombstones call walked every tombstone of the node synchronously, with an
// MD5 ring position per tombstone of other ranges (300,000 waiting tombstones blocked the event
// loop ~1 s). Shown here: n1 holds 300,000 old tombstones of the two other ranges it replicates
// (not purgeable: those ranges never completed a sync) and 25,000 purgeable ones of the range
// being purged. While one purge call runs, a probe on the event loop counts the work done
// between two of its turns (store reads and writes, ring positions computed) and the CPU time;
// one call purges at most PURGE_TOMBSTONES_PER_ROUND_MAX, later calls the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PURGE_PAGE_TOMBSTONES, PURGE_TOMBSTONES_PER_ROUND_MAX } from '../../src/antientropy/anti-entropy.ts';
import type { ScanOptions, Space, Storage, StorageEntry, StorageWrite } from '../../src/env/storage.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { Ring } from '../../src/ring/ring.ts';
import { encodeRecord } from '../../src/version/record-codec.ts';
import { aeCluster, IDS, keysOfRange, live, tombstoneOf } from './harness.ts';

const GRACE_MS = 60_000;
const WAITING = 300_000;
const PURGEABLE = 25_000;
/** A page's work (a read, a removal and a ring position per tombstone), with room to spare. */
const WORK_PER_TURN_MAX = 5 * PURGE_PAGE_TOMBSTONES;
/**
 * CPU time between two turns: a page takes about 1 ms; this allows for a collection of the
 * test's large heap (the shared host makes wall time useless), far below the ~1 s of before.
 */
const CPU_PER_TURN_MS_MAX = 150;

const work = { count: 0 };

/** Counts the reads and writes of the 'data' space. */
class CountingStorage implements Storage {
  constructor(private readonly inner: Storage) {}
  get(space: Space, key: string): Uint8Array | undefined {
    work.count++;
    return this.inner.get(space, key);
  }
  commit(writes: readonly StorageWrite[]): Promise<void> {
    work.count += writes.length;
    return this.inner.commit(writes);
  }
  scan(space: Space, options?: ScanOptions): Iterable<StorageEntry> {
    return this.inner.scan(space, options);
  }
  scanKeys(space: Space, options?: ScanOptions): Iterable<string> {
    return this.inner.scanKeys(space, options);
  }
  count(space: Space): number {
    return this.inner.count(space);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The ring, counting every ring position computed for a key. */
function countingRing(ring: Ring): Ring {
  return new Proxy(ring, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'homeOf' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return (key: string) => {
        work.count++;
        return (value as (key: string) => string).call(target, key);
      };
    },
  });
}

/** Runs `fn` while a probe re-arms itself on the event loop: the most work and CPU between two turns. */
async function perTurn<T>(fn: () => Promise<T>): Promise<{ result: T; work: number; cpuMs: number }> {
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let most = { work: 0, cpuMs: 0 };
  let last = { work: work.count, cpuMs: cpuMs() };
  let running = true;
  const turn = () => {
    const now = { work: work.count, cpuMs: cpuMs() };
    most = { work: Math.max(most.work, now.work - last.work), cpuMs: Math.max(most.cpuMs, now.cpuMs - last.cpuMs) };
    last = now;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  last = { work: work.count, cpuMs: cpuMs() };
  const result = await fn();
  turn();
  running = false;
  return { result, ...most };
}

describe('tombstone purge cost', () => {
  it('pages the walk: no call does much between turns of the event loop, and one call examines a bounded number', async () => {
    const ring = Ring.of([...IDS]);
    const ranges = ring.rangesReplicatedBy('n1', 3).map((r) => r.node);
    const target = 'n1';
    const replicas = ring.homeRanges(3).find((r) => r.node === target)!.replicas;
    const storages = new Map<string, MemoryStorage>(IDS.map((id) => [id, new MemoryStorage()]));
    // Waiting tombstones of the other ranges, on n1 only.
    const waiting = ranges.filter((r) => r !== target).flatMap((r) => keysOfRange(ring, r, WAITING / 2, `waiting-${r}-`));
    const tomb = encodeRecord(tombstoneOf(live('x')));
    await storages.get('n1')!.commit(waiting.map((key) => ({ space: 'data' as const, key, value: tomb })));
    // Purgeable tombstones of the target range, on each of its replicas (so syncs find them equal).
    const purgeable = keysOfRange(ring, target, PURGEABLE, 'gone-');
    for (const id of replicas) await storages.get(id)!.commit(purgeable.map((key) => ({ space: 'data' as const, key, value: tomb })));
    const c = aeCluster({ graceMs: GRACE_MS, storages: new Map<string, Storage>([...storages].map(([id, s]) => [id, id === 'n1' ? new CountingStorage(s) : s])) });
    const n1 = c.node('n1');
    await n1.ae.rebuild(countingRing(ring));
    for (const node of c.nodes.values()) node.clock.advance(GRACE_MS + 1_000);
    for (const peer of replicas.filter((id) => id !== 'n1')) assert.equal((await n1.ae.syncRange(target, peer)).complete, true);

    const calls = [await perTurn(() => n1.ae.purgeTombstones(target))];
    assert.equal(calls[0]!.result, Math.min(PURGEABLE, PURGE_TOMBSTONES_PER_ROUND_MAX), 'one call purged more than its bound');
    while (calls.length < 10 && calls.reduce((sum, c) => sum + c.result, 0) < PURGEABLE) calls.push(await perTurn(() => n1.ae.purgeTombstones(target)));
    calls.push(await perTurn(() => n1.ae.purgeTombstones(target))); // nothing left to purge
    console.log(`${WAITING} waiting tombstones, ${PURGEABLE} purgeable: calls purged ${calls.map((c) => c.result).join(', ')}; most work between turns ${Math.max(...calls.map((c) => c.work))}, most CPU ${Math.max(...calls.map((c) => c.cpuMs)).toFixed(1)} ms`);
    assert.equal(calls.reduce((sum, c) => sum + c.result, 0), PURGEABLE);
    assert.equal(calls.at(-1)!.result, 0);
    for (const [i, call] of calls.entries()) {
      assert.ok(call.work <= WORK_PER_TURN_MAX, `purge call ${i} did ${call.work} reads, writes and ring positions between two turns of the event loop`);
      assert.ok(call.cpuMs <= CPU_PER_TURN_MS_MAX, `purge call ${i} blocked the event loop for ${call.cpuMs.toFixed(1)} ms of CPU`);
    }
    for (const key of purgeable.slice(0, 100)) assert.equal(n1.store.read(key).length, 0, key);
    assert.equal(n1.store.count(), WAITING, 'only the purgeable tombstones went');
  });
});
