// Anti-entropy (Dynamo 4.7) and recovery on return (the seed's rule), as a node runs it: when
// to exchange with which replica. A full recovery at start-up (state `syncing` until every range
// is done), a range exchange when a peer answers again after being down, and one random range
// and replica every intervalMs, followed by a tombstone purge of that range once every replica
// held its tombstones. The parts: tree-index.ts (the Merkle trees and their keys by leaf),
// exchange.ts (one exchange, both sides), tombstone-purge.ts (which tombstones may go).
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import type { Sibling } from '../version/siblings.ts';
import { Exchange, type AnswerableRequest, type SyncTotals } from './exchange.ts';
import { TombstonePurge } from './tombstone-purge.ts';
import { TreeIndex } from './tree-index.ts';

export type { SyncTotals } from './exchange.ts';
export { PURGE_PAGE_TOMBSTONES, PURGE_TOMBSTONES_PER_ROUND_MAX } from './tombstone-purge.ts';

export interface AntiEntropyDeps {
  readonly self: NodeId;
  readonly n: number;
  readonly store: ReplicaStore;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Log;
  readonly intervalMs: number;
  readonly requestTimeoutMs: number;
  readonly onState: (state: 'ready' | 'syncing') => void;
  /** Tombstones older than this, held by every replica, are purged (see purgeTombstones). */
  readonly tombstoneGraceMs: number;
  /**
   * Whether a node removed from the ring may still hand its data off to this one (within the
   * hand-off window of a removal this node learned of): no tombstone is purged meanwhile, or a
   * removed node that missed a delete could hand the deleted value back after its tombstone went.
   */
  readonly removedHandoffOpen: () => boolean;
}

export interface SyncProgress {
  readonly state: 'ready' | 'syncing';
  readonly pairsDone: number;
  readonly pairsTotal: number;
}

export class AntiEntropy {
  private readonly index: TreeIndex;
  private readonly tombstones: TombstonePurge;
  private readonly exchange: Exchange;
  /** The first build (at start) has indexed the tombstones on disk; later builds regroup them. */
  private tombstonesIndexed = false;
  private progress: SyncProgress = { state: 'ready', pairsDone: 0, pairsTotal: 0 };
  private timer: { cancel(): void } | undefined;
  private stopped = false;
  private recovering: Promise<void> | undefined;
  /** A build after a drift of the index is scheduled. */
  private driftRebuild: { cancel(): void } | undefined;
  readonly totals: SyncTotals = { syncs: 0, keysPulled: 0, keysPushed: 0, hashesCompared: 0, bytesSent: 0, bytesReceived: 0, tombstonesPurged: 0 };
  /**
   * When a sync with each peer last completed (its start, on the monotonic clock), per range:
   * after it, both held the same data. At most N ranges x (N - 1) peers; cleared at a ring change.
   */
  private readonly lastSyncMs = new Map<string, number>();

  constructor(private readonly deps: AntiEntropyDeps) {
    this.index = new TreeIndex({
      self: deps.self,
      n: deps.n,
      store: deps.store,
      clock: deps.clock,
      log: deps.log,
      // Coalesced: one build for any number of drifts seen before it starts.
      onDrift: () => {
        if (this.driftRebuild !== undefined) return;
        this.driftRebuild = deps.clock.setTimer(0, () => {
          this.driftRebuild = undefined;
          if (this.stopped) return;
          this.rebuild(this.index.ring).catch((err: unknown) => deps.log.error({ err }, 'building the Merkle trees again failed'));
        });
      },
    });
    this.tombstones = new TombstonePurge({ store: deps.store, clock: deps.clock, tombstoneGraceMs: deps.tombstoneGraceMs });
    this.exchange = new Exchange({
      store: deps.store,
      clock: deps.clock,
      index: this.index,
      transport: deps.transport,
      log: deps.log,
      requestTimeoutMs: deps.requestTimeoutMs,
      totals: this.totals,
      isPurgedTombstone: (key, siblings) => this.tombstones.isPurgedTombstone(key, siblings),
    });
    deps.store.observe((key, before, after, siblings) => {
      if (after !== undefined) this.tombstones.written(key);
      const placed = this.index.apply(key, before, after);
      if (placed === undefined) return; // no ring yet: the first build indexes what is on disk
      // A key the first build has not read yet is noted when it reads it.
      if (placed.applied || !this.index.visiting) this.tombstones.note(key, placed.range, siblings, deps.clock.monotonicMs());
    });
  }

