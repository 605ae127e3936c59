// One anti-entropy exchange between two replicas of a range (Dynamo 4.7), both sides: asking
// (compare the trees level by level, list only differing buckets, pull the keys we miss or hold
// stale, push what the peer misses) and answering a peer's levels, buckets and pulls. Records
// move in batches cut by bytes: a replica answers a pull with as much as fits and names the keys
// left for another request. Sans-IO: the transport, store and log are injected.
import { createHash } from 'node:crypto';
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
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
import { encodeRecord } from '../version/record-codec.ts';
import type { Sibling } from '../version/siblings.ts';
import { diffLeaves } from './merkle-tree.ts';
import type { TreeIndex } from './tree-index.ts';

/** What exchanges did, since start (a node's stats and metrics). */
export interface SyncTotals {
  syncs: number;
  keysPulled: number;
  keysPushed: number;
  hashesCompared: number;
  /** Payload bytes (keys, records, hashes, leaf numbers) of the anti-entropy messages sent and received. */
  bytesSent: number;
  bytesReceived: number;
  tombstonesPurged: number;
}

/** Keys a bucket listing digests between turns of the event loop (a read and an MD5 each). */
export const BUCKET_PAGE_KEYS = 1_000;

export interface ExchangeDeps {
  readonly store: ReplicaStore;
  readonly clock: Clock;
  readonly index: TreeIndex;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly log: Log;
  readonly requestTimeoutMs: number;
  readonly totals: SyncTotals;
  /** A tombstone this node purged is not taken back (TombstonePurge.isPurgedTombstone). */
  readonly isPurgedTombstone: (key: string, siblings: readonly Sibling[]) => boolean;
}

export type AnswerableRequest = Extract<PeerRequest, { kind: 'ae_level' | 'ae_bucket' | 'replica_get_batch' }>;

export class Exchange {
  constructor(private readonly deps: ExchangeDeps) {}

  /** Answers a peer's anti-entropy request. */
  async answer(request: AnswerableRequest): Promise<PeerReply> {
    switch (request.kind) {
      case 'replica_get_batch':
        return this.getBatch(request.keys);
      case 'ae_level': {
        const tree = this.deps.index.tree(request.range);
        if (tree === undefined) return { kind: 'ae_unavailable', reason: this.unavailable(request.range) };
        return { kind: 'ae_level_ok', hashes: tree.level(request.level, [...request.indexes]) };
      }
      case 'ae_bucket': {
        if (this.deps.index.tree(request.range) === undefined) return { kind: 'ae_unavailable', reason: this.unavailable(request.range) };
        return { kind: 'ae_bucket_ok', entries: (await this.bucketEntries(request.range, request.leaves)).map((e) => [e.key, e.digest] as const) };
      }
    }
  }

  private unavailable(range: NodeId): string {
    return this.deps.index.isReady ? `no tree for range ${range}` : 'its Merkle trees are being built (a ring change): ask again later';
  }

