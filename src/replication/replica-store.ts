// This node's replicas: the sibling sets of the keys it stores, read and merged through the
// injected Storage with group commit. Every change is a join (mergeSiblings), so replica writes,
// read repair and anti-entropy can arrive in any order. A merge resolves only once durable: a
// replica acknowledges nothing that a crash could take back. A record on disk that does not
// decode is reported and counts as absent (to readers, observers and Merkle trees), so read
// repair and anti-entropy rewrite it from the other replicas; it is never served.
import { silentLog, type Log } from '../env/log.ts';
import type { Space, Storage, StorageWrite } from '../env/storage.ts';
import { decodeRecord, EncodedRecord, encodeRecord, RecordCorruptError } from '../version/record-codec.ts';
import { mergeSiblings, siblingsEqual, type Sibling } from '../version/siblings.ts';

/** Keys per LMDB transaction: bounds a commit's size and the latency of the writes behind it. */
export const COMMIT_BATCH_WRITES_MAX = 2_000;

/**
 * Decoded records kept in memory, most recently used last. Under a skewed load a few keys take
 * most requests, and each write reads its key two or three times (coordinator, replica merge,
 * read repair); this saves the LMDB read and the decode. Only committed states enter it, and
 * every change goes through this class, so it never disagrees with the disk.
 */
export const DECODED_CACHE_KEYS_MAX = 10_000;
/** ...and at most this many bytes of records, counted by their encoded size. */
export const DECODED_CACHE_BYTES_MAX = 32 * 1024 * 1024;

/**
 * Keys remembered as corrupt on disk until a write replaces them (at most ~100 MiB of keys; a
 * disk with that many bad records has failed). Past the bound the oldest is forgotten: read
 * again, it is reported and counted again, and its old bytes may reach a commit observer as
 * `before` (a Merkle leaf then differs until the next ring change: extra sync work, never data).
 */
export const CORRUPT_KEYS_REMEMBERED_MAX = 100_000;

/**
 * Told of each committed change: the key's old and new record bytes (undefined = absent) and
 * the new sibling set ([] when the key was removed).
 */
export type CommitObserver = (key: string, before: Uint8Array | undefined, after: Uint8Array | undefined, siblings: readonly Sibling[]) => void;

interface QueuedWrite {
  readonly key: string;
  readonly siblings: readonly Sibling[];
  /** encodeRecord(siblings) when the caller already had it (a received record), else computed at flush. */
  readonly bytes: Uint8Array | undefined;
  readonly done: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

export class ReplicaStore {
  /**
   * Latest state of keys whose write is queued or committing; reads see it first. Bounded by the
   * writes in flight: client requests (httpConnectionsMax) and peer requests (the transport's
   * in-flight limit per peer), each holding at most one key's write until it commits.
   */
  private readonly pending = new Map<string, readonly Sibling[]>();
  /** Queued writes by key: a second write to a key in the queue replaces the first (bounded as `pending`). */
  private readonly queue = new Map<string, QueuedWrite>();
  private committing = false;
  private flushScheduled = false;
  /**
   * Committed states of recently used keys (see DECODED_CACHE_KEYS_MAX), decoded and as the
   * record bytes on disk (which commit observers need as `before`); [] / undefined is "absent".
   */
  private readonly decoded = new Map<string, { readonly siblings: readonly Sibling[]; readonly bytes: Uint8Array | undefined }>();
  private decodedBytes = 0;

  /** Observers of every change, e.g. the Merkle trees of anti-entropy (before/after encodings). */
  private readonly observers: CommitObserver[] = [];
  /**
   * The batch being committed: each key's record as the observers last saw it (`before`). A
   * store may show a batch's writes before its commit resolves (LMDB does), ahead of the
   * observers: committedBytes and load answer this until the observers have heard (the review's
   * race: a Merkle tree build read the new bytes, and the observer then inserted them again).
   */
  private inFlight: ReadonlyMap<string, Uint8Array | undefined> = new Map();
  /** Keys whose committed record does not decode (see CORRUPT_KEYS_REMEMBERED_MAX), oldest first. */
  private readonly corrupt = new Set<string>();
  private corruptRecordCount = 0;

  /** `space` is 'data' for this node's replicas, 'hints' for versions held for other nodes. */
  constructor(
    private readonly storage: Storage,
    private readonly space: Space = 'data',
    private readonly log: Log = silentLog,
  ) {}

  /** Calls `fn` after each committed change of a key, with its old and new record bytes. */
  observe(fn: CommitObserver): void {
    this.observers.push(fn);
  }