  status(): SyncProgress {
    return this.progress;
  }

  /**
   * Builds the trees for `ring` from the stored data: once at start and once per ring change, in
   * pages (see TreeIndex); resolves when done. Exchanges wait for it; peers asking meanwhile are
   * told to ask again later.
   */
  async rebuild(ring: Ring | undefined): Promise<void> {
    // A sync of a range under the old ring says nothing of the range's new shape or replicas.
    if (ring !== this.index.ring) this.lastSyncMs.clear();
    if (ring === undefined) {
      // Without a ring no tombstone has a range: the next build indexes them again from disk.
      this.tombstones.clear();
      this.tombstonesIndexed = false;
      await this.index.rebuild(undefined);
      return;
    }
    if (this.tombstonesIndexed) {
      // Later builds keep each tombstone's time and recompute its range.
      this.tombstones.regroup(ring);
      await this.index.rebuild(ring);
      return;
    }
    // Tombstones found on disk (first build only) count as stored when the build reads them:
    // their first arrival is unknown, and that is the latest it can have been (conservative:
    // they are purged no earlier than they should be). A first build replaced before it read the
    // whole store leaves the next build to index them all again.
    this.tombstones.clear();
    const complete = await this.index.rebuild(ring, (key, range, siblings, atMs) => this.tombstones.note(key, range, siblings, atMs));
    if (complete && this.index.ring === ring) this.tombstonesIndexed = true;
  }

  /** See TombstonePurge.isPurgedTombstone. */
  isPurgedTombstone(key: string, siblings: readonly Sibling[]): boolean {
    return this.tombstones.isPurgedTombstone(key, siblings);
  }

  /**
   * Full recovery (at start-up): sync every range with every other replica, then report ready.
   * Only this sets the sync state (status(), onState): `ready` means a full recovery ended.
   */
  recover(): Promise<void> {
    this.recovering ??= this.index
      .ready()
      .then(() => this.syncPairs(this.allPairs(), true))
      .finally(() => {
        this.recovering = undefined;
      });
    return this.recovering;
  }

  /**
   * A peer answered again after being down: sync the ranges we share with it. This leaves the
   * sync state alone: a peer's return says nothing of whether a running recovery has ended.
   */
  peerReturned(peer: NodeId): void {
    void this.index
      .ready()
      .then(() => this.syncPairs(this.allPairs().filter((p) => p.peer === peer), false))
      .catch(() => {});
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.driftRebuild?.cancel();
  }

  /** Answers a peer's anti-entropy request. */
  handle(request: AnswerableRequest): Promise<PeerReply> {
    return this.exchange.answer(request);
  }

  /**
   * Makes this node's and `peer`'s replicas of `range` equal; returns the keys that moved. Only a
   * complete sync (every differing key moved both ways) counts for purging tombstones.
   */
  async syncRange(range: NodeId, peer: NodeId): Promise<{ pulled: number; pushed: number; complete: boolean }> {
    await this.index.ready();
    const ring = this.index.ring;
    const startedMs = this.deps.clock.monotonicMs();
    const result = await this.exchange.syncRange(range, peer);
    // Judged for the ring it ran on: a ring change meanwhile cleared what it would say.
    if (result.complete && this.index.ring === ring) this.lastSyncMs.set(`${range}\u0000${peer}`, startedMs);
    return result;
  }

