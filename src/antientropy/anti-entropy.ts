// Anti-entropy (Dynamo 4.7) and recovery on return (the seed's rule): one Merkle tree per key
// range this node replicates, updated on every committed write, compared with the other
// replicas of the range level by level so that only differing buckets are listed and only
// differing keys move, both ways (pull what we miss or hold stale, push what they miss). Runs
// at start-up (state `syncing` until every range is done), when a peer answers again after
// being down, and periodically in the background. Records move in batches cut by bytes: a
// replica answers a pull with as much as fits and names the keys left for another request.
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import { BatchBuilder, fitsNoBatch, sendIsolatingRefusals } from '../handoff/batches.ts';
import {
  BATCH_ENTRY_BYTES_MAX,
  batchEntryBytes,
  TRANSFER_BATCH_BYTES_MAX,
  TRANSFER_BATCH_KEYS_MAX,
  type BatchEntry,
  type PeerReply,
  type PeerRequest,
} from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import { encodeRecord } from '../version/record-codec.ts';
import type { Sibling } from '../version/siblings.ts';
import { diffLeaves, MerkleTree } from './merkle-tree.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const SCAN_PAGE_KEYS = 10_000;
/**
 * Tombstones one purgeTombstones call examines at most (each costs a read and, if purged, a
 * removal: ~10-20 us); the rest wait for the range's next round. 10,000 per round every
 * antiEntropyIntervalMs outpaces any delete rate a node takes for long.
 */
export const PURGE_TOMBSTONES_PER_ROUND_MAX = 10_000;
/** Tombstones examined between turns of the event loop in a purge: a page costs 1-5 ms. */
export const PURGE_PAGE_TOMBSTONES = 100;
/**
 * Purged tombstones remembered (key and dots), so that a replica that has not purged its copy
 * yet cannot hand it back (see isPurgedTombstone). Forgetting one early is safe: the tombstone is
 * only stored and purged once more.
 */
const PURGED_REMEMBERED_MAX = 100_000;

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

export interface SyncTotals {
  syncs: number;
  keysPulled: number;
  keysPushed: number;
  hashesCompared: number;
  /** Encoded size of every anti-entropy message this node sent and received. */
  bytesSent: number;
  bytesReceived: number;
  tombstonesPurged: number;
}

export class AntiEntropy {
  private trees = new Map<NodeId, MerkleTree>();
  private treesRing: Ring | undefined;
  private progress: SyncProgress = { state: 'ready', pairsDone: 0, pairsTotal: 0 };
  private timer: { cancel(): void } | undefined;
  private stopped = false;
  private recovering: Promise<void> | undefined;
  readonly totals: SyncTotals = { syncs: 0, keysPulled: 0, keysPushed: 0, hashesCompared: 0, bytesSent: 0, bytesReceived: 0, tombstonesPurged: 0 };
  /**
   * When a sync with each peer last completed (its start, on the monotonic clock), per range:
   * after it, both held the same data.
   */
  private readonly lastSyncMs = new Map<string, number>();
  /**
   * Keys whose every version is a tombstone (the only candidates for purging, so no store scan),
   * each with when this node stored that tombstone state, on its own monotonic clock: a
   * tombstone's age is never judged by the writer's clock, which may run behind or ahead of ours,
   * nor by our wall clock, which may step back and make a tombstone look older than a sync that
   * never saw it. Kept per range (the key's home range under treesRing, recomputed at each ring
   * change), so a purge walks only its own range's; and in each range in order of that time (a
   * key noted again moves to the end, and the monotonic clock never goes back), so a purge stops
   * at the first tombstone too young to go.
   */
  private tombstones = new Map<NodeId, Map<string, number>>();
  private tombstonesIndexed = false;
  /** The latest stored-at time noted: times only grow, which keeps each range's index in order. */
  private lastStoredAtMs = -Infinity;
  /** Tombstones this node purged, oldest first: their dots and when (monotonic; for PURGED_REMEMBERED_MAX). */
  private readonly purged = new Map<string, { readonly dots: ReadonlySet<string>; readonly atMs: number }>();

  constructor(private readonly deps: AntiEntropyDeps) {
    deps.store.observe((key, before, after, siblings) => {
      if (after !== undefined) this.purged.delete(key);
      const range = this.treesRing?.homeOf(key);
      if (range === undefined) return; // no ring yet: the first rebuild indexes what is on disk
      this.trees.get(range)?.update(key, before, after);
      this.noteTombstones(key, range, siblings, deps.clock.monotonicMs());
    });
  }