  /** The key's siblings as this replica holds them (including writes still being committed). */
  read(key: string): readonly Sibling[] {
    const pending = this.pending.get(key);
    if (pending !== undefined) return pending;
    const cached = this.decoded.get(key);
    if (cached !== undefined) {
      this.decoded.delete(key);
      this.decoded.set(key, cached);
      return cached.siblings;
    }
    const loaded = this.load(key);
    this.remember(key, loaded?.siblings ?? [], loaded?.bytes);
    return loaded?.siblings ?? [];
  }

  /**
   * The key's committed record and its decoded siblings, read from storage (not the cache, and
   * not cached); undefined if absent or corrupt (which is then reported, once per key).
   */
  load(key: string): { readonly siblings: readonly Sibling[]; readonly bytes: Uint8Array } | undefined {
    if (this.corrupt.has(key)) return undefined;
    const bytes = this.inFlight.has(key) ? this.inFlight.get(key) : this.storage.get(this.space, key);
    if (bytes === undefined) return undefined;
    try {
      return { siblings: decodeRecord(bytes), bytes };
    } catch (err) {
      if (!(err instanceof RecordCorruptError)) throw err;
      this.corrupt.add(key);
      if (this.corrupt.size > CORRUPT_KEYS_REMEMBERED_MAX) this.corrupt.delete(this.corrupt.keys().next().value!);
      this.corruptRecordCount++;
      this.log.error({ space: this.space, key, bytes: bytes.length, err: err.message }, 'corrupt record on disk: treated as absent, to be rewritten from the other replicas');
      return undefined;
    }
  }

  private remember(key: string, siblings: readonly Sibling[], bytes: Uint8Array | undefined): void {
    this.forget(key);
    this.decoded.set(key, { siblings, bytes });
    this.decodedBytes += bytes?.length ?? 0;
    while (this.decoded.size > DECODED_CACHE_KEYS_MAX || this.decodedBytes > DECODED_CACHE_BYTES_MAX) {
      this.forget(this.decoded.keys().next().value!);
    }
  }

  private forget(key: string): void {
    const entry = this.decoded.get(key);
    if (entry === undefined) return;
    this.decoded.delete(key);
    this.decodedBytes -= entry.bytes?.length ?? 0;
  }

  /** The key's siblings with their record bytes, as read() sees them (an empty record if absent). */
  readEncoded(key: string): EncodedRecord {
    if (!this.pending.has(key)) {
      const cached = this.decoded.get(key);
      if (cached?.bytes !== undefined) return EncodedRecord.ofEncoded(cached.siblings, cached.bytes);
      if (cached === undefined) {
        // A miss: the bytes just read are the record (what read() would decode and encode again).
        const loaded = this.load(key);
        this.remember(key, loaded?.siblings ?? [], loaded?.bytes);
        if (loaded !== undefined) return EncodedRecord.ofEncoded(loaded.siblings, loaded.bytes);
      }
    }
    return EncodedRecord.of(this.read(key));
  }

  /**
   * Joins `incoming` into the key's replica; resolves once the result is durable. Given the
   * incoming versions' record bytes, a join that adds nothing local stores them as they are.
   */
  merge(key: string, incoming: readonly Sibling[] | EncodedRecord): Promise<void> {
    const record = incoming instanceof EncodedRecord ? incoming : undefined;
    const versions = record === undefined ? (incoming as readonly Sibling[]) : record.siblings;
    const current = this.read(key);
    const merged = mergeSiblings(current, versions);
    // Nothing new: the state is already what a commit would write (possibly still committing).
    if (current.length > 0 && siblingsEqual(current, merged)) return this.whenDurable(key);
    // A dot names one version, so when the join is exactly the incoming dots in the same
    // (sorted) order, the sender's encoding is byte for byte what encodeRecord(merged) would
    // give; Merkle digests of equal states must stay equal across replicas.
    const bytes = record !== undefined && merged.length > 0 && sameDotsInOrder(merged, versions) ? record.bytes : undefined;
    return this.replace(key, merged, bytes);
  }

  /**
   * Stores `siblings` as the key's new state; the caller computed it as a join of read(key).
   * `bytes`, if given, must be encodeRecord(siblings) (saves encoding it again).
   */
  replace(key: string, siblings: readonly Sibling[], bytes?: Uint8Array): Promise<void> {
    this.pending.set(key, siblings);
    return new Promise<void>((resolve, reject) => {
      const queued = this.queue.get(key);
      const done = queued === undefined ? [] : queued.done;
      done.push({ resolve, reject });
      this.queue.set(key, { key, siblings, bytes, done });
      this.scheduleFlush();
    });
  }

