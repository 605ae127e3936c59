// ReplicaStore's decoded-record cache must never change what a read returns: reads after
// writes, after eviction (more keys or more bytes than the cache holds) and after a removal
// all answer what the storage holds, and commit observers see the exact bytes on disk as `before`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DECODED_CACHE_BYTES_MAX, DECODED_CACHE_KEYS_MAX, ReplicaStore } from '../../src/replication/replica-store.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { decodeRecord } from '../../src/version/record-codec.ts';
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
