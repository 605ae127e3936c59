// One incarnation's view of a node's disk in the simulator: after a crash the old incarnation's
// leftover async work must not write any more (a dead process commits nothing), so its storage
// is fenced: commits reject and reads see nothing new. The MemoryStorage behind it survives.
import { StorageError, type ScanOptions, type Space, type Storage, type StorageEntry, type StorageWrite } from '../src/env/storage.ts';

export class FencedStorage implements Storage {
  private fenced = false;

  constructor(private readonly inner: Storage) {}

  fence(): void {
    this.fenced = true;
  }

  get(space: Space, key: string): Uint8Array | undefined {
    return this.inner.get(space, key);
  }

  commit(writes: readonly StorageWrite[]): Promise<void> {
    if (this.fenced) return Promise.reject(new StorageError('the process crashed'));
    return this.inner.commit(writes);
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

  async close(): Promise<void> {
    this.fenced = true;
  }
}