  /**
   * The key's committed record bytes (no pending write), as the commit observers last saw them:
   * undefined for a record known to be corrupt. Not decoded here: a record is checked when first
   * read or load()ed (anti-entropy loads every record at start-up).
   */
  committedBytes(key: string): Uint8Array | undefined {
    if (this.inFlight.has(key)) return this.inFlight.get(key);
    const cached = this.decoded.get(key);
    if (cached !== undefined) return cached.bytes;
    return this.corrupt.has(key) ? undefined : this.storage.get(this.space, key);
  }

  /** Deletes the key if it still holds exactly `expected` (a transfer handed it off). */
  removeIfUnchanged(key: string, expected: readonly Sibling[]): Promise<boolean> {
    const current = this.read(key);
    if (!siblingsEqual(current, expected) || current.length !== expected.length) return Promise.resolve(false);
    return this.replace(key, []).then(() => true);
  }

  /** Committed keys in order, from `start` (inclusive), at most `limit`. */
  keys(start: string | undefined, limit: number): string[] {
    const out: string[] = [];
    for (const key of this.storage.scanKeys(this.space, { ...(start !== undefined ? { start } : {}), limit })) out.push(key);
    return out;
  }

  /** Up to `limit` committed keys in [start, end), in key order (descending if `reverse`). */
  rangeKeys(start: string, end: string, limit: number, reverse = false): string[] {
    const out: string[] = [];
    for (const key of this.storage.scanKeys(this.space, { start, end, limit, reverse })) out.push(key);
    return out;
  }

  /** Records found on disk that do not decode (each reported once, with its key). */
  get corruptRecords(): number {
    return this.corruptRecordCount;
  }

  /** Number of keys stored (committed). */
  count(): number {
    return this.storage.count(this.space);
  }

  /** Resolves when the key's present state is durable (immediately if nothing is pending). */
  private whenDurable(key: string): Promise<void> {
    if (!this.pending.has(key)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const queued = this.queue.get(key);
      if (queued !== undefined) {
        queued.done.push({ resolve, reject });
      } else {
        // Committing now: re-queue the same state, it is idempotent and rides the next batch.
        this.replace(key, this.pending.get(key)!).then(resolve, reject);
      }
    });
  }

  // Group commit: writes made while a batch commits wait and go together in the next one.
  // Batches start from a microtask, so all writes of one event-loop turn share a transaction.
  private scheduleFlush(): void {
    if (this.committing || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.committing || this.queue.size === 0) return;
    this.committing = true;
    const batch: QueuedWrite[] = [];
    for (const write of this.queue.values()) {
      batch.push(write);
      if (batch.length >= COMMIT_BATCH_WRITES_MAX) break;
    }
    for (const write of batch) this.queue.delete(write.key);
    // An empty sibling set is a removal (handed off to new replicas), not a record.
    const writes: StorageWrite[] = batch.map((w) => ({ space: this.space, key: w.key, value: w.siblings.length === 0 ? null : (w.bytes ?? encodeRecord(w.siblings)) }));
    const before = this.observers.length > 0 ? writes.map((w) => this.committedBytes(w.key)) : [];
    if (this.observers.length > 0) this.inFlight = new Map(writes.map((w, i) => [w.key, before[i]]));
    let failure: unknown;
    try {
      await this.storage.commit(writes);
    } catch (err) {
      failure = err;
    }
    try {
      if (failure === undefined) {
        for (const write of batch) this.corrupt.delete(write.key);
        batch.forEach((write, i) => this.remember(write.key, write.siblings, writes[i]!.value ?? undefined));
        this.inFlight = new Map();
        writes.forEach((w, i) => {
          for (const fn of this.observers) fn(w.key, before[i], w.value ?? undefined, batch[i]!.siblings);
        });
      }
    } finally {
      // An observer that throws (a broken invariant) must not leave every later write waiting.
      this.inFlight = new Map();
      this.settle(batch, failure);
    }
  }

  private settle(batch: readonly QueuedWrite[], failure: unknown): void {
    for (const write of batch) {
      // Drop the pending copy unless a newer write for the key is already queued behind us.
      if (this.pending.get(write.key) === write.siblings && !this.queue.has(write.key)) this.pending.delete(write.key);
      for (const d of write.done) failure === undefined ? d.resolve() : d.reject(failure);
    }
    this.committing = false;
    if (this.queue.size > 0) this.scheduleFlush();
  }
}

function sameDotsInOrder(a: readonly Sibling[], b: readonly Sibling[]): boolean {
  return a.length === b.length && a.every((s, i) => s.dot.node === b[i]!.dot.node && s.dot.counter === b[i]!.dot.counter);
}