  status(): SyncProgress {
    return this.progress;
  }

  /** Builds the trees for `ring` from the stored data: once at start and once per ring change. */
  rebuild(ring: Ring | undefined): void {
    const changed = ring !== this.treesRing;
    this.treesRing = ring;
    this.trees = new Map();
    // A sync of a range under the old ring says nothing of the range's new shape or replicas.
    if (changed) this.lastSyncMs.clear();
    if (ring === undefined) {
      // Without a ring no tombstone has a range: the next rebuild indexes them again from disk.
      this.tombstones = new Map();
      this.tombstonesIndexed = false;
      return;
    }
    for (const range of ring.rangesReplicatedBy(this.deps.self, this.deps.n)) this.trees.set(range.node, new MerkleTree());
    // Tombstones found on disk (first build only) count as stored now: their first arrival is
    // unknown, and now is the latest it can have been (conservative: they are purged no earlier
    // than they should be). Later builds keep each tombstone's time and recompute its range.
    const indexTombstones = !this.tombstonesIndexed;
    this.tombstonesIndexed = true;
    if (!indexTombstones) this.regroupTombstones(ring);
    else this.tombstones = new Map();
    const nowMs = this.deps.clock.monotonicMs();
    for (const page of this.keyPages()) {
      for (const key of page) {
        // Committed bytes only: a write still pending reaches the tree through the commit
        // observer, whose `before` must be exactly what the tree holds. The first build checks
        // every record (a corrupt one is reported and left out, as the store counts it absent).
        const record = indexTombstones ? this.deps.store.load(key) : undefined;
        const bytes = indexTombstones ? record?.bytes : this.deps.store.committedBytes(key);
        if (bytes === undefined) continue;
        const range = ring.homeOf(key);
        this.trees.get(range)?.update(key, undefined, bytes);
        if (record !== undefined) this.noteTombstones(key, range, record.siblings, nowMs);
      }
    }
  }

  /** Moves every indexed tombstone to its range under `ring`, keeping each range in time order. */
  private regroupTombstones(ring: Ring): void {
    const all: Array<{ key: string; storedAtMs: number }> = [];
    for (const index of this.tombstones.values()) for (const [key, storedAtMs] of index) all.push({ key, storedAtMs });
    all.sort((a, b) => a.storedAtMs - b.storedAtMs);
    this.tombstones = new Map();
    for (const { key, storedAtMs } of all) this.indexOf(ring.homeOf(key)).set(key, storedAtMs);
  }

  private indexOf(range: NodeId): Map<string, number> {
    let index = this.tombstones.get(range);
    if (index === undefined) this.tombstones.set(range, (index = new Map()));
    return index;
  }

  /**
   * Whether `siblings` are tombstones this node already purged (all their dots among those it
   * removed): storing them again would only restart their age here. Replicas purge one after
   * another; without this, one that purged would take the tombstone back from one that has not
   * yet, as new, and the two could hand it to each other for ever. Not storing it is safe: this
   * node purged it only once every replica held it. Remembered for twice the grace period.
   */
  isPurgedTombstone(key: string, siblings: readonly Sibling[]): boolean {
    const purged = this.purged.get(key);
    if (purged === undefined) return false;
    if (purged.atMs < this.deps.clock.monotonicMs() - 2 * this.deps.tombstoneGraceMs) {
      this.purged.delete(key);
      return false;
    }
    return isTombstoneOnly(siblings) && siblings.every((s) => purged.dots.has(dotName(s)));
  }

  /** Every change of a key's tombstone state (a new tombstone merged in) restarts its age. */
  private noteTombstones(key: string, range: NodeId, siblings: readonly Sibling[], storedAtMs: number): void {
    const index = this.tombstones.get(range);
    index?.delete(key);
    if (!isTombstoneOnly(siblings)) return;
    if (storedAtMs < this.lastStoredAtMs) throw new Error('assertion: the monotonic clock went back');
    this.lastStoredAtMs = storedAtMs;
    this.indexOf(range).set(key, storedAtMs);
  }

