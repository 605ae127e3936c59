// The Storage contract, written once and run against every implementation (STYLE.md section 2,
// after Level/abstract-level's shared suite). Each case opens a fresh store through `open`, drives it
// only through the Storage interface, and checks what src/env/storage.ts promises: atomic batches,
// code point key order, copies in and out, StorageError on bad batches and after close.
// A behaviour that differs between implementations fails here for one of them.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SPACES, StorageError, type Space, type Storage, type StorageWrite } from '../../src/env/storage.ts';
import { KEY_BYTES_MAX } from '../../src/storage/storage-keys.ts';

export interface OpenedStorage {
  readonly storage: Storage;
  /** A new Storage over the same backing state; the caller closes the old one first. */
  readonly reopen: () => Promise<Storage>;
  /** Releases everything open() created (closing what is still open, removing files). */
  readonly cleanup: () => Promise<void>;
}

export interface ContractOptions {
  /** Whether committed data must survive close() and reopen() (true for on-disk stores). */
  readonly persistent: boolean;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const put = (space: Space, key: string, value: Uint8Array | string): StorageWrite => ({
  space,
  key,
  value: typeof value === 'string' ? bytes(value) : value,
});
const del = (space: Space, key: string): StorageWrite => ({ space, key, value: null });

function patterned(length: number, salt: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt) & 0xff;
  return out;
}