  /**
   * Purges tombstones of `range` (Dynamo leaves this open; this is Cassandra's gc-grace rule):
   * a key whose versions are all tombstones is deleted for good only when this node stored that
   * tombstone state longer ago than the grace period AND before the last completed sync with
   * every other replica of the range started, i.e. every replica held it (or had purged it, see
   * isPurgedTombstone). Both ages are read on this node's own monotonic clock, never on the
   * writer's, which may run behind (the grace period would shrink to nothing) or ahead (the
   * tombstone would never age), nor on our wall clock, which may step back. A purged tombstone
   * can no longer be resurrected by a replica that missed the delete; a hint older than the grace
   * period could, so the grace period must exceed how long nodes may stay down with hints
   * waiting for them. Nothing is purged while a removed node may still hand data off to this
   * one (see removedHandoffOpen), nor while the trees are being built. One call examines at most
   * PURGE_TOMBSTONES_PER_ROUND_MAX tombstones, with a turn of the event loop every PURGE_PAGE_TOMBSTONES.
   */
  async purgeTombstones(range: NodeId): Promise<number> {
    if (this.deps.removedHandoffOpen() || !this.index.isReady) return 0;
    const ring = this.index.ring;
    if (ring === undefined || this.index.tree(range) === undefined) return 0;
    const replicas = ring.homeRanges(this.deps.n).find((r) => r.node === range)?.replicas ?? [];
    let horizonMs = this.deps.clock.monotonicMs() - this.deps.tombstoneGraceMs;
    for (const peer of replicas) {
      if (peer === this.deps.self) continue;
      horizonMs = Math.min(horizonMs, this.lastSyncMs.get(`${range}\u0000${peer}`) ?? -Infinity);
    }
    if (horizonMs === -Infinity) return 0;
    // A ring change meanwhile ends the walk: the horizon was judged for the old ring.
    const purged = await this.tombstones.purgeOlderThan(range, horizonMs, () => this.index.ring === ring);
    this.totals.tombstonesPurged += purged;
    return purged;
  }

  private allPairs(): Array<{ range: NodeId; peer: NodeId }> {
    const ring = this.index.ring;
    if (ring === undefined) return [];
    return ring
      .rangesReplicatedBy(this.deps.self, this.deps.n)
      .flatMap((r) => r.replicas.filter((p) => p !== this.deps.self).map((peer) => ({ range: r.node, peer })));
  }

  /** Syncs each pair in turn; `report`: this is a full recovery, whose progress is the sync state. */
  private async syncPairs(pairs: Array<{ range: NodeId; peer: NodeId }>, report: boolean): Promise<void> {
    if (report) {
      this.progress = { state: 'syncing', pairsDone: 0, pairsTotal: pairs.length };
      this.deps.onState('syncing');
    }
    let done = 0;
    for (const pair of pairs) {
      try {
        await this.syncRange(pair.range, pair.peer);
      } catch (err) {
        // An unreachable replica is synced when it returns (peerReturned) or by the background loop.
        this.deps.log.info({ range: pair.range, peer: pair.peer, err: (err as Error).message }, 'range sync skipped');
      }
      done++;
      if (report) this.progress = { state: 'syncing', pairsDone: done, pairsTotal: pairs.length };
    }
    if (!report) return;
    this.progress = { state: 'ready', pairsDone: done, pairsTotal: pairs.length };
    this.deps.onState('ready');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimer(this.deps.intervalMs, () => {
      const pairs = this.allPairs();
      const pair = pairs.length === 0 ? undefined : pairs[this.deps.random.nextInt(pairs.length)];
      const run =
        pair === undefined || this.recovering !== undefined
          ? Promise.resolve()
          : this.syncRange(pair.range, pair.peer).then(() => this.purgeTombstones(pair.range));
      void run.catch(() => {}).finally(() => this.schedule());
    });
  }
}
