// The injected durable store: an ordered byte map split into named spaces, committed in atomic
// batches. Core modules (replication, handoff, anti-entropy) persist only through this interface.
// Production: src/storage/lmdb-storage.ts. Tests and simulation: src/storage/memory-storage.ts.

/** Separate key spaces: a node's own replicas, hints held for other nodes, and node metadata. */
export type Space = 'data' | 'hints' | 'meta';

export const SPACES: readonly Space[] = ['data', 'hints', 'meta'];

/** One change in a batch: `value === null` removes the key. */
export interface StorageWrite {
  readonly space: Space;
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface StorageEntry {
  readonly key: string;
  readonly value: Uint8Array;
}

export interface ScanOptions {
  /** Inclusive lower bound (string order of keys). */
  readonly start?: string;
  /** Exclusive upper bound. */
  readonly end?: string;
  /** At most this many entries. */
  readonly limit?: number;
  /** Descending key order (still within [start, end)): the last `limit` keys first. */
  readonly reverse?: boolean;
}

export interface Storage {
  /** The committed value of `key`, or undefined. Synchronous: it never sees uncommitted writes. */
  get(space: Space, key: string): Uint8Array | undefined;
  /**
   * Applies every write atomically (all or none) and resolves only once the batch is durable:
   * after the promise resolves, a crash of the process or the machine keeps the whole batch;
   * before, a crash keeps all of it or none of it. Rejects with StorageError if the batch failed.
   */
  commit(writes: readonly StorageWrite[]): Promise<void>;
  /** Committed entries of a space in ascending key order (UTF-8 byte order == JS string order for BMP keys). */
  scan(space: Space, options?: ScanOptions): Iterable<StorageEntry>;
  /** The keys `scan` would yield with the same options, without reading or copying values. */
  scanKeys(space: Space, options?: ScanOptions): Iterable<string>;
  /** Number of committed keys in a space. */
  count(space: Space): number;
  /** Flushes and releases the store; no call is allowed afterwards. */
  close(): Promise<void>;
}

export class StorageError extends Error {
  readonly code = 'STORAGE_FAILED' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
  }
}
