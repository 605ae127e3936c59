// Production Storage on LMDB (lmdb-js v3): one environment per node, one named database per Space,
// raw UTF-8 keys (code point order) and raw byte values. Owns durability: commit() resolves only
// after LMDB has fdatasync'ed the data pages and written the meta page through its O_DSYNC file
// handle. Verified for lmdb 3.5.6 with strace (see test/storage/lmdb-storage.test.ts) and by reading
// write.js/writer.cpp. Must not enable noSync, noMetaSync, mapAsync, caching or overlappingSync.
import { assert } from '../env/assert.ts';
import { mkdir } from 'node:fs/promises';
import { open, type Database, type RootDatabase } from 'lmdb';
import { SPACES, StorageError, type ScanOptions, type Space, type Storage, type StorageEntry, type StorageWrite } from '../env/storage.ts';
import { assertScanBound, assertScanLimit, checkWrites, KEY_BYTES_MAX, keyProblem } from './storage-keys.ts';

export interface LmdbStorageOptions {
  /**
   * Initial map size (default MAP_SIZE_DEFAULT); lmdb-js grows the map by itself when it fills.
   * Address space only: the file grows with the data.
   */
  readonly mapSizeBytes?: number;
  /** Told of every commit that took at least `slowCommitMs` from call to durable (for a warning log). */
  readonly onSlowCommit?: (info: { writes: number; ms: number }) => void;
  /** Default SLOW_COMMIT_MS_DEFAULT. */
  readonly slowCommitMs?: number;
}

type SpaceDb = Database<Buffer, Buffer>;

/**
 * 16 GiB of address space. lmdb-js would start at 128 KiB and double the map as the store
 * grows, remapping it each time inside a write transaction; a large initial map makes those
 * remaps rare (none below 16 GiB of data).
 */
export const MAP_SIZE_DEFAULT = 16 * 1024 ** 3;

/** A commit this slow (call to durable) is reported to onSlowCommit. */
export const SLOW_COMMIT_MS_DEFAULT = 500;

export async function openLmdbStorage(dir: string, options: LmdbStorageOptions = {}): Promise<LmdbStorage> {
  try {
    await mkdir(dir, { recursive: true });
    const env: RootDatabase<Buffer, Buffer> = open(dir, {
      // A dot in the last path segment would otherwise make lmdb-js treat `dir` as a file name.
      noSubdir: false,
      encoding: 'binary',
      keyEncoding: 'binary',
      // Values are opaque bytes (already-encoded records); compression would also bind every
      // future open of this directory to the same setting.
      compression: false,
      // With overlappingSync (the lmdb-js default off Windows) a batch is visible before it is
      // flushed and the docs promise durability only through the separate `flushed` thenable,
      // which tracks the latest batch, not ours. Classic LMDB commits fdatasync before the meta
      // page, so the promise of our own transaction is the durable point.
      overlappingSync: false,
      mapSize: options.mapSizeBytes ?? MAP_SIZE_DEFAULT,
    });
    const dbs = new Map<Space, SpaceDb>(SPACES.map((space) => [space, env.openDB<Buffer, Buffer>(space, { encoding: 'binary', keyEncoding: 'binary' })]));
    return new LmdbStorage(env, dbs, options.onSlowCommit, options.slowCommitMs ?? SLOW_COMMIT_MS_DEFAULT);
  } catch (err) {
    throw new StorageError(`cannot open LMDB storage at ${dir}: ${String(err)}`, { cause: err });
  }
}

