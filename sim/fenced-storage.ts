// One incarnation's view of a node's disk in the simulator. Commits are asynchronous as on a
// real disk: each completes after a seeded delay, in order per node (a later batch never lands
// before an earlier one), and may fail as a whole (an fsync error, a full disk: the batch is not
// applied and the promise rejects with StorageError). A crash fences the incarnation: commits
// still in flight are lost (never applied), later ones are never made, and the durable MemoryStorage
// behind it (what survives the process) keeps only what completed before the crash; the dead
// incarnation's commits never settle, as a dead process runs no continuation.
import { StorageError, type ScanOptions, type Space, type Storage, type StorageEntry, type StorageWrite } from '../src/env/storage.ts';
import type { Scheduler } from './scheduler.ts';
import type { SeededRandom } from './seeded-random.ts';

/**
 * Set on every StorageError a simulated disk makes, to the world (`owner`) it belongs to: a
 * rejection reported late (after its run ended) can be told apart from one of the current run.
 */
export const DISK_OWNER = Symbol('sim disk owner');

/** A node's disk behaviour; the nemesis changes it while a disk fault lasts. */
export interface DiskFaults {
  /** Probability that one commit fails (fsync error); 0 outside disk faults. */
  failRate: number;
  /** Every commit fails while true (ENOSPC). */
  full: boolean;
  /** Extra delay added to every commit while a slow-disk fault lasts (ms). */
  slowMs: number;
}

export function healthyDisk(): DiskFaults {
  return { failRate: 0, full: false, slowMs: 0 };
}

/** Commit latency of a healthy disk: mostly sub-millisecond, now and then a slow fsync. */
const COMMIT_DELAY = { minMs: 0.05, maxMs: 2, slowRate: 0.01, slowMaxMs: 200 } as const;

export class FencedStorage implements Storage {
  private fenced = false;
  /** When the last queued commit completes: commits complete in order. */
  private lastDoneMs = 0;
  /** Commits not yet completed, so a crash can lose them. */
  private readonly inFlight = new Set<{ cancel(): void }>();
  commitsFailed = 0;
  commitsLost = 0;

  constructor(
    private readonly inner: Storage,
    private readonly world?: {
      readonly scheduler: Scheduler;
      readonly random: SeededRandom;
      readonly faults: DiskFaults;
      /** A defect for testing the checker: commits resolve at once, before they are durable. */
      readonly lying?: boolean;
      /** Whose disk this is (see DISK_OWNER). */
      readonly owner?: object;
    },
  ) {}

  /**
   * The process crashed: commits in flight never reach the disk, and neither they nor any later
   * commit ever settle (a dead process runs no continuation).
   */
  fence(): void {
    this.fenced = true;
    for (const commit of this.inFlight) {
      commit.cancel();
      this.commitsLost++;
    }
    this.inFlight.clear();
  }

  get(space: Space, key: string): Uint8Array | undefined {
    return this.inner.get(space, key);
  }

  commit(writes: readonly StorageWrite[]): Promise<void> {
    if (this.fenced) return new Promise<void>(() => {});
    const world = this.world;
    if (world === undefined) return this.inner.commit(writes);
    const { scheduler, random, faults } = world;
    // Stored values are never mutated by their writers (records are immutable), so the batch is
    // kept as given; MemoryStorage copies it when it is applied.
    const batch = writes;
    // Decided now, from the seeded stream, so the outcome does not depend on completion order.
    const fails = faults.full || (faults.failRate > 0 && random.nextFloat() < faults.failRate);
    const reason = faults.full ? 'no space left on device' : 'fsync failed (EIO)';
    let delayMs = COMMIT_DELAY.minMs + random.nextFloat() * (COMMIT_DELAY.maxMs - COMMIT_DELAY.minMs) + faults.slowMs;
    if (random.nextFloat() < COMMIT_DELAY.slowRate) delayMs += random.nextFloat() * COMMIT_DELAY.slowMaxMs;
    const doneMs = Math.max(scheduler.nowMs + delayMs, this.lastDoneMs);
    this.lastDoneMs = doneMs;
    return new Promise<void>((resolve, reject) => {
      const entry = { cancel: () => timer.cancel() };
      const timer = scheduler.schedule(doneMs - scheduler.nowMs, () => {
        this.inFlight.delete(entry);
        if (fails) {
          this.commitsFailed++;
          return reject(Object.assign(new StorageError(`commit failed: ${reason}`), { [DISK_OWNER]: world.owner }));
        }
        this.inner.commit(batch).then(world.lying === true ? () => {} : resolve, reject);
      });
      this.inFlight.add(entry);
      if (world.lying === true) resolve();
    });
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
