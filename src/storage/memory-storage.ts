// Storage held in process memory, for tests and the simulator: same contract as LMDB (the shared
// suite in test/storage/ runs against both), no I/O and no timers, so a seeded run replays exactly.
// "Durable" here means "committed": nothing survives the object. It copies bytes in and out so no
// caller can change stored state behind its back.
import { SPACES, StorageError, type ScanOptions, type Space, type Storage, type StorageEntry, type StorageWrite } from '../env/storage.ts';
import { assertScanBound, assertScanLimit, checkWrites, compareKeys } from './storage-keys.ts';

export class MemoryStorage implements Storage {
  // Stored arrays are private copies and never mutated, so a scan snapshot may share them.
  private readonly spaces = new Map<Space, Map<string, Uint8Array>>(SPACES.map((s) => [s, new Map()]));
  private closed = false;

  get(space: Space, key: string): Uint8Array | undefined {
    const value = this.space(space).get(key);
    return value === undefined ? undefined : value.slice();
  }

  commit(writes: readonly StorageWrite[]): Promise<void> {
    try {
      this.assertOpen();
      checkWrites(writes);
    } catch (err) {
      return Promise.reject(err);
    }
    // Validation passed, so nothing below can fail part-way: the batch is all-or-nothing.
    for (const w of writes) {
      const space = this.space(w.space);
      if (w.value === null) space.delete(w.key);
      else space.set(w.key, w.value.slice());
    }
    return Promise.resolve();
  }

  scanKeys(space: Space, options: ScanOptions = {}): Iterable<string> {
    const entries = this.scan(space, options);
    return {
      *[Symbol.iterator](): Iterator<string> {
        for (const entry of entries) yield entry.key;
      },
    };
  }

  scan(space: Space, options: ScanOptions = {}): Iterable<StorageEntry> {
    const entries = this.space(space);
    const { start, end, limit, reverse } = options;
    assertScanBound(start, 'start');
    assertScanBound(end, 'end');
    assertScanLimit(limit);
    return {
      // Like an LMDB cursor, each iteration reads the state as of when it begins.
      *[Symbol.iterator](): Iterator<StorageEntry> {
        const snapshot = [...entries]
          .filter(([key]) => (start === undefined || compareKeys(key, start) >= 0) && (end === undefined || compareKeys(key, end) < 0))
          .sort(([a], [b]) => (reverse === true ? compareKeys(b, a) : compareKeys(a, b)))
          .slice(0, limit);
        for (const [key, value] of snapshot) yield { key, value: value.slice() };
      },
    };
  }

  count(space: Space): number {
    return this.space(space).size;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private space(space: Space): Map<string, Uint8Array> {
    this.assertOpen();
    const entries = this.spaces.get(space);
    if (entries === undefined) throw new StorageError(`unknown space ${JSON.stringify(space)}`);
    return entries;
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('storage is closed');
  }
}
