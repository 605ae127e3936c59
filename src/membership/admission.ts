// Whether this node may serve and push data, and the rule that keeps a node returning on an old
// disk from bringing back what the cluster deleted while it was away (core review F2). At start
// a node serves nothing and pushes nothing until it has heard the table from a member; then, if
// its own record's operator epoch moved past the epoch its stored data belongs to (it was
// removed, or removed and re-added, while it was not running, or while it could not hear of
// it), that data is from an earlier membership: it discards its replicas and hints (keeping its
// dot counter) before it serves. Removed once (and not re-added), it keeps the data and hands it
// off instead; removed and re-added once, it hands the data off first (stale-handoff.ts), then
// discards. The data's epoch is kept in the meta space (DATA_EPOCH_KEY).
// Sans-IO: the injected clock, storage and log, and a discard callback the node supplies.
import type { Clock, Timer } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Storage } from '../env/storage.ts';
import type { NodeId } from '../env/transport.ts';
import { isMembershipCount, isRingMember, type MemberRecord } from './table.ts';

/** Meta key: the operator epoch of this node's own record that its replicas and hints belong to. */
export const DATA_EPOCH_KEY = 'data-epoch';
/** After a discard failed (a storage error), it is tried again this much later. */
const DISCARD_RETRY_MS = 1_000;

/**
 * - `waiting`: started, has not heard the cluster's table from a member yet;
 * - `discarding`: its stored data is from an earlier membership and is being deleted;
 * - `serving`: serves and pushes data.
 */
export type AdmissionState = 'waiting' | 'discarding' | 'serving';

/** What a discard removed, and why (for logs, stats and tests). */
export interface Discard {
  readonly fromEpoch: number;
  readonly toEpoch: number;
  readonly replicas: number;
  readonly hints: number;
  readonly atMs: number;
}

export interface AdmissionDeps {
  readonly self: NodeId;
  readonly clock: Clock;
  readonly storage: Storage;
  readonly log: Log;
  /** This node's own record in its current table (undefined while it is not in it). */
  readonly ownRecord: () => MemberRecord | undefined;
  /** This node's own record's epoch as its table was read back from disk (undefined: no table). */
  readonly persistedOwnEpoch: number | undefined;
  /** Deletes every replica and hint this node stores; resolves with how many of each. */
  readonly discard: () => Promise<{ readonly replicas: number; readonly hints: number }>;
  /**
   * Offers every replica and hint this node stores to its key's current replicas, as data from
   * before its removal at `removedAtEpoch` (src/handoff/stale-handoff.ts); resolves with how many
   * records were offered and taken. Never rejects.
   */
  readonly handOffStale: (removedAtEpoch: number) => Promise<{ readonly offered: number; readonly taken: number }>;
}

export class AdmissionError extends Error {
  readonly code = 'CORRUPT_DATA_EPOCH';
  constructor(message: string) {
    super(message);
    this.name = 'AdmissionError';
  }
}

export class Admission {
  private current: AdmissionState = 'waiting';
  /** The epoch this node's stored data belongs to; undefined until the node was first in a table. */
  private dataEpoch: number | undefined;
  private readonly servingListeners: Array<() => void> = [];
  /** Client requests waiting for this node to serve: at most httpConnectionsMax, each for at most its timeout. */
  private readonly waiters = new Set<() => void>();
  private retryTimer: Timer | undefined;
  private stopped = false;
  /** admit() is running (saving the data's epoch, or discarding): not serving yet. */
  private admitting = false;
  /** The last discard, if any. */
  lastDiscard: Discard | undefined;
  private readonly discardTotals = { discards: 0, replicas: 0, hints: 0 };

  constructor(private readonly deps: AdmissionDeps) {
    const bytes = deps.storage.get('meta', DATA_EPOCH_KEY);
    if (bytes !== undefined) {
      const text = Buffer.from(bytes).toString('utf8');
      const value = Number(text);
      if (!/^[0-9]{1,15}$/.test(text) || !isMembershipCount(value)) throw new AdmissionError(`corrupt ${DATA_EPOCH_KEY} in meta: ${JSON.stringify(text.slice(0, 40))}`);
      this.dataEpoch = value;
    } else {
      // A disk from before this rule: its data belongs to the epoch its table was saved at.
      this.dataEpoch = deps.persistedOwnEpoch;
    }
  }