export function storageContract(name: string, open: () => Promise<OpenedStorage>, options: ContractOptions): void {
  describe(`Storage contract: ${name}`, () => {
    let opened: OpenedStorage;
    let s: Storage;

    beforeEach(async () => {
      opened = await open();
      s = opened.storage;
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    const keysOf = (space: Space, scanOptions?: Parameters<Storage['scan']>[1]): string[] =>
      [...s.scan(space, scanOptions)].map((e) => e.key);

    it('get of a missing key is undefined in every space', () => {
      for (const space of SPACES) assert.equal(s.get(space, 'missing'), undefined);
    });

    it('put then get round-trips the bytes as a plain Uint8Array; a later put replaces', async () => {
      await s.commit([put('data', 'k', 'v1')]);
      assert.deepStrictEqual(s.get('data', 'k'), bytes('v1'));
      await s.commit([put('data', 'k', 'v2')]);
      assert.deepStrictEqual(s.get('data', 'k'), bytes('v2'));
    });

    it('each get answers bytes of its own, whatever is read or written after it, small or large', async () => {
      // LMDB reads through a buffer the next read reuses (and large values through the map):
      // what get() answered must not change with it.
      const sizes = [1, 100, 70_000, 3 * 1024 * 1024];
      const valueOf = (i: number) => new Uint8Array(sizes[i]!).fill(i + 1);
      await s.commit(sizes.map((_, i) => put('data', `k${i}`, valueOf(i))));
      const read = sizes.map((_, i) => s.get('data', `k${i}`)!);
      const again = sizes.map((_, i) => s.get('data', `k${i}`)!);
      await s.commit(sizes.map((_, i) => put('data', `k${i}`, new Uint8Array(sizes[i]!).fill(200))));
      for (let i = 0; i < sizes.length; i++) {
        // Compared as buffers: a diff of megabytes would be the failure's whole message.
        const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
        assert.ok(equal(read[i]!, valueOf(i)), `value ${i} (${sizes[i]} bytes) changed after later reads and writes`);
        read[i]![0] = 99;
        assert.ok(equal(again[i]!, valueOf(i)), `value ${i} (${sizes[i]} bytes): two gets share bytes`);
      }
    });

    it('an empty value is stored and differs from a missing key', async () => {
      await s.commit([put('data', 'empty', new Uint8Array(0))]);
      assert.deepStrictEqual(s.get('data', 'empty'), new Uint8Array(0));
      assert.equal(s.count('data'), 1);
    });

    it('a null value deletes the key; deleting a missing key is fine', async () => {
      await s.commit([put('data', 'k', 'v')]);
      await s.commit([del('data', 'k')]);
      assert.equal(s.get('data', 'k'), undefined);
      await s.commit([del('data', 'never-there')]);
      assert.equal(s.count('data'), 0);
    });

    it('spaces are independent key spaces', async () => {
      await s.commit([put('data', 'k', 'in data'), put('hints', 'k', 'in hints'), put('meta', 'k', 'in meta')]);
      assert.deepStrictEqual(s.get('data', 'k'), bytes('in data'));
      assert.deepStrictEqual(s.get('hints', 'k'), bytes('in hints'));
      assert.deepStrictEqual(s.get('meta', 'k'), bytes('in meta'));
      await s.commit([del('hints', 'k')]);
      assert.equal(s.get('hints', 'k'), undefined);
      assert.deepStrictEqual(s.get('data', 'k'), bytes('in data'));
      assert.deepEqual(SPACES.map((space) => s.count(space)), [1, 0, 1]);
    });

    it('a batch applies several keys across spaces; a later write to the same key in it wins', async () => {
      await s.commit([put('data', 'gone', 'x')]);
      await s.commit([
        put('data', 'a', '1'),
        put('data', 'b', '2'),
        put('hints', 'h', '3'),
        put('meta', 'm', '4'),
        del('data', 'gone'),
        put('data', 'twice', 'first'),
        put('data', 'twice', 'second'),
        put('data', 'put-then-deleted', 'x'),
        del('data', 'put-then-deleted'),
      ]);
      assert.deepEqual(keysOf('data'), ['a', 'b', 'twice']);
      assert.deepStrictEqual(s.get('data', 'twice'), bytes('second'));
      assert.deepStrictEqual(s.get('hints', 'h'), bytes('3'));
      assert.deepStrictEqual(s.get('meta', 'm'), bytes('4'));
    });

    it('an empty batch resolves and changes nothing', async () => {
      await s.commit([]);
      assert.equal(s.count('data'), 0);
    });

    it('a batch with an unstorable write rejects with StorageError and applies none of it', async () => {
      await s.commit([put('data', 'before', 'old')]);
      const bad: Array<[string, StorageWrite]> = [
        ['empty key', put('data', '', 'v')],
        ['key over the byte limit', put('data', 'x'.repeat(KEY_BYTES_MAX + 1), 'v')],
        ['lone surrogate', put('data', 'a\ud800b', 'v')],
        ['unknown space', { space: 'nope' as Space, key: 'k', value: bytes('v') }],
        ['value not bytes', { space: 'data', key: 'k', value: 'text' as unknown as Uint8Array }],
      ];
      for (const [what, write] of bad) {
        await assert.rejects(
          s.commit([put('data', 'before', 'new'), put('meta', 'also', 'new'), write]),
          (err: unknown) => err instanceof StorageError && err.code === 'STORAGE_FAILED',
          what,
        );
        assert.deepStrictEqual(s.get('data', 'before'), bytes('old'), what);
        assert.equal(s.get('meta', 'also'), undefined, what);
      }
      assert.equal(s.count('data'), 1);
    });

    it('get of a key that could never be stored is undefined, not an error', () => {
      assert.equal(s.get('data', ''), undefined);
      assert.equal(s.get('data', 'x'.repeat(KEY_BYTES_MAX + 1)), undefined);
      assert.equal(s.get('data', 'a\ud800b'), undefined);
    });

    it('scan returns entries in ascending key order, start inclusive, end exclusive, at most limit', async () => {
      const keys = ['b', 'a', 'd', 'c', 'e', 'aa', 'a/1', 'A'];
      await s.commit(keys.map((k) => put('data', k, `v-${k}`)));
      await s.commit([put('hints', 'zzz', 'other space')]);
      assert.deepEqual(keysOf('data'), ['A', 'a', 'a/1', 'aa', 'b', 'c', 'd', 'e']);
      assert.deepEqual(keysOf('data', { start: 'b' }), ['b', 'c', 'd', 'e']);
      assert.deepEqual(keysOf('data', { start: 'ab' }), ['b', 'c', 'd', 'e']);
      assert.deepEqual(keysOf('data', { end: 'b' }), ['A', 'a', 'a/1', 'aa']);
      assert.deepEqual(keysOf('data', { start: 'a', end: 'a0' }), ['a', 'a/1']);
      assert.deepEqual(keysOf('data', { start: 'a', limit: 2 }), ['a', 'a/1']);
      assert.deepEqual(keysOf('data', { limit: 0 }), []);
      assert.deepEqual(keysOf('data', { start: 'd', end: 'b' }), []);
      assert.deepEqual(keysOf('data', { start: 'c', end: 'c' }), []);
      assert.deepEqual(keysOf('data', { start: '' }), keysOf('data'));
      assert.deepEqual(keysOf('data', { end: '' }), []);
      assert.deepEqual(keysOf('meta'), []);
      for (const e of s.scan('data')) assert.deepStrictEqual(e.value, bytes(`v-${e.key}`));
      // scanKeys yields exactly the keys scan does, for every bound and limit.
      for (const options of [undefined, { start: 'ab' }, { end: 'b' }, { start: 'a', limit: 2 }, { limit: 0 }, { end: '' }, { start: 'c', end: 'e' }]) {
        assert.deepEqual([...s.scanKeys('data', options)], keysOf('data', options), JSON.stringify(options));
      }
      assert.deepEqual([...s.scanKeys('hints')], ['zzz']);
      // Reverse: the same keys, descending, with the same bounds; the limit takes from the top.
      for (const options of [{}, { start: 'ab' }, { end: 'b' }, { start: 'a', end: 'b' }, { start: 'c', end: 'e' }, { end: '' }, { start: 'd', end: 'b' }]) {
        const ascending = keysOf('data', options);
        assert.deepEqual([...s.scanKeys('data', { ...options, reverse: true })], [...ascending].reverse(), JSON.stringify(options));
        assert.deepEqual([...s.scan('data', { ...options, reverse: true })].map((e) => e.key), [...ascending].reverse(), JSON.stringify(options));
        assert.deepEqual([...s.scanKeys('data', { ...options, reverse: true, limit: 2 })], [...ascending].reverse().slice(0, 2), JSON.stringify(options));
      }
      assert.deepEqual([...s.scanKeys('data', { reverse: true, limit: 0 })], []);
      // The lowest keys too (lmdb-js stopped a reverse cursor above the key U+0000).
      await s.commit(['\u0000', '\u0000\u0000', '\u0001'].map((k) => put('meta', k, k)));
      assert.deepEqual([...s.scanKeys('meta', { reverse: true })], ['\u0001', '\u0000\u0000', '\u0000']);
      assert.deepEqual([...s.scan('meta', { reverse: true, end: '\u0001' })].map((e) => e.key), ['\u0000\u0000', '\u0000']);
    });

    it('a scan iterable reads the state as of when each iteration begins', async () => {
      await s.commit(['a', 'b', 'c'].map((k) => put('data', k, k)));
      const iterable = s.scan('data');
      await s.commit([put('data', 'd', 'd')]);
      assert.deepEqual([...iterable].map((e) => e.key), ['a', 'b', 'c', 'd']);

      const iterator = iterable[Symbol.iterator]();
      assert.equal(iterator.next().value?.key, 'a');
      await s.commit([del('data', 'c'), put('data', 'bb', 'new'), put('data', 'b', 'changed')]);
      const rest: Array<[string, string]> = [];
      for (let r = iterator.next(); r.done !== true; r = iterator.next()) rest.push([r.value.key, new TextDecoder().decode(r.value.value)]);
      assert.deepEqual(rest, [['b', 'b'], ['c', 'c'], ['d', 'd']]);
      assert.deepEqual([...iterable].map((e) => e.key), ['a', 'b', 'bb', 'd']);
    });

    it('leaving a scan early leaves the store usable', async () => {
      await s.commit(['a', 'b', 'c'].map((k) => put('data', k, k)));
      for (const e of s.scan('data')) if (e.key === 'a') break;
      await s.commit([put('data', 'd', 'd')]);
      assert.equal(s.count('data'), 4);
    });

    it('count follows puts, overwrites and deletes per space', async () => {
      assert.equal(s.count('data'), 0);
      await s.commit([put('data', 'a', '1'), put('data', 'b', '2'), put('hints', 'a', '1')]);
      assert.equal(s.count('data'), 2);
      await s.commit([put('data', 'a', 'again')]);
      assert.equal(s.count('data'), 2);
      await s.commit([del('data', 'a')]);
      assert.equal(s.count('data'), 1);
      assert.equal(s.count('hints'), 1);
      assert.equal(s.count('meta'), 0);
    });

    it('unicode keys round-trip and sort in code point (UTF-8 byte) order', async () => {
      const keys = ['ключ/日本', '😀', '\uffff', 'é', 'Z', 'a', '\u0001', 'a\u0000b', '𝄞x', 'ﬀ'];
      await s.commit(keys.map((k) => put('data', k, k)));
      for (const k of keys) assert.deepStrictEqual(s.get('data', k), bytes(k), JSON.stringify(k));
      // Astral characters ('😀', '𝄞') sort after U+FFFF in UTF-8 even though UTF-16 puts them before.
      assert.deepEqual(keysOf('data'), ['\u0001', 'Z', 'a', 'a\u0000b', 'é', 'ключ/日本', 'ﬀ', '\uffff', '𝄞x', '😀']);
      assert.deepEqual(keysOf('data', { start: '\uffff' }), ['\uffff', '𝄞x', '😀']);
      assert.deepEqual(keysOf('data', { start: 'ключ', end: '😀' }), ['ключ/日本', 'ﬀ', '\uffff', '𝄞x']);
    });

    it('keys up to KEY_BYTES_MAX bytes of UTF-8 round-trip', async () => {
      const key1024 = 'k'.repeat(1024);
      const multibyte = '日'.repeat(Math.floor(KEY_BYTES_MAX / 3)) + 'x'.repeat(KEY_BYTES_MAX % 3);
      assert.equal(Buffer.byteLength(multibyte), KEY_BYTES_MAX);
      await s.commit([put('data', key1024, '1024'), put('data', multibyte, 'max')]);
      assert.deepStrictEqual(s.get('data', key1024), bytes('1024'));
      assert.deepStrictEqual(s.get('data', multibyte), bytes('max'));
      assert.deepEqual(keysOf('data'), [key1024, multibyte]);
      await assert.rejects(s.commit([put('data', multibyte + 'x', 'v')]), StorageError);
    });

    it('a 1 MiB value round-trips through get and scan', async () => {
      const big = patterned(1 << 20, 7);
      await s.commit([put('data', 'big', big), put('data', 'small', 's')]);
      assert.deepStrictEqual(s.get('data', 'big'), big);
      assert.deepStrictEqual(s.get('data', 'small'), bytes('s'));
      const [entry] = [...s.scan('data', { limit: 1 })];
      assert.deepStrictEqual(entry?.value, big);
    });

    it('returned and committed bytes do not alias stored state', async () => {
      const input = bytes('original');
      const pending = s.commit([put('data', 'k', input)]);
      input.fill(0); // before the commit resolves: the store must have taken its own copy
      await pending;
      assert.deepStrictEqual(s.get('data', 'k'), bytes('original'));
      input.fill(1);
      const got = s.get('data', 'k');
      assert.ok(got !== undefined);
      got.fill(2);
      const [scanned] = [...s.scan('data')];
      assert.ok(scanned !== undefined);
      scanned.value.fill(3);
      assert.deepStrictEqual(s.get('data', 'k'), bytes('original'));
      assert.deepStrictEqual([...s.scan('data')][0]?.value, bytes('original'));
      // Two gets never share memory either.
      const first = s.get('data', 'k');
      const second = s.get('data', 'k');
      first?.fill(4);
      assert.deepStrictEqual(second, bytes('original'));
    });

    it('concurrent commits all land and all resolve', async () => {
      const commitsMax = 300;
      const batches = Array.from({ length: commitsMax }, (_, i) => [
        put('data', `key-${String(i).padStart(4, '0')}`, patterned(64 + (i % 7), i)),
        put('meta', `last-${i % 10}`, String(i)),
      ]);
      await Promise.all(batches.map((b) => s.commit(b)));
      assert.equal(s.count('data'), commitsMax);
      for (let i = 0; i < commitsMax; i++) {
        assert.deepStrictEqual(s.get('data', `key-${String(i).padStart(4, '0')}`), patterned(64 + (i % 7), i));
      }
      // Commits apply in call order: the last batch to touch a meta key wins.
      for (let j = 0; j < 10; j++) assert.deepStrictEqual(s.get('meta', `last-${j}`), bytes(String(commitsMax - 10 + j)));
    });

    it('a rejected batch among concurrent ones does not disturb the others', async () => {
      const results = await Promise.allSettled([
        s.commit([put('data', 'a', '1')]),
        s.commit([put('data', 'b', '2'), put('data', '', 'bad')]),
        s.commit([put('data', 'c', '3')]),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.deepEqual(keysOf('data'), ['a', 'c']);
    });

    it('after close every call fails with StorageError', async () => {
      await s.commit([put('data', 'k', 'v')]);
      await s.close();
      assert.throws(() => s.get('data', 'k'), StorageError);
      assert.throws(() => s.count('data'), StorageError);
      assert.throws(() => s.scan('data'), StorageError);
      await assert.rejects(s.commit([put('data', 'k', 'v')]), StorageError);
    });

    it('close waits for commits already under way', async () => {
      const pending = s.commit([put('data', 'k', 'v')]);
      await s.close();
      await pending;
    });

    if (options.persistent) {
      it('committed data survives close and reopen', async () => {
        const big = patterned(300_000, 3);
        await s.commit([put('data', 'a', '1'), put('data', 'big', big), put('hints', 'h', 'hint'), put('meta', 'm', 'meta')]);
        await s.commit([del('data', 'a'), put('data', 'b', '2')]);
        await s.close();
        const again = await opened.reopen();
        try {
          assert.deepEqual([...again.scan('data')].map((e) => e.key), ['b', 'big']);
          assert.deepStrictEqual(again.get('data', 'big'), big);
          assert.deepStrictEqual(again.get('hints', 'h'), bytes('hint'));
          assert.deepStrictEqual(again.get('meta', 'm'), bytes('meta'));
          assert.deepEqual(SPACES.map((space) => again.count(space)), [2, 1, 1]);
        } finally {
          await again.close();
        }
      });
    }
  });
}
