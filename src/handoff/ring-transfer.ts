// Moves data when the ring changes (an operator added or removed a node). Walks this node's keys
// in pages, sends each key to the nodes of its new preference list that did not hold it under
// the ring the data was last placed for, in rounds cut by bytes, and only after they
// acknowledged it durably deletes the keys this node no longer replicates. A newer ring change
// restarts the walk; a receiver that does not answer (in time) is retried with backoff, its
// batch whole; a key a receiver refuses (or too large for any frame) stays here and holds back no
// other (refused keys are retried by the stray hand-off), so nothing is dropped before its new
// replicas have it. Stray keys (written here though this node does not replicate them) are handed
// off one round at a time, from a bounded set.
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import { batchEntryBytes, TRANSFER_BATCH_KEYS_MAX, type BatchEntry, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import type { Sibling } from '../version/siblings.ts';
import type { TransferStatus } from '../membership/table.ts';
import { BatchBuilder, fitsNoBatch, sendIsolatingRefusals } from './batches.ts';

export interface RingTransferDeps {
  readonly self: NodeId;
  readonly n: number;
  readonly store: ReplicaStore;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly clock: Clock;
  readonly log: Log;
  readonly requestTimeoutMs: number;
  /** Publishes progress (gossiped, shown by /cluster/members and the CLI). */
  readonly onProgress: (status: TransferStatus | null) => void;
  readonly currentRing: () => Ring | undefined;
}

/** Retries of a receiver that does not answer: 100 ms, doubling to 5 s. */
const RETRY_BACKOFF_MS = { initial: 100, max: 5_000 };
/** Stray writes are collected this long before being handed off, to batch them. */
const STRAY_DELAY_MS = 1_000;
/** After a stray hand-off with refused keys, the next waits twice as long, up to this. */
const STRAY_DELAY_MAX_MS = 30_000;
/**
 * Stray keys remembered for the next stray round (a key is at most KEY_BYTES_MAX, so at most
 * ~10 MiB). Past the bound, further strays are not remembered one by one: they are counted and
 * reported, and once the remembered ones are handed off, one walk of the whole store for the
 * current ring (as after a ring change) finds them all.
 */
export const STRAYS_MAX = 10_000;

/** One key of a round: its record, the receivers it goes to, and whether it leaves this node. */
interface RoundEntry extends BatchEntry {
  readonly to: readonly NodeId[];
  readonly drop: boolean;
}

export class RingTransfer {
  /** The ring the local data is known to be placed for; undefined = unknown, send to all. */
  private placedFor: Ring | undefined;
  private generation = 0;
  private running: Promise<void> | undefined;
  private readonly strays = new Set<string>();
  /** Strays not remembered since the set was full (see STRAYS_MAX): a walk of the store will find them. */
  private straysMissed = 0;
  private strayTimer: { cancel(): void } | undefined;
  /** The stray round running: at most one, and the next is scheduled only when it ends. */
  private strayRound: Promise<void> | undefined;
  private strayDelayMs = STRAY_DELAY_MS;
  private keysSentCount = 0;
  private keysDroppedCount = 0;
  private keysTooLargeCount = 0;

  constructor(
    private readonly deps: RingTransferDeps,
    initialRing: Ring | undefined,
  ) {
    this.placedFor = initialRing;
  }

  get active(): boolean {
    return this.running !== undefined;
  }

  /** Keys sent to new replicas (acknowledged) since start. */
  get keysSent(): number {
    return this.keysSentCount;
  }

  /** Keys dropped here once their new replicas held them. */
  get keysDropped(): number {
    return this.keysDroppedCount;
  }

  /** Keys found too large for any frame (reported and kept here). */
  get keysTooLarge(): number {
    return this.keysTooLargeCount;
  }

  /** Starts (or restarts) the walk for `target`; resolves when the data is placed for it. */
  rebalance(target: Ring | undefined): Promise<void> {
    const generation = ++this.generation;
    // Never rejects: callers start it and move on. A walk that fails part-way (its own failures
    // are handled key by key; this is for the unforeseen) leaves the keys where they are, and
    // the next ring change or stray round walks again.
    const run = this.walk(target, generation)
      .catch((err: unknown) => this.deps.log.error({ err: messageOf(err) }, 'ring transfer walk failed; keys stay until the next walk'))
      .finally(() => {
        if (this.generation === generation) {
          this.running = undefined;
          this.deps.onProgress(null);
        }
      });
    this.running = run;
    return run;
  }

  private async walk(target: Ring | undefined, generation: number): Promise<void> {
    if (target === undefined) return;
    const { store, self, n } = this.deps;
    const keysTotal = store.count();
    let keysDone = 0;
    let start: string | undefined;
    let more = true;
    const stale = () => generation !== this.generation;
    const round = new BatchBuilder<RoundEntry>();
    const targetsLeft = new Set<NodeId>();
    while (more) {
      if (stale()) return;
      // One key past the page tells where the next page starts (scan starts are inclusive).
      const page = store.keys(start, TRANSFER_BATCH_KEYS_MAX + 1);
      const keys = page.slice(0, TRANSFER_BATCH_KEYS_MAX);
      start = page[TRANSFER_BATCH_KEYS_MAX];
      more = start !== undefined;
      this.deps.onProgress({ keysTotal, keysDone, targets: [...targetsLeft] });
      for (const key of keys) {
        const record = store.readEncoded(key);
        if (record.siblings.length === 0) continue;
        const next = target.preferenceList(key, n);
        const keep = next.includes(self);
        const before = this.placedFor?.preferenceList(key, n) ?? [];
        // Keys we are leaving go to every new replica; kept keys only to the newcomers.
        const to = next.filter((id) => id !== self && (!keep || !before.includes(id)));
        if (to.length === 0) continue;
        if (this.tooLarge(key, record)) continue;
        const entry: RoundEntry = { key, record, to, drop: !keep };
        if (!round.fits(entry)) {
          await this.sendRound(round.take(), stale);
          if (stale()) return;
        }
        round.add(entry);
        for (const id of to) targetsLeft.add(id);
      }
      keysDone += keys.length;
    }
    await this.sendRound(round.take(), stale);
    this.deps.onProgress({ keysTotal, keysDone, targets: [...targetsLeft] });
    if (!stale()) this.placedFor = target;
  }

  /**
   * Sends one round (each receiver gets its subset, which is within a batch because the round
   * is), then drops the keys this node leaves once every receiver of theirs acknowledged them.
   * Refused keys (and, with `once`, keys a receiver did not take at the first try) are left to
   * the stray hand-off. Resolves early if the walk became stale.
   */
  private async sendRound(entries: readonly RoundEntry[], stale: () => boolean, once = false): Promise<boolean> {
    const byTarget = new Map<NodeId, RoundEntry[]>();
    for (const e of entries) {
      for (const id of e.to) {
        let list = byTarget.get(id);
        if (list === undefined) byTarget.set(id, (list = []));
        list.push(e);
      }
    }
    const refused = new Set<RoundEntry>();
    await Promise.all(
      [...byTarget].map(async ([id, list]) => {
        for (const e of await this.deliver(id, list, stale, once)) refused.add(e);
      }),
    );
    if (stale()) return false;
    for (const e of entries) {
      if (refused.has(e)) {
        if (e.drop) this.strayWrite(e.key);
        continue;
      }
      // Drops are decided for the ring the walk started on; once a newer ring change restarted
      // the walk (which decides again for every key), none is dropped on the old decision: this
      // node may replicate the key again (harsh 53062 dropped tombstones it replicated).
      if (stale()) return false;
      if (e.drop) await this.dropOrRetry(e.key, e.record.siblings);
    }
    return refused.size === 0;
  }

  /**
   * Delivers `entries` to `to`: retried with backoff while `to` does not answer (until the walk
   * is stale; with `once`, not at all), the batch whole: batches are cut by bytes, so a timeout
   * means a slow or absent receiver, and splitting would only multiply the timeouts. Resolves
   * with the entries `to` refused one by one (or did not take, if it never answered).
   */
  private async deliver(to: NodeId, entries: readonly RoundEntry[], stale: () => boolean, once: boolean): Promise<RoundEntry[]> {
    let backoffMs = RETRY_BACKOFF_MS.initial;
    while (!stale()) {
      try {
        const refused = await sendIsolatingRefusals(entries, (batch) => this.put(to, batch));
        this.keysSentCount += entries.length - refused.length;
        if (refused.length > 0) {
          const keys = refused.slice(0, 5).map((r) => r.entry.key);
          this.deps.log.warn({ to, refused: refused.length, keys, err: messageOf(refused[0]!.err) }, 'transfer keys refused; kept here and retried later, the others go on');
        }
        return refused.map((r) => r.entry);
      } catch (err) {
        if (once) {
          this.deps.log.info({ to, keys: entries.length, err: messageOf(err) }, 'stray hand-off failed; the keys wait for the next round');
          break;
        }
        this.deps.log.warn({ to, keys: entries.length, err: messageOf(err), retryInMs: backoffMs }, 'transfer batch failed; retrying');
      }
      await new Promise<void>((resolve) => this.deps.clock.setTimer(backoffMs, resolve));
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS.max);
    }
    return [...entries];
  }

  private async put(to: NodeId, entries: readonly RoundEntry[]): Promise<void> {
    const request: PeerRequest = { kind: 'replica_put_batch', entries: entries.map((e) => ({ key: e.key, record: e.record })) };
    const reply = await this.deps.transport.request(to, request, this.deps.requestTimeoutMs * 5);
    if (reply.kind !== 'replica_put_ok') throw new Error(`unexpected reply ${reply.kind}`);
  }

  private tooLarge(key: string, record: RoundEntry['record']): boolean {
    if (!fitsNoBatch(key, record)) return false;
    this.keysTooLargeCount++;
    this.deps.log.warn({ key, bytes: batchEntryBytes(key, record) }, 'key too large for any message; kept here, not transferred');
    return true;
  }

  /**
   * A write reached this node for a key it does not replicate (the sender's ring view was older
   * than ours, or a transfer raced a ring change), or a receiver refused a key this node leaves.
   * Collect such keys briefly, then hand them to their replicas and drop them here, so no stray
   * copy outlives the ring change. One round runs at a time (strays found meanwhile wait for the
   * next); the set is bounded by STRAYS_MAX.
   */
  strayWrite(key: string): void {
    if (this.strays.size < STRAYS_MAX || this.strays.has(key)) this.strays.add(key);
    else if (this.straysMissed++ === 0) this.deps.log.warn({ straysMax: STRAYS_MAX }, 'stray keys past the bound are not remembered; a walk of the store will hand them off');
    this.scheduleStrays();
  }

  private scheduleStrays(): void {
    if (this.strayTimer !== undefined || this.strayRound !== undefined) return;
    if (this.strays.size === 0 && this.straysMissed === 0) return;
    this.strayTimer = this.deps.clock.setTimer(this.strayDelayMs, () => {
      this.strayTimer = undefined;
      this.strayRound = this.handOffStrays()
        .catch((err: unknown) => this.deps.log.error({ err: messageOf(err) }, 'stray hand-off round failed'))
        .finally(() => {
          this.strayRound = undefined;
          this.scheduleStrays();
        });
    });
  }

  /**
   * One stray round: up to a batch's worth of remembered strays, each receiver tried once (a
   * receiver that does not answer leaves its keys for the next round, which waits twice as long,
   * up to STRAY_DELAY_MAX_MS). With none remembered but some missed, one walk of the store.
   */
  private async handOffStrays(): Promise<void> {
    const ring = this.deps.currentRing();
    if (ring === undefined) return;
    if (this.strays.size === 0) {
      // A running walk may have passed the missed keys already: wait for it to end, then walk.
      if (this.straysMissed === 0 || this.running !== undefined) return;
      this.deps.log.info({ missed: this.straysMissed }, 'walking the store for stray keys past the bound');
      this.straysMissed = 0;
      await this.rebalance(ring);
      return;
    }
    const keys: string[] = [];
    for (const key of this.strays) {
      if (keys.length >= TRANSFER_BATCH_KEYS_MAX) break;
      keys.push(key);
    }
    for (const key of keys) this.strays.delete(key);
    const generation = this.generation;
    const stale = () => generation !== this.generation;
    const round = new BatchBuilder<RoundEntry>();
    let allTaken = true;
    for (const key of keys) {
      const record = this.deps.store.readEncoded(key);
      const next = ring.preferenceList(key, this.deps.n);
      if (record.siblings.length === 0 || next.includes(this.deps.self) || this.tooLarge(key, record)) continue;
      const entry: RoundEntry = { key, record, to: next, drop: true };
      if (!round.fits(entry)) allTaken = (await this.sendRound(round.take(), stale, true)) && allTaken;
      round.add(entry);
    }
    if (round.size > 0) allTaken = (await this.sendRound(round.take(), stale, true)) && allTaken;
    // Keys not taken came back into `strays`: wait longer before offering them again.
    this.strayDelayMs = allTaken ? STRAY_DELAY_MS : Math.min(this.strayDelayMs * 2, STRAY_DELAY_MAX_MS);
  }

  /** Drops a handed-off key, unless a newer write arrived meanwhile: then it goes round again. */
  private async dropOrRetry(key: string, sent: readonly Sibling[]): Promise<void> {
    let dropped: boolean;
    try {
      dropped = await this.deps.store.removeIfUnchanged(key, sent);
    } catch (err) {
      // The removal did not commit (disk error): the key stays here and goes round again.
      this.deps.log.warn({ key, err: messageOf(err) }, 'a handed-off key could not be dropped; it will be offered again');
      dropped = false;
    }
    if (dropped) this.keysDroppedCount++;
    else this.strayWrite(key);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