  /**
   * Makes the data's epoch durable before anything can change the saved table: otherwise a crash
   * after the table saved a newer epoch, but before a discard finished, would make the old data
   * look current at the next start.
   */
  async init(): Promise<void> {
    if (this.dataEpoch !== undefined && this.deps.storage.get('meta', DATA_EPOCH_KEY) === undefined) await this.saveDataEpoch(this.dataEpoch);
  }

  /** Discards since start, and what they removed (a copy). */
  get totals(): { readonly discards: number; readonly replicas: number; readonly hints: number } {
    return { ...this.discardTotals };
  }

  get state(): AdmissionState {
    return this.current;
  }

  serving(): boolean {
    return this.current === 'serving';
  }

  /** Called whenever this node starts serving (again, after a discard while running). */
  onServing(listener: () => void): void {
    this.servingListeners.push(listener);
  }

  /** Resolves true once serving, or false if `timeoutMs` passes first. */
  whenServing(timeoutMs: number): Promise<boolean> {
    if (this.current === 'serving') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.waiters.delete(wake);
        timer.cancel();
        resolve(ok);
      };
      const wake = () => done(true);
      const timer = this.deps.clock.setTimer(timeoutMs, () => done(false));
      this.waiters.add(wake);
    });
  }

  /** A node with no other ring member in its table has no one to hear from: it decides now. */
  startAlone(): void {
    this.tableHeard();
  }

  /** This node merged a table from a ring member (or a join seed): it knows the cluster now. */
  tableHeard(): void {
    if (this.current !== 'waiting') return;
    this.runAdmit();
  }

  /** Runs admit() unless it runs already: one decision at a time (retries come here too). */
  private runAdmit(): void {
    if (this.admitting || this.stopped) return;
    this.admitting = true;
    void this.admit().finally(() => (this.admitting = false));
  }

  /**
   * This node's own record changed its operator epoch while running. A removal it sees happen
   * (member at the data's epoch, removed one epoch later) keeps the data, which it now hands
   * off; any other move (re-added, or a removal and more it did not hear of) makes the data
   * from an earlier membership, to be discarded before it serves again.
   */
  ownEpochChanged(before: MemberRecord, after: MemberRecord): void {
    if (this.current !== 'serving' || after.epoch === this.dataEpoch) return;
    const data = this.dataEpoch;
    if (data === undefined) {
      // First added while running (a new node): its data, if any, is from this epoch.
      this.dataEpoch = after.epoch;
      void this.saveDataEpoch(after.epoch).catch((err: unknown) => this.deps.log.error({ err }, `could not save ${DATA_EPOCH_KEY}`));
      return;
    }
    if (after.epoch < data) return;
    if (isRingMember(before) && before.epoch === data && !isRingMember(after) && after.epoch === data + 1) {
      this.dataEpoch = after.epoch;
      void this.saveDataEpoch(after.epoch).catch((err: unknown) => this.deps.log.error({ err }, `could not save ${DATA_EPOCH_KEY}`));
      return;
    }
    void this.discardThenServe(data, after.epoch, 'its own record moved to a new operator epoch while it was running (re-added, or removed again, after a change it did not hear of)', reAddedOnce(data, after));
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
  }

  /**
   * Decides what the stored data is, from this node's own record as its table says now, then
   * serves. A change of that record heard while a save was in flight (ownEpochChanged ignores
   * it until serving) makes it decide again on the newer record (review: a re-add heard during
   * the save of the removal's epoch was missed, and the node served its old data).
   */
  private async admit(): Promise<void> {
    for (;;) {
      const own = this.deps.ownRecord();
      const data = this.dataEpoch;
      if (own !== undefined && data !== undefined && own.epoch > data) {
        if (!isRingMember(own) && own.epoch === data + 1) {
          // Removed once, from the membership its data belongs to, while it was not running: the
          // same as a removal seen while running. It keeps the data and hands it off (its peers
          // take it only within their hand-off window, and purge no tombstone meanwhile); it may
          // hold the only copy of an acknowledged write whose other replicas were lost.
          if (!(await this.adoptEpochOrRetry(own.epoch))) return;
          if (this.deps.ownRecord()?.epoch !== own.epoch) continue;
          this.deps.log.warn({ dataEpoch: data, ownEpoch: own.epoch }, `node ${this.deps.self}: removed from the cluster while it was not running; handing off its data to the current replicas`);
          this.serve();
          return;
        }
        await this.discardThenServe(data, own.epoch, 'its own record moved to a new operator epoch while it was not running (removed, or removed and re-added)', reAddedOnce(data, own));
        return;
      }
      if (own !== undefined && data === undefined) {
        if (!(await this.adoptEpochOrRetry(own.epoch))) return;
        if (this.deps.ownRecord()?.epoch !== own.epoch) continue;
      }
      this.serve();
      return;
    }
  }

  /** Makes `epoch` the data's (durably); false if saving failed, and admit() runs again later. */
  private async adoptEpochOrRetry(epoch: number): Promise<boolean> {
    try {
      await this.saveDataEpoch(epoch);
      this.dataEpoch = epoch;
      return true;
    } catch (err) {
      this.deps.log.error({ err }, `could not save ${DATA_EPOCH_KEY}; trying again`);
      this.retry(async () => this.runAdmit());
      return false;
    }
  }

  /**
   * Discards the stored data, then serves. `removedAtEpoch`: this node was removed at that epoch
   * and re-added right after, with nothing between; it first hands off what it holds, as data
   * from before that removal (its peers take it only within their window for it).
   */
  private async discardThenServe(fromEpoch: number, toEpoch: number, why: string, removedAtEpoch: number | undefined): Promise<void> {
    this.current = 'discarding';
    this.deps.log.warn(
      { dataEpoch: fromEpoch, ownEpoch: toEpoch },
      `node ${this.deps.self}: ${why}; its replicas and hints are from an earlier membership and could bring back what the cluster deleted since: ${removedAtEpoch === undefined ? '' : 'handing them off to the current replicas, then '}discarding them before serving (its dot counter is kept)`,
    );
    if (removedAtEpoch !== undefined) {
      let handed: { readonly offered: number; readonly taken: number };
      try {
        handed = await this.deps.handOffStale(removedAtEpoch);
      } catch (err) {
        // Nothing is discarded before the hand-off ran: try it again.
        this.deps.log.error({ err }, 'handing off data from before the removal failed; trying again');
        this.retry(() => this.discardThenServe(fromEpoch, toEpoch, why, removedAtEpoch));
        return;
      }
      this.deps.log.warn({ removedAtEpoch, ...handed }, `node ${this.deps.self}: handed off data from before its removal`);
      if (this.stopped) return;
    }
    let removed: { replicas: number; hints: number };
    let epoch: number;
    try {
      removed = await this.deps.discard();
      // The store is empty now: whatever the epoch is at this moment, the data (none) belongs to it.
      epoch = this.deps.ownRecord()?.epoch ?? toEpoch;
      await this.saveDataEpoch(epoch);
    } catch (err) {
      this.deps.log.error({ err }, 'discarding stale data failed; trying again');
      this.retry(() => this.discardThenServe(fromEpoch, toEpoch, why, undefined));
      return;
    }
    this.dataEpoch = epoch;
    this.lastDiscard = { fromEpoch, toEpoch: epoch, replicas: removed.replicas, hints: removed.hints, atMs: this.deps.clock.nowMs() };
    this.discardTotals.discards++;
    this.discardTotals.replicas += removed.replicas;
    this.discardTotals.hints += removed.hints;
    this.deps.log.warn({ dataEpoch: epoch, replicas: removed.replicas, hints: removed.hints }, `node ${this.deps.self}: discarded stale data; serving`);
    this.serve();
  }

  private serve(): void {
    if (this.stopped) return;
    this.current = 'serving';
    for (const wake of [...this.waiters]) wake();
    for (const listener of this.servingListeners) listener();
  }

  private retry(fn: () => Promise<void>): void {
    if (this.stopped) return;
    this.retryTimer?.cancel();
    this.retryTimer = this.deps.clock.setTimer(DISCARD_RETRY_MS, () => void fn());
  }

  private saveDataEpoch(epoch: number): Promise<void> {
    return this.deps.storage.commit([{ space: 'meta', key: DATA_EPOCH_KEY, value: Buffer.from(String(epoch), 'utf8') }]);
  }
}

/**
 * The removal's epoch when `own` is a ring member again, one operator change after a removal
 * that followed the membership its data belongs to (`dataEpoch`: that member epoch, or the
 * removal itself when the node saw it while running); else undefined. A member's next operator
 * change is always its removal, so these epochs say it all.
 */
function reAddedOnce(dataEpoch: number, own: MemberRecord): number | undefined {
  if (!isRingMember(own)) return undefined;
  return own.epoch === dataEpoch + 2 || own.epoch === dataEpoch + 1 ? own.epoch - 1 : undefined;
}
