// Moves data when the ring changes (an operator added or removed a node). Walks this node's keys
// in pages, sends each key to the nodes of its new preference list that did not hold it under
// the ring the data was last placed for, and only after they acknowledged it durably deletes
// the keys this node no longer replicates. A newer ring change restarts the walk; a failed send
// is retried with backoff, so nothing is dropped before its new replicas have it.
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import { TRANSFER_BATCH_KEYS_MAX, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import type { Sibling } from '../version/siblings.ts';
import type { TransferStatus } from '../membership/table.ts';

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

const RETRY_BACKOFF_MS = { initial: 100, max: 5_000 };
/** Stray writes are collected this long before being handed off, to batch them. */
const STRAY_DELAY_MS = 1_000;

export class RingTransfer {
  /** The ring the local data is known to be placed for; undefined = unknown, send to all. */
  private placedFor: Ring | undefined;
  private generation = 0;
  private running: Promise<void> | undefined;
  private readonly strays = new Set<string>();
  private strayTimer: { cancel(): void } | undefined;
  keysSent = 0;
  keysDropped = 0;

  constructor(
    private readonly deps: RingTransferDeps,
    initialRing: Ring | undefined,
  ) {
    this.placedFor = initialRing;
  }

  get active(): boolean {
    return this.running !== undefined;
  }

  /** Starts (or restarts) the walk for `target`; resolves when the data is placed for it. */
  rebalance(target: Ring | undefined): Promise<void> {
    const generation = ++this.generation;
    const run = this.walk(target, generation).finally(() => {
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
    while (more) {
      if (stale()) return;
      // One key past the page tells where the next page starts (scan starts are inclusive).
      const page = store.keys(start, TRANSFER_BATCH_KEYS_MAX + 1);
      const keys = page.slice(0, TRANSFER_BATCH_KEYS_MAX);
      start = page[TRANSFER_BATCH_KEYS_MAX];
      more = start !== undefined;
      const byTarget = new Map<NodeId, Array<{ key: string; siblings: readonly Sibling[] }>>();
      const drops: Array<{ key: string; siblings: readonly Sibling[] }> = [];
      const targetsLeft = new Set<NodeId>();
      for (const key of keys) {
        const siblings = store.read(key);
        if (siblings.length === 0) continue;
        const next = target.preferenceList(key, n);
        const keep = next.includes(self);
        const before = this.placedFor?.preferenceList(key, n) ?? [];
        // Keys we are leaving go to every new replica; kept keys only to the newcomers.
        const to = next.filter((id) => id !== self && (!keep || !before.includes(id)));
        for (const id of to) {
          let list = byTarget.get(id);
          if (list === undefined) byTarget.set(id, (list = []));
          list.push({ key, siblings });
          targetsLeft.add(id);
        }
        if (!keep) drops.push({ key, siblings });
      }
      this.deps.onProgress({ keysTotal, keysDone, targets: [...targetsLeft] });
      await Promise.all([...byTarget].map(([id, entries]) => this.sendUntilAcked(id, entries, stale)));
      if (stale()) return;
      for (const d of drops) await this.dropOrRetry(d.key, d.siblings);
      keysDone += keys.length;
      this.deps.onProgress({ keysTotal, keysDone, targets: [...targetsLeft] });
    }
    if (!stale()) this.placedFor = target;
  }

  /**
   * A write reached this node for a key it does not replicate (the sender's ring view was older
   * than ours, or a transfer raced a ring change). Collect such keys briefly, then hand them to
   * their replicas and drop them here, so no stray copy outlives the ring change.
   */
  strayWrite(key: string): void {
    this.strays.add(key);
    if (this.strayTimer !== undefined) return;
    this.strayTimer = this.deps.clock.setTimer(STRAY_DELAY_MS, () => {
      this.strayTimer = undefined;
      void this.handOffStrays();
    });
  }

  private async handOffStrays(): Promise<void> {
    const ring = this.deps.currentRing();
    const keys = [...this.strays].slice(0, TRANSFER_BATCH_KEYS_MAX);
    for (const key of keys) this.strays.delete(key);
    if (ring === undefined || keys.length === 0) return;
    const byTarget = new Map<NodeId, Array<{ key: string; siblings: readonly Sibling[] }>>();
    const drops: Array<{ key: string; siblings: readonly Sibling[] }> = [];
    for (const key of keys) {
      const siblings = this.deps.store.read(key);
      const next = ring.preferenceList(key, this.deps.n);
      if (siblings.length === 0 || next.includes(this.deps.self)) continue;
      for (const id of next) {
        let list = byTarget.get(id);
        if (list === undefined) byTarget.set(id, (list = []));
        list.push({ key, siblings });
      }
      drops.push({ key, siblings });
    }
    const generation = this.generation;
    await Promise.all([...byTarget].map(([id, entries]) => this.sendUntilAcked(id, entries, () => generation !== this.generation)));
    if (generation === this.generation) for (const d of drops) await this.dropOrRetry(d.key, d.siblings);
    if (this.strays.size > 0) this.strayWrite([...this.strays][0]!);
  }

  /** Drops a handed-off key, unless a newer write arrived meanwhile: then it goes round again. */
  private async dropOrRetry(key: string, sent: readonly Sibling[]): Promise<void> {
    if (await this.deps.store.removeIfUnchanged(key, sent)) this.keysDropped++;
    else this.strayWrite(key);
  }

  private async sendUntilAcked(to: NodeId, entries: Array<{ key: string; siblings: readonly Sibling[] }>, stale: () => boolean): Promise<void> {
    let backoffMs = RETRY_BACKOFF_MS.initial;
    while (!stale()) {
      try {
        const reply = await this.deps.transport.request(to, { kind: 'replica_put_batch', entries }, this.deps.requestTimeoutMs * 5);
        if (reply.kind === 'replica_put_ok') {
          this.keysSent += entries.length;
          return;
        }
      } catch (err) {
        this.deps.log.warn({ to, keys: entries.length, err: (err as Error).message, retryInMs: backoffMs }, 'transfer batch failed; retrying');
      }
      await new Promise<void>((resolve) => this.deps.clock.setTimer(backoffMs, resolve));
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS.max);
    }
  }
}