export class LmdbStorage implements Storage {
  private closed = false;
  /** Commits not yet settled; close() lets them finish so none is cut off half-reported. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly env: RootDatabase<Buffer, Buffer>,
    private readonly dbs: ReadonlyMap<Space, SpaceDb>,
    private readonly onSlowCommit?: (info: { writes: number; ms: number }) => void,
    private readonly slowCommitMs = SLOW_COMMIT_MS_DEFAULT,
  ) {
    for (const db of dbs.values()) {
      const { maxKeySize } = db as unknown as { maxKeySize?: unknown };
      assert(typeof maxKeySize !== 'number' || maxKeySize >= KEY_BYTES_MAX, () => `LMDB max key size ${String(maxKeySize)} is below KEY_BYTES_MAX ${KEY_BYTES_MAX}`);
    }
  }

  get(space: Space, key: string): Uint8Array | undefined {
    const db = this.db(space);
    // A key that could never be stored is simply absent (and LMDB would throw on some of them).
    if (keyProblem(key) !== undefined) return undefined;
    // getBinaryFast answers a view of a buffer that the next get overwrites (or of the map):
    // copied at once, it is one copy where getBinary and ours made two.
    const bytes = db.getBinaryFast(encodeKey(key));
    return bytes === undefined ? undefined : ownedCopy(bytes);
  }

  commit(writes: readonly StorageWrite[]): Promise<void> {
    try {
      this.assertOpen();
      checkWrites(writes);
    } catch (err) {
      return Promise.reject(err);
    }
    if (writes.length === 0) return Promise.resolve();
    // Copy now: lmdb-js may read value bytes on its writer thread after put() returns, and the
    // caller may reuse its arrays meanwhile.
    const ops = writes.map((w) => ({ db: this.db(w.space), key: encodeKey(w.key), value: w.value === null ? null : Buffer.from(w.value) }));
    // One batch: its writes are queued as instructions and applied by lmdb-js's writer thread
    // inside a single transaction, so the B-tree work stays off the event loop (a child
    // transaction runs its callback on the main thread while the writer thread waits for it).
    // The callback only queues pre-built buffers and cannot throw past checkWrites, so the
    // batch is all or nothing.
    // Batches issued in the same event turn share one LMDB transaction (group commit), so
    // concurrent commit() calls cost one fdatasync between them.
    const done = this.env
      .batch(() => {
        for (const op of ops) {
          if (op.value === null) void op.db.remove(op.key);
          else void op.db.put(op.key, op.value);
        }
      })
      .then(
        () => undefined,
        (err: unknown) => {
          throw new StorageError(`LMDB commit of ${writes.length} writes failed: ${String(err)}`, { cause: err });
        },
      );
    this.inFlight.add(done);
    const startedMs = performance.now();
    const forget = (): void => {
      this.inFlight.delete(done);
      const ms = performance.now() - startedMs;
      if (ms >= this.slowCommitMs) this.onSlowCommit?.({ writes: writes.length, ms: Math.round(ms) });
    };
    done.then(forget, forget);
    return done;
  }

  scan(space: Space, options: ScanOptions = {}): Iterable<StorageEntry> {
    const db = this.db(space);
    if (options.reverse === true) {
      return {
        *[Symbol.iterator](): Iterator<StorageEntry> {
          for (const entry of reverseRange(db, options, true)) yield { key: decodeKey(entry.key), value: ownedCopy(entry.value!) };
        },
      };
    }
    const range = lmdbRange(options);
    if (range === undefined) return [];
    return {
      // Each iteration opens its own cursor on a read snapshot taken when iteration begins; leaving
      // the loop early closes it through the generator's return().
      *[Symbol.iterator](): Iterator<StorageEntry> {
        for (const entry of db.getRange(range)) yield { key: decodeKey(entry.key), value: ownedCopy(entry.value) };
      },
    };
  }

  scanKeys(space: Space, options: ScanOptions = {}): Iterable<string> {
    const db = this.db(space);
    if (options.reverse === true) {
      return {
        *[Symbol.iterator](): Iterator<string> {
          for (const entry of reverseRange(db, options, false)) yield decodeKey(entry.key);
        },
      };
    }
    const range = lmdbRange(options);
    if (range === undefined) return [];
    return {
      *[Symbol.iterator](): Iterator<string> {
        for (const key of db.getKeys(range)) yield decodeKey(key as Buffer);
      },
    };
  }

  count(space: Space): number {
    // getStats reads the B-tree header (O(1)); getCount would walk every key.
    const { entryCount } = this.db(space).getStats() as { entryCount?: unknown };
    assert(typeof entryCount === 'number', 'LMDB stats have no entryCount');
    return entryCount;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    try {
      await this.env.close();
    } catch (err) {
      throw new StorageError(`closing LMDB failed: ${String(err)}`, { cause: err });
    }
  }

  private db(space: Space): SpaceDb {
    this.assertOpen();
    const db = this.dbs.get(space);
    if (db === undefined) throw new StorageError(`unknown space ${JSON.stringify(space)}`);
    return db;
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('storage is closed');
  }
}

function encodeKey(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

function decodeKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
}

/** The end of a reverse scan that reads to the first key (see reverseRange). */
const LOWEST = Buffer.alloc(0);

/**
 * A descending scan: an LMDB reverse cursor from `end` down, skipping `end` itself (exclusive) and
 * stopping below `start` (inclusive), so the bounds mean what they mean ascending.
 */
function* reverseRange(db: SpaceDb, { start, end, limit }: ScanOptions, values: boolean): Generator<{ readonly key: Buffer; readonly value?: Buffer }> {
  assertScanBound(start, 'start');
  assertScanBound(end, 'end');
  assertScanLimit(limit);
  if (end === '' || limit === 0) return;
  const upper = end === undefined ? undefined : encodeKey(end);
  const lower = start === undefined || start === '' ? undefined : encodeKey(start);
  let yielded = 0;
  // An explicit empty end: without one, lmdb-js stops a reverse cursor above the one-byte key 0x00.
  const range = { ...(upper === undefined ? {} : { start: upper }), end: LOWEST, reverse: true };
  const entries = values ? db.getRange(range) : db.getKeys(range);
  for (const entry of entries) {
    const key = (values ? (entry as { key: Buffer }).key : entry) as Buffer;
    if (upper !== undefined && Buffer.compare(key, upper) >= 0) continue;
    if (lower !== undefined && Buffer.compare(key, lower) < 0) return;
    yield values ? { key, value: (entry as { value: Buffer }).value } : { key };
    if (limit !== undefined && ++yielded >= limit) return;
  }
}

/** The LMDB range of scan options, or undefined when it admits no key. */
function lmdbRange({ start, end, limit }: ScanOptions): { start?: Buffer; end?: Buffer; limit?: number } | undefined {
  assertScanBound(start, 'start');
  assertScanBound(end, 'end');
  assertScanLimit(limit);
  // No key is empty, so '' as start is no bound and '' as end admits nothing; LMDB would read an
  // empty end buffer as "no end".
  if (end === '') return undefined;
  return {
    ...(start === undefined || start === '' ? {} : { start: encodeKey(start) }),
    ...(end === undefined ? {} : { end: encodeKey(end) }),
    ...(limit === undefined ? {} : { limit }),
  };
}

/**
 * A plain Uint8Array the caller owns. lmdb-js reuses one read buffer across gets (overriding its
 * `length`), so copy exactly `length` bytes; plain rather than Buffer so results compare equal to
 * MemoryStorage's under deepStrictEqual.
 */
function ownedCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  return copy;
}
