// ReplicaStore's decoded-record cache must never change what a read returns: reads after
// writes, after eviction (more keys or more bytes than the cache holds) and after a removal
// all answer what the storage holds, and commit observers see the exact bytes on disk as `before`.
// A record on disk that does not decode (attack review finding 4) reads as absent, is reported
// once with its key and counted, and a write of the key replaces it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DECODED_CACHE_BYTES_MAX, DECODED_CACHE_KEYS_MAX, ReplicaStore } from '../../src/replication/replica-store.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { decodeRecord, encodeRecord } from '../../src/version/record-codec.ts';
import { RecordingLog } from '../transport/wait-for.ts';
import { siblingsEqual, type Sibling } from '../../src/version/siblings.ts';

function version(counter: number, value: Uint8Array): Sibling[] {
  return [{ dot: { node: 'n1', counter, timeMs: 0 }, context: [], value, contentType: 'application/octet-stream' }];
}

describe('ReplicaStore decoded-record cache', () => {
  it('reads what storage holds through eviction by count and by bytes, and after removal', async () => {
    const storage = new MemoryStorage();
    const store = new ReplicaStore(storage);
    const befores: Array<{ key: string; before: Uint8Array | undefined }> = [];
    store.observe((key, before) => befores.push({ key, before }));
    // By count: more keys than the cache holds.
    const keys = DECODED_CACHE_KEYS_MAX + 50;
    await Promise.all(Array.from({ length: keys }, (_, i) => store.replace(`k${i}`, version(1, Buffer.from(`v${i}`)))));
    for (const i of [0, 1, keys - 1]) assert.ok(siblingsEqual(store.read(`k${i}`), version(1, Buffer.from(`v${i}`))));
    // By bytes: records of 1 MiB until well past the byte budget, each read back intact.
    const big = Math.ceil(DECODED_CACHE_BYTES_MAX / (1024 * 1024)) + 4;
    for (let i = 0; i < big; i++) await store.replace(`big${i}`, version(1, Buffer.alloc(1024 * 1024, i)));
    for (let i = 0; i < big; i++) assert.equal(Buffer.from(store.read(`big${i}`)[0]!.value!).readUInt8(0), i);
    // An overwrite's observer sees the exact committed bytes as `before`, cached or not.
    for (const key of ['k0', `k${keys - 1}`, 'big0']) {
      const onDisk = storage.get('data', key)!;
      await store.replace(key, version(2, Buffer.from('new')));
      const seen = befores.filter((b) => b.key === key).at(-1)!.before!;
      assert.deepEqual(Buffer.from(seen), Buffer.from(onDisk));
      assert.equal(decodeRecord(storage.get('data', key)!)[0]!.dot.counter, 2);
      assert.equal(store.read(key)[0]!.dot.counter, 2);
    }
    // A removal reads as absent.
    await store.replace('k1', []);
    assert.deepEqual(store.read('k1'), []);
    assert.equal(storage.get('data', 'k1'), undefined);
  });
});

describe('ReplicaStore with a corrupt record on disk', () => {
  it('reads it as absent (never served), reports it once by key, counts it, and a write replaces it', async () => {
    const storage = new MemoryStorage();
    await storage.commit([
      { space: 'data', key: 'bad', value: Buffer.from('deadbeef', 'hex') },
      { space: 'data', key: 'good', value: encodeRecord(version(1, Buffer.from('g'))) },
    ]);
    const log = new RecordingLog();
    const store = new ReplicaStore(storage, 'data', log);
    const seen: Array<{ key: string; before: Uint8Array | undefined }> = [];
    store.observe((key, before) => seen.push({ key, before }));
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(store.read('bad'), []);
      assert.equal(store.readEncoded('bad').siblings.length, 0);
      assert.equal(store.committedBytes('bad'), undefined, 'observers and Merkle trees see it as absent');
    }
    assert.equal(store.read('good')[0]!.dot.counter, 1);
    assert.equal(store.corruptRecords, 1);
    const reports = log.entries.filter((e) => JSON.stringify(e.obj).includes('"bad"'));
    assert.equal(reports.length, 1, `reported ${reports.length} times`);
    assert.equal(reports[0]!.level, 'error');
    // Read repair or anti-entropy merges the replicas' version in: it replaces the corrupt bytes.
    await store.merge('bad', version(2, Buffer.from('repaired')));
    assert.equal(seen.find((s) => s.key === 'bad')!.before, undefined, 'the observers were told of a change from absent');
    assert.equal(decodeRecord(storage.get('data', 'bad')!)[0]!.dot.counter, 2);
    assert.equal(new ReplicaStore(storage).read('bad')[0]!.dot.counter, 2);
  });
});