  /**
   * Full recovery (at start-up): sync every range with every other replica, then report ready.
   * Only this sets the sync state (status(), onState): `ready` means a full recovery ended.
   */
  recover(): Promise<void> {
    this.recovering ??= this.syncPairs(this.allPairs(), true).finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  /**
   * A peer answered again after being down: sync the ranges we share with it. This leaves the
   * sync state alone: a peer's return says nothing of whether a running recovery has ended.
   */
  peerReturned(peer: NodeId): void {
    void this.syncPairs(this.allPairs().filter((p) => p.peer === peer), false).catch(() => {});
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** Answers a peer's anti-entropy request. */
  async handle(request: Extract<PeerRequest, { kind: 'ae_level' | 'ae_bucket' | 'replica_get_batch' }>): Promise<PeerReply> {
    switch (request.kind) {
      case 'replica_get_batch':
        return this.getBatch(request.keys);
      case 'ae_level': {
        const tree = this.trees.get(request.range);
        if (tree === undefined) return { kind: 'ae_unavailable', reason: `no tree for range ${request.range}` };
        return { kind: 'ae_level_ok', hashes: tree.level(request.level, [...request.indexes]) };
      }
      case 'ae_bucket': {
        const tree = this.trees.get(request.range);
        if (tree === undefined) return { kind: 'ae_unavailable', reason: `no tree for range ${request.range}` };
        return { kind: 'ae_bucket_ok', entries: (await this.bucketEntries(request.range, tree, request.leaves)).map((e) => [e.key, e.digest] as const) };
      }
    }
  }

  /**
   * Answers a pull: the asked keys' records in order, as many as fit one batch (the first alone
   * if it is larger), the rest named in `left` for another request; a record too large for any
   * frame is named in `tooLarge` (and logged) instead of failing the whole reply.
   */
  private getBatch(keys: readonly string[]): PeerReply {
    const entries: BatchEntry[] = [];
    const left: string[] = [];
    const tooLarge: string[] = [];
    let bytes = 0;
    for (const key of keys) {
      if (left.length > 0) {
        left.push(key);
        continue;
      }
      const record = this.deps.store.readEncoded(key);
      const size = batchEntryBytes(key, record);
      if (size > BATCH_ENTRY_BYTES_MAX) {
        tooLarge.push(key);
        this.deps.log.warn({ key, bytes: size }, 'record too large for any message; not sent to the replica asking for it');
      } else if (entries.length > 0 && bytes + size > TRANSFER_BATCH_BYTES_MAX) {
        left.push(key);
      } else {
        entries.push({ key, record });
        bytes += size;
      }
    }
    return { kind: 'replica_get_batch_ok', entries, left, tooLarge };
  }

  /**
   * Makes this node's and `peer`'s replicas of `range` equal; returns the keys that moved. Only a
   * complete sync (every differing key moved both ways) counts for purging tombstones.
   */
  async syncRange(range: NodeId, peer: NodeId): Promise<{ pulled: number; pushed: number; complete: boolean }> {
    const startedMs = this.deps.clock.monotonicMs();
    const result = await this.syncRangeOnce(range, peer);
    if (result.complete) this.lastSyncMs.set(`${range}\u0000${peer}`, startedMs);
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
   * one (see removedHandoffOpen). One call examines at most PURGE_TOMBSTONES_PER_ROUND_MAX tombstones, with
   * a turn of the event loop every PURGE_PAGE_TOMBSTONES.
   */
  async purgeTombstones(range: NodeId): Promise<number> {
    if (this.deps.removedHandoffOpen()) return 0;
    const ring = this.treesRing;
    const tree = this.trees.get(range);
    if (ring === undefined || tree === undefined) return 0;
    const replicas = ring.homeRanges(this.deps.n).find((r) => r.node === range)?.replicas ?? [];
    let horizonMs = this.deps.clock.monotonicMs() - this.deps.tombstoneGraceMs;
    for (const peer of replicas) {
      if (peer === this.deps.self) continue;
      horizonMs = Math.min(horizonMs, this.lastSyncMs.get(`${range}\u0000${peer}`) ?? -Infinity);
    }
    if (horizonMs === -Infinity) return 0;
    const index = this.tombstones.get(range);
    if (index === undefined) return 0;
    let purged = 0;
    let examined = 0;
    const removals: Array<Promise<number>> = [];
    // The index is in stored-at order: the walk stops at the first tombstone too young to go.
    // It yields a turn of the event loop every page; a ring change meanwhile (other replicas,
    // another range) ends it, as the horizon was judged for the old one.
    for (const [key, storedAtMs] of index) {
      if (storedAtMs >= horizonMs || examined >= PURGE_TOMBSTONES_PER_ROUND_MAX) break;
      examined++;
      const siblings = this.deps.store.read(key);
      if (isTombstoneOnly(siblings)) removals.push(this.purgeOne(key, siblings));
      if (examined % PURGE_PAGE_TOMBSTONES === 0) {
        for (const n of await Promise.all(removals.splice(0))) purged += n;
        await new Promise<void>((resolve) => this.deps.clock.setTimer(0, resolve));
        if (this.treesRing !== ring || this.tombstones.get(range) !== index) break;
      }
    }
    for (const n of await Promise.all(removals)) purged += n;
    return purged;
  }

  /** Removes one tombstone-only key (unless it changed meanwhile) and remembers its dots; 1 if removed. */
  private async purgeOne(key: string, siblings: readonly Sibling[]): Promise<number> {
    if (!(await this.deps.store.removeIfUnchanged(key, siblings))) return 0;
    this.purged.delete(key);
    this.purged.set(key, { dots: new Set(siblings.map(dotName)), atMs: this.deps.clock.monotonicMs() });
    if (this.purged.size > PURGED_REMEMBERED_MAX) this.purged.delete(this.purged.keys().next().value!);
    this.totals.tombstonesPurged++;
    return 1;
  }

  private async syncRangeOnce(range: NodeId, peer: NodeId): Promise<{ pulled: number; pushed: number; complete: boolean }> {
    const tree = this.trees.get(range);
    if (tree === undefined) return { pulled: 0, pushed: 0, complete: false };
    const { leaves, hashesCompared } = await diffLeaves(tree, async (level, indexes) => {
      const reply = await this.ask(peer, { kind: 'ae_level', range, level, indexes });
      if (reply.kind !== 'ae_level_ok') throw new Error(`unexpected ${reply.kind}`);
      return [...reply.hashes];
    });
    this.totals.syncs++;
    this.totals.hashesCompared += hashesCompared;
    if (leaves.length === 0) return { pulled: 0, pushed: 0, complete: true };
    const bucketReply = await this.ask(peer, { kind: 'ae_bucket', range, leaves });
    if (bucketReply.kind !== 'ae_bucket_ok') throw new Error(`unexpected ${bucketReply.kind}`);
    const theirs = new Map(bucketReply.entries.map(([key, digest]) => [key, digest]));
    const ours = new Map((await this.bucketEntries(range, tree, leaves)).map((e) => [e.key, e.digest]));
    const toPull = [...theirs].filter(([k, d]) => ours.get(k) !== d).map(([k]) => k);
    const differing = new Set([...toPull, ...[...ours].filter(([k, d]) => theirs.get(k) !== d).map(([k]) => k)]);
    const pull = await this.pull(peer, toPull);
    // Push our (now merged) state of every differing key, so both sides end equal. Only keys
    // whose merged state here still differs from theirs need to go back.
    const push = await this.push(peer, differing, theirs);
    this.totals.keysPulled += pull.pulled;
    this.totals.keysPushed += push.pushed;
    return { pulled: pull.pulled, pushed: push.pushed, complete: pull.complete && push.complete };
  }

  /** Pulls `keys` from `peer` in batches; the peer's reply names what it left for the next one. */
  private async pull(peer: NodeId, keys: readonly string[]): Promise<{ pulled: number; complete: boolean }> {
    const queue = [...keys];
    let pulled = 0;
    let complete = true;
    while (queue.length > 0) {
      const asked = queue.splice(0, TRANSFER_BATCH_KEYS_MAX);
      const reply = await this.ask(peer, { kind: 'replica_get_batch', keys: asked });
      if (reply.kind !== 'replica_get_batch_ok') throw new Error(`unexpected ${reply.kind}`);
      const wanted = new Set(asked);
      const entries = reply.entries.filter((e) => wanted.has(e.key));
      // An empty record (the peer no longer holds the key) adds nothing.
      const taken = entries.filter((e) => e.record.siblings.length > 0 && !this.isPurgedTombstone(e.key, e.record.siblings));
      await Promise.all(taken.map((e) => this.deps.store.merge(e.key, e.record)));
      pulled += taken.length;
      if (reply.tooLarge.length > 0) {
        complete = false;
        this.deps.log.warn({ peer, keys: reply.tooLarge.slice(0, 5), count: reply.tooLarge.length }, 'records too large for any message; not pulled');
      }
      // Each reply settles at least one asked key (sent or too large), so this loop ends.
      const left = reply.left.filter((k) => wanted.has(k));
      if (entries.length + reply.tooLarge.length === 0 && left.length > 0) throw new Error(`${peer} answered a pull with no record`);
      queue.unshift(...left);
    }
    return { pulled, complete };
  }

  /** Pushes our record of each of `keys` that differs from the peer's digest, in byte-cut batches. */
  private async push(peer: NodeId, keys: Iterable<string>, theirs: ReadonlyMap<string, string>): Promise<{ pushed: number; complete: boolean }> {
    const batch = new BatchBuilder<BatchEntry>();
    let pushed = 0;
    let complete = true;
    const send = async (entries: readonly BatchEntry[]) => {
      const refused = await sendIsolatingRefusals(entries, async (part) => {
        const reply = await this.ask(peer, { kind: 'replica_put_batch', entries: part });
        if (reply.kind !== 'replica_put_ok') throw new Error(`unexpected ${reply.kind}`);
      });
      pushed += entries.length - refused.length;
      if (refused.length > 0) {
        complete = false;
        this.deps.log.warn({ peer, keys: refused.slice(0, 5).map((r) => r.entry.key), count: refused.length }, 'records refused by the peer; not pushed');
      }
    };
    for (const key of keys) {
      const record = this.deps.store.readEncoded(key);
      if (record.siblings.length === 0 || recordDigest(record.siblings) === theirs.get(key)) continue;
      if (fitsNoBatch(key, record)) {
        complete = false;
        this.deps.log.warn({ peer, key, bytes: batchEntryBytes(key, record) }, 'record too large for any message; not pushed');
        continue;
      }
      const entry = { key, record };
      if (!batch.fits(entry)) await send(batch.take());
      batch.add(entry);
    }
    if (batch.size > 0) await send(batch.take());
    return { pushed, complete };
  }

  // --- internals -----------------------------------------------------------------------------

  /** Every stored key, in pages of SCAN_PAGE_KEYS, so a caller can yield between pages. */
  private *keyPages(): Generator<string[]> {
    let start: string | undefined;
    for (;;) {
      const page = this.deps.store.keys(start, SCAN_PAGE_KEYS + 1);
      yield page.slice(0, SCAN_PAGE_KEYS);
      start = page[SCAN_PAGE_KEYS];
      if (start === undefined) return;
    }
  }

  private allPairs(): Array<{ range: NodeId; peer: NodeId }> {
    const ring = this.treesRing;
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

  private async ask(peer: NodeId, request: PeerRequest): Promise<PeerReply> {
    this.totals.bytesSent += packr.pack(request).length;
    const reply = await this.deps.transport.request(peer, request, this.deps.requestTimeoutMs * 5);
    this.totals.bytesReceived += packr.pack(reply).length;
    if (reply.kind === 'ae_unavailable') throw new Error(`${peer}: ${reply.reason}`);
    return reply;
  }

  /** Keys of `range` stored here whose leaf is in `leaves`, with a digest of their record. */
  /**
   * Keys of `range` stored here whose leaf is in `leaves`, with a digest of their record. This
   * walks every key (there is no index by leaf), so it yields to the event loop after each page:
   * a big store must not stall the node's requests while it syncs.
   */
  private async bucketEntries(range: NodeId, tree: MerkleTree, leaves: readonly number[]): Promise<Array<{ key: string; digest: string }>> {
    const wanted = new Set(leaves);
    const ring = this.treesRing;
    const out: Array<{ key: string; digest: string }> = [];
    if (ring === undefined) return out;
    let first = true;
    for (const page of this.keyPages()) {
      if (!first) await new Promise<void>((resolve) => this.deps.clock.setTimer(0, resolve));
      first = false;
      for (const key of page) {
        if (!wanted.has(tree.leafOf(key)) || ring.homeOf(key) !== range) continue;
        const siblings = this.deps.store.read(key);
        if (siblings.length > 0) out.push({ key, digest: recordDigest(siblings) });
      }
    }
    return out;
  }
}

function dotName(s: Sibling): string {
  return `${s.dot.node}\u0000${s.dot.counter}`;
}

/** A record of tombstones only: the only records ever purged. */
function isTombstoneOnly(siblings: readonly Sibling[]): boolean {
  return siblings.length > 0 && siblings.every((s) => s.value === null);
}

/** A short digest of a key's record, to tell equal replicas apart in bucket listings. */
function recordDigest(siblings: Parameters<typeof encodeRecord>[0]): string {
  return createHash('md5').update(encodeRecord(siblings)).digest('base64').slice(0, 11); // 64 bits: a collision only delays repair to the next change
}