  /**
   * Makes this node's and `peer`'s replicas of `range` equal; returns the keys that moved. Only a
   * complete exchange (every differing key moved both ways) counts for purging tombstones.
   */
  async syncRange(range: NodeId, peer: NodeId): Promise<{ pulled: number; pushed: number; complete: boolean }> {
    const tree = this.deps.index.tree(range);
    if (tree === undefined) return { pulled: 0, pushed: 0, complete: false };
    const { leaves, hashesCompared } = await diffLeaves(tree, async (level, indexes) => {
      const reply = await this.ask(peer, { kind: 'ae_level', range, level, indexes });
      if (reply.kind !== 'ae_level_ok') throw new Error(`unexpected ${reply.kind}`);
      return [...reply.hashes];
    });
    const { totals } = this.deps;
    totals.syncs++;
    totals.hashesCompared += hashesCompared;
    if (leaves.length === 0) return { pulled: 0, pushed: 0, complete: true };
    const bucketReply = await this.ask(peer, { kind: 'ae_bucket', range, leaves });
    if (bucketReply.kind !== 'ae_bucket_ok') throw new Error(`unexpected ${bucketReply.kind}`);
    const theirs = new Map(bucketReply.entries.map(([key, digest]) => [key, digest]));
    const ours = new Map((await this.bucketEntries(range, leaves)).map((e) => [e.key, e.digest]));
    const toPull = [...theirs].filter(([k, d]) => ours.get(k) !== d).map(([k]) => k);
    const differing = new Set([...toPull, ...[...ours].filter(([k, d]) => theirs.get(k) !== d).map(([k]) => k)]);
    const pull = await this.pull(peer, toPull);
    // Push our (now merged) state of every differing key, so both sides end equal. Only keys
    // whose merged state here still differs from theirs need to go back.
    const push = await this.push(peer, differing, theirs);
    totals.keysPulled += pull.pulled;
    totals.keysPushed += push.pushed;
    return { pulled: pull.pulled, pushed: push.pushed, complete: pull.complete && push.complete };
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
      const taken = entries.filter((e) => e.record.siblings.length > 0 && !this.deps.isPurgedTombstone(e.key, e.record.siblings));
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

  private async ask(peer: NodeId, request: PeerRequest): Promise<PeerReply> {
    this.deps.totals.bytesSent += payloadBytes(request);
    const reply = await this.deps.transport.request(peer, request, this.deps.requestTimeoutMs * 5);
    this.deps.totals.bytesReceived += payloadBytes(reply);
    if (reply.kind === 'ae_unavailable') throw new Error(`${peer}: ${reply.reason}`);
    return reply;
  }

  /**
   * Keys of `range` stored here in these leaves (from the index: the cost is the buckets', not the
   * store's), with a digest of their record; a turn of the event loop every BUCKET_PAGE_KEYS, as
   * a fresh replica's first exchange lists every bucket.
   */
  private async bucketEntries(range: NodeId, leaves: readonly number[]): Promise<Array<{ key: string; digest: string }>> {
    const out: Array<{ key: string; digest: string }> = [];
    let read = 0;
    for (const key of this.deps.index.bucket(range, leaves)) {
      if (++read % BUCKET_PAGE_KEYS === 0) await new Promise<void>((resolve) => this.deps.clock.setTimer(0, resolve));
      const siblings = this.deps.store.read(key);
      if (siblings.length > 0) out.push({ key, digest: recordDigest(siblings) });
    }
    return out;
  }
}

/** Bytes of keys, records, hashes and numbers a message carries (what its frame mostly is), counted without encoding it. */
function payloadBytes(message: PeerRequest | PeerReply): number {
  const keys = (list: readonly string[]) => list.reduce((sum, k) => sum + Buffer.byteLength(k), 0);
  const batch = (entries: readonly BatchEntry[]) => entries.reduce((sum, e) => sum + Buffer.byteLength(e.key) + e.record.bytes.length, 0);
  switch (message.kind) {
    case 'ae_level':
      return 8 * message.indexes.length;
    case 'ae_level_ok':
      return message.hashes.reduce((sum, h) => sum + h.length, 0);
    case 'ae_bucket':
      return 8 * message.leaves.length;
    case 'ae_bucket_ok':
      return message.entries.reduce((sum, [key, digest]) => sum + Buffer.byteLength(key) + digest.length, 0);
    case 'replica_get_batch':
      return keys(message.keys);
    case 'replica_get_batch_ok':
      return batch(message.entries) + keys(message.left) + keys(message.tooLarge);
    case 'replica_put_batch':
      return batch(message.entries);
    default:
      return 0;
  }
}

/** A short digest of a key's record, to tell equal replicas apart in bucket listings. */
function recordDigest(siblings: Parameters<typeof encodeRecord>[0]): string {
  return createHash('md5').update(encodeRecord(siblings)).digest('base64').slice(0, 11); // 64 bits: a collision only delays repair to the next change
}
