// Hinted handoff (Dynamo 4.6): hints are versions this node accepted for a replica that was
// down, kept durably in the 'hints' space under "owner \0 key". A background loop hands them to
// their owner once the failure detector sees it up, in batches cut by bytes, deleting each hint
// only after the owner acknowledged it durably. Owners are served independently (a few at once):
// one that does not answer in time backs off as a whole and delays no other; a hint its owner
// refuses (or too large for any frame) backs off alone, and the others go on. Hints for a node
// removed from the ring go, key by key, to that key's current replicas, and so do this node's own
// fallback records (hints it holds for itself, Coordinator.coordinateAsFallback), each charged to
// its key's load (fallback-loads.ts) before it goes. Only committed hints leave this node. Counts
// per owner are kept as hints change (counted once, in pages, at start), never by scanning.
import { assert } from '../env/assert.ts';
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Storage } from '../env/storage.ts';
import { RefusedUnread, type NodeId, type Transport } from '../env/transport.ts';
import { batchEntryBytes, TRANSFER_BATCH_KEYS_MAX, type BatchEntry, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import type { FallbackRecords, ReplicaLoad } from '../replication/coordinator.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import { compareKeys } from '../storage/storage-keys.ts';
import { EncodedRecord, encodeRecord, RECORD_BYTES_MAX } from '../version/record-codec.ts';
import { liveSiblings, mergeSiblings, type Sibling } from '../version/siblings.ts';
import { BatchBuilder, fitsNoBatch, sendIsolatingRefusals } from './batches.ts';
import { FALLBACK_LOAD_REFRESHES_PER_ROUND, FallbackLoads, loadOf, maxLoad, NO_LOAD } from './fallback-loads.ts';

const SEPARATOR = '\u0000';
/** Per owner or receiver (unreachable) and per hint (refused): the first retry after 500 ms, doubling to 30 s. */
const BACKOFF_MS = { initial: 500, max: 30_000 };
/**
 * Owners whose hints are delivered at once. Each pass holds one batch (TRANSFER_BATCH_BYTES_MAX,
 * 8 MiB) at a time, so delivery holds at most 32 MiB; an owner that does not answer holds its
 * slot for one request timeout, then backs off, so the others always get their turn.
 */
export const OWNERS_DELIVERING_MAX = 4;
/**
 * Hint keys read per page by the start-up count; the event loop runs between pages. About 10 ms
 * of LMDB cursor reads on a loaded host (200,000 hints took 1.0 s to scan whole), far below the
 * ping timeout.
 */
const COUNT_PAGE_KEYS = 2_000;
/**
 * Hints remembered as refused, each with its own backoff. Refusals are rare (a record the owner
 * cannot take); past this bound the oldest entries are forgotten, so they are only retried sooner.
 */
const REFUSED_HINTS_MAX = 10_000;

export function hintKey(owner: NodeId, key: string): string {
  return `${owner}${SEPARATOR}${key}`;
}

export function splitHintKey(hint: string): { owner: NodeId; key: string } {
  const at = hint.indexOf(SEPARATOR);
  return { owner: hint.slice(0, at), key: hint.slice(at + 1) };
}

export interface HintDeliveryDeps {
  readonly self: NodeId;
  /** The 'hints' space; this class must be its only writer (the counts rely on it). */
  readonly hints: ReplicaStore;
  /** This node's own replicas, for hints of a removed owner whose keys this node now holds. */
  readonly replicas: ReplicaStore;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly clock: Clock;
  readonly log: Log;
  readonly n: number;
  readonly ring: () => Ring | undefined;
  readonly statusOf: (id: NodeId) => 'up' | 'down' | 'removed' | undefined;
  readonly intervalMs: number;
  readonly requestTimeoutMs: number;
  /** Live siblings a hint record may grow to (a replica's siblingsMax); its bytes stop at RECORD_BYTES_MAX. */
  readonly siblingsMax: number;
  /** The node's storage, for the fallback loads kept in its meta space (fallback-loads.ts). */
  readonly storage: Storage;
}

/**
 * A hint refused before anything of it was stored: HINT_TOO_LARGE when with it the versions held
 * of its key would pass a replica's bounds (live siblings, versions counting tombstones, record
 * bytes), since hints of one key come from every node that coordinated a write of it and could
 * grow until no message carries them; HINT_FOR_SELF when it names this node as the owner (no
 * coordinator sends one: this node's records held for itself are its fallback records, which
 * only its own coordinator writes). The sender tries another node, or fails the write.
 */
export class HintRefused extends RefusedUnread {
  declare readonly code: 'HINT_TOO_LARGE' | 'HINT_FOR_SELF';
  constructor(code: 'HINT_TOO_LARGE' | 'HINT_FOR_SELF', message: string) {
    super(code, message);
    this.name = 'HintRefused';
  }
}

/** Versions, tombstones included, a hint record may grow to: twice a replica's siblingsMax (two coordinators' worth). */
export const HINT_VERSIONS_PER_SIBLINGS_MAX = 2;

interface Backoff {
  /** On the monotonic clock. */
  readonly atMs: number;
  readonly backoffMs: number;
}

interface HintEntry extends BatchEntry {
  readonly hint: string;
  /** Who must acknowledge it: the owner, or the key's current replicas if the owner left. */
  readonly to: readonly NodeId[];
}

/** How a batch went: all sent (refusals aside), some left for an unreachable receiver, or the owner stopped answering. */
type SendOutcome = 'sent' | 'left' | 'stop';

export class HintDelivery {
  /** Owners that did not answer, or whose last pass left hints behind: when to try again. */
  private readonly ownerRetry = new Map<NodeId, Backoff>();
  /** Receivers of a removed owner's hints that did not answer. */
  private readonly receiverRetry = new Map<NodeId, Backoff>();
  /** Hints refused one by one, each with its backoff (at most REFUSED_HINTS_MAX: the oldest are forgotten). */
  private readonly hintRetry = new Map<string, Backoff>();
  /** Owners with a delivery pass running (at most OWNERS_DELIVERING_MAX). */
  private readonly passes = new Map<NodeId, Promise<void>>();
  /** Where the next round starts in the list of owners, so none waits behind the others. */
  private rotation = 0;
  private timer: { cancel(): void } | undefined;
  private stopped = false;
  /** Hints held per owner; exact once the start-up count is done (a lower bound before). */
  private readonly held = new Map<NodeId, number>();
  /** The start-up count has counted every hint key below this one; undefined when it is done. */
  private countCursor: string | undefined = '';
  private counting: Promise<void> | undefined;
  /** Hint keys with a write in flight (from the call until it settles), and how many (bounded by the writes in flight, as ReplicaStore's pending). */
  private readonly writing = new Map<string, number>();
  /** Keys the count met while they were being written: counted once their writes settle. */
  private readonly deferred = new Set<string>();
  private deliveredCount = 0;
  private storedCount = 0;
  private tooLargeCount = 0;

  /** What the replicas of this node's fallback records' keys held when last seen (fallback-loads.ts). */
  private readonly loads: FallbackLoads;
  /** A refresh of loads is running (one at a time). */
  private refreshing = false;

  constructor(private readonly deps: HintDeliveryDeps) {
    deps.hints.observe((hint, before, after) => this.observed(hint, before, after));
    this.loads = new FallbackLoads(deps.storage, deps.clock, deps.log, deps.siblingsMax);
  }

  /** Reads the fallback loads back from disk; before this node coordinates any write. */
  openLoads(): Promise<void> {
    return this.loads.open();
  }

  /**
   * Stores a hint for `owner`; resolves once durable (then the write may count it as an ack).
   * Refuses (HintRefused) one that adds live versions to a record already past a replica's
   * bounds: hints of one key come from every node that coordinated a write of it.
   */
  async store(owner: NodeId, key: string, versions: readonly Sibling[] | EncodedRecord): Promise<void> {
    if (owner === this.deps.self) throw new HintRefused('HINT_FOR_SELF', `${this.deps.self} takes no hint for itself`);
    this.checkBounds(hintKey(owner, key), versions instanceof EncodedRecord ? versions.siblings : versions);
    await this.write(hintKey(owner, key), () => this.deps.hints.merge(hintKey(owner, key), versions));
    this.storedCount++;
  }

  /** Refuses a hint that would grow its record past the bounds (see HintRefused); one that does not grow it always passes. */
  private checkBounds(hint: string, incoming: readonly Sibling[]): void {
    const held = this.deps.hints.read(hint);
    const merged = mergeSiblings(held, incoming);
    const live = liveSiblings(merged).length;
    if (live > this.deps.siblingsMax && live > liveSiblings(held).length) {
      throw new HintRefused('HINT_TOO_LARGE', `the hint would hold ${live} live versions of its key (at most ${this.deps.siblingsMax})`);
    }
    const versionsMax = HINT_VERSIONS_PER_SIBLINGS_MAX * this.deps.siblingsMax;
    if (merged.length > versionsMax && merged.length > held.length) {
      throw new HintRefused('HINT_TOO_LARGE', `the hint would hold ${merged.length} versions of its key, tombstones included (at most ${versionsMax})`);
    }
    const bytes = encodeRecord(merged).length;
    if (bytes > RECORD_BYTES_MAX && bytes > encodeRecord(held).length) {
      throw new HintRefused('HINT_TOO_LARGE', `the hint would take ${bytes} bytes (at most ${RECORD_BYTES_MAX})`);
    }
  }

  /**
   * This node's fallback records (Coordinator.coordinateAsFallback), kept in the hint space as
   * hints it holds for itself: delivery hands each to every replica of its key (as a removed
   * owner's hints) and removes it once all of them hold it.
   */
  readonly fallbackRecords: FallbackRecords = {
    read: (key) => this.deps.hints.read(hintKey(this.deps.self, key)),
    replicaLoad: (key) => this.loads.get(key),
    unmeasuredLoad: (key) => this.loads.unmeasured(key),
    // Only once the start-up count is done: before, the records held are a lower bound.
    roomForRecord: () => this.countCursor === undefined && this.loads.roomFor(this.held.get(this.deps.self) ?? 0),
    replace: async (key, siblings, bytes) => {
      const hint = hintKey(this.deps.self, key);
      await this.write(hint, () => this.deps.hints.replace(hint, siblings, bytes));
      this.storedCount++;
    },
  };

  /** Hints handed to their owner and acknowledged durably (each removed after it counts once). */
  get delivered(): number {
    return this.deliveredCount;
  }

  /** Hints this node accepted and made durable (each write of a hint counts once). */
  get stored(): number {
    return this.storedCount;
  }

  /** Times a hint was found too large for any frame (reported, kept, retried after backoff). */
  get tooLarge(): number {
    return this.tooLargeCount;
  }

  /** Hint records found on disk that do not decode (reported by the store; never delivered). */
  get corruptRecords(): number {
    return this.deps.hints.corruptRecords;
  }

  /** Hints held per owner, from counts kept as hints change (no scan). */
  heldPerOwner(): Record<NodeId, number> {
    return Object.fromEntries(this.held);
  }

  /** Counts the held hints once (in pages), then offers them to their owners every interval. */
  start(): void {
    this.counting ??= this.countAll();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** Every interval a round starts passes for the owners that have none running: it never waits for a slow one. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimer(this.deps.intervalMs, () => {
      // A pass handles its own failures; anything escaping it is a bug worth a loud line, not a crash.
      this.deliverAll().catch((err: unknown) => this.deps.log.error({ err: messageOf(err) }, 'hint delivery round failed'));
      this.schedule();
    });
  }

  /**
   * One round: starts a delivery pass for each owner that holds hints, is up (or left the ring),
   * is not backing off and has no pass running, up to OWNERS_DELIVERING_MAX passes at once, in
   * turn from a rotating start. Resolves when the passes it started have ended.
   */
  async deliverAll(): Promise<void> {
    await (this.counting ??= this.countAll());
    const owners = [...this.held.keys()];
    const started: Array<Promise<void>> = [];
    const first = this.rotation++;
    for (let i = 0; i < owners.length && this.passes.size < OWNERS_DELIVERING_MAX && !this.stopped; i++) {
      const owner = owners[(first + i) % owners.length]!;
      if (this.passes.has(owner) || this.backingOff(this.ownerRetry, owner)) continue;
      // This node's own records are its fallback records: they go to every replica of their key.
      const status = owner === this.deps.self ? 'removed' : this.deps.statusOf(owner);
      if (status === 'down') continue;
      const pass = this.deliverOwner(owner, status === 'removed' || status === undefined).finally(() => this.passes.delete(owner));
      this.passes.set(owner, pass);
      started.push(pass);
    }
    if (!this.refreshing && !this.stopped) {
      this.refreshing = true;
      started.push(this.refreshLoads().finally(() => (this.refreshing = false)));
    }
    await Promise.all(started);
  }

  /**
   * Looks again at what the replicas hold of keys whose load is due (a client may have resolved
   * them since): every replica that is up is asked for its counts (no values), and the most any
   * holds is taken. A load whose replicas do not answer stays, and is looked at again later.
   */
  private async refreshLoads(): Promise<void> {
    const ring = this.deps.ring();
    if (ring === undefined) return;
    for (const key of this.loads.due(FALLBACK_LOAD_REFRESHES_PER_ROUND)) {
      if (this.stopped) return;
      const generation = this.loads.generationOf(key);
      if (generation === undefined) continue;
      const replicas = ring.preferenceList(key, this.deps.n);
      // Only when every replica may answer: one that cannot may hold the most.
      if (replicas.some((id) => id !== this.deps.self && this.deps.statusOf(id) !== 'up')) {
        this.loads.postpone(key);
        continue;
      }
      const answers = await Promise.all(
        replicas.map(async (id): Promise<ReplicaLoad | undefined> => {
          if (id === this.deps.self) {
            const record = this.deps.replicas.readEncoded(key);
            return loadOf(record.siblings, record.bytes.length);
          }
          if (this.deps.statusOf(id) !== 'up') return undefined;
          try {
            const reply = await this.deps.transport.request(id, { kind: 'replica_load', key }, this.deps.requestTimeoutMs);
            if (reply.kind !== 'replica_load_ok') throw new Error(`unexpected reply ${reply.kind}`);
            return { live: reply.live, versions: reply.versions, bytes: reply.bytes };
          } catch (err) {
            this.deps.log.debug({ key, replica: id, err: messageOf(err) }, 'fallback load not measured on this replica');
            return undefined;
          }
        }),
      );
      if (answers.some((a) => a === undefined)) {
        this.loads.postpone(key);
        continue;
      }
      await this.loads.measured(key, generation, answers.reduce<ReplicaLoad>((most, a) => maxLoad(most, a!), NO_LOAD));
    }
  }

  // --- counting --------------------------------------------------------------------------------

  /**
   * Counts every held hint, a page at a time. A write that settles before the count reaches its
   * key is seen by the scan; one that commits after the count passed it is seen by the observer;
   * a key met while a write is in flight (its commit may or may not be visible yet) is counted
   * when its writes settle. So each hint is counted exactly once.
   */
  private async countAll(): Promise<void> {
    for (;;) {
      const start = this.countCursor!;
      const page = this.deps.hints.keys(start === '' ? undefined : start, COUNT_PAGE_KEYS + 1);
      for (const hint of page.slice(0, COUNT_PAGE_KEYS)) {
        if (this.writing.has(hint)) this.deferred.add(hint);
        else this.adjust(hint, 1);
      }
      this.countCursor = page[COUNT_PAGE_KEYS];
      if (this.countCursor === undefined) return;
      await new Promise<void>((resolve) => this.deps.clock.setTimer(0, resolve));
    }
  }

  private observed(hint: string, before: Uint8Array | undefined, after: Uint8Array | undefined): void {
    if (this.deferred.has(hint)) return;
    if (this.countCursor !== undefined && compareKeys(hint, this.countCursor) >= 0) return; // the scan will see it
    const delta = (after === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
    if (delta !== 0) this.adjust(hint, delta);
  }

  private adjust(hint: string, delta: number): void {
    const { owner } = splitHintKey(hint);
    const count = (this.held.get(owner) ?? 0) + delta;
    assert(count >= 0, () => `hint count of ${owner} below zero`);
    if (count === 0) this.held.delete(owner);
    else this.held.set(owner, count);
  }

  /** Every write to the hint space goes through here, so the count knows what is in flight. */
  private async write<T>(hint: string, fn: () => Promise<T>): Promise<T> {
    this.writing.set(hint, (this.writing.get(hint) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = this.writing.get(hint)! - 1;
      if (left > 0) this.writing.set(hint, left);
      else {
        this.writing.delete(hint);
        if (this.deferred.delete(hint) && this.deps.hints.committedBytes(hint) !== undefined) this.adjust(hint, 1);
      }
    }
  }

  // --- delivery --------------------------------------------------------------------------------

  /**
   * Walks `owner`'s hints in key order, a page at a time (a turn of the event loop between
   * pages), sending each batch as it fills. Stops early when the owner stops answering; a removed
   * owner's hints whose receivers are unreachable are left for a later pass. Either way the owner
   * then backs off as a whole.
   */
  private async deliverOwner(owner: NodeId, ownerGone: boolean): Promise<void> {
    const { hints } = this.deps;
    if (ownerGone && this.deps.ring() === undefined) return; // no replicas to hand them to yet
    const prefix = hintKey(owner, '');
    const batch = new BatchBuilder<HintEntry>();
    let start: string | undefined = prefix;
    let left = false;
    const sent = (outcome: SendOutcome) => {
      if (outcome === 'left') left = true;
      return outcome !== 'stop';
    };
    for (let first = true; start !== undefined; first = false) {
      if (!first) await new Promise<void>((resolve) => this.deps.clock.setTimer(0, resolve));
      if (this.stopped) return;
      const ring = this.deps.ring();
      if (ownerGone && ring === undefined) return;
      // One key past the page tells where the next page starts (scan starts are inclusive).
      const page: string[] = hints.keys(start, TRANSFER_BATCH_KEYS_MAX + 1).filter((h) => h.startsWith(prefix));
      start = page[TRANSFER_BATCH_KEYS_MAX];
      for (const hint of page.slice(0, TRANSFER_BATCH_KEYS_MAX)) {
        if (this.backingOff(this.hintRetry, hint)) continue;
        const { key } = splitHintKey(hint);
        const to = ownerGone ? ring!.preferenceList(key, this.deps.n) : [owner];
        if (ownerGone && !to.every((id) => this.reachable(id))) {
          left = true;
          continue;
        }
        // Only what is committed leaves this node: a write still committing may yet fail (its
        // coordinator then told the client nothing was sent anywhere), and a fallback record's
        // actor must never have a version elsewhere that the record does not hold.
        if (this.writing.has(hint)) {
          left = true;
          continue;
        }
        const committed = hints.load(hint);
        if (committed === undefined || committed.siblings.length === 0) continue;
        const record = EncodedRecord.ofEncoded(committed.siblings, committed.bytes);
        const entry: HintEntry = { hint, key, record, to };
        if (fitsNoBatch(entry.key, record)) {
          this.tooLargeCount++;
          this.backOff(this.hintRetry, hint, REFUSED_HINTS_MAX);
          this.deps.log.warn({ owner, key: entry.key, bytes: batchEntryBytes(entry.key, record) }, 'hint too large for any message; kept, not delivered');
          continue;
        }
        if (!batch.fits(entry) && !sent(await this.send(owner, ownerGone, batch.take()))) return;
        batch.add(entry);
      }
    }
    if (batch.size > 0 && !sent(await this.send(owner, ownerGone, batch.take()))) return;
    if (left) this.backOff(this.ownerRetry, owner);
    else this.ownerRetry.delete(owner);
  }

  /** A receiver of a removed owner's hints that may be tried now. */
  private reachable(id: NodeId): boolean {
    return id === this.deps.self || (this.deps.statusOf(id) !== 'down' && !this.backingOff(this.receiverRetry, id));
  }

  /**
   * Sends one batch to each of its receivers (each gets the hints it must acknowledge) and
   * deletes every hint all its receivers acknowledged. A receiver that does not answer (in
   * time) backs off; the batch is never split for that, only for refusals: batches are cut by
   * bytes, so a timeout means a slow or absent receiver, not a batch too big to take in time.
   */
  private async send(owner: NodeId, ownerGone: boolean, entries: readonly HintEntry[]): Promise<SendOutcome> {
    const byReceiver = new Map<NodeId, HintEntry[]>();
    for (const e of entries) {
      for (const id of e.to) {
        let list = byReceiver.get(id);
        if (list === undefined) byReceiver.set(id, (list = []));
        list.push(e);
      }
    }
    const failed = new Set<HintEntry>();
    let outcome: SendOutcome = 'sent';
    await Promise.all(
      [...byReceiver].map(async ([receiver, list]) => {
        let refused: Array<{ entry: HintEntry; err: unknown }>;
        try {
          refused = await sendIsolatingRefusals(list, (batch) => this.put(receiver, batch));
        } catch (err) {
          for (const e of list) failed.add(e);
          const retryInMs = this.backOff(ownerGone ? this.receiverRetry : this.ownerRetry, receiver);
          outcome = ownerGone ? 'left' : 'stop';
          this.deps.log.info({ owner, receiver, hints: list.length, retryInMs, err: messageOf(err) }, 'hint delivery failed; will retry');
          return;
        }
        for (const { entry } of refused) {
          failed.add(entry);
          this.backOff(this.hintRetry, entry.hint, REFUSED_HINTS_MAX);
        }
        if (refused.length > 0) {
          const keys = refused.slice(0, 5).map((r) => r.entry.key);
          this.deps.log.warn({ owner, receiver, refused: refused.length, keys, err: messageOf(refused[0]!.err) }, 'hints refused; the others go on, these retry with backoff');
        }
      }),
    );
    // Only now, after every acknowledgement, may a delivered hint go (unless it changed meanwhile).
    const acked = entries.filter((e) => !failed.has(e));
    for (const e of acked) this.hintRetry.delete(e.hint);
    // A removal that fails to commit (disk error) leaves the hint: it is delivered again later,
    // which is harmless (a replica merge is idempotent).
    // A fallback record's replicas now hold at least what it held: that is charged to the key's
    // next fallback record (fallback-loads.ts), durably before this record goes, or every split
    // and heal could add a record's worth to the key.
    try {
      for (const e of acked) {
        if (splitHintKey(e.hint).owner !== this.deps.self) continue;
        await this.loads.charge(e.key, loadOf(e.record.siblings, e.record.bytes.length));
      }
    } catch (err) {
      // Kept, and delivered again once the owner's backoff ends (not every round: each pass
      // resends them all, and charges again those charged before the failure).
      const retryInMs = this.backOff(this.ownerRetry, owner);
      this.deps.log.warn({ owner, retryInMs, err: messageOf(err) }, 'fallback loads could not be written; the delivered records are kept and delivered again');
      return 'stop';
    }
    const removed = await Promise.all(
      acked.map((e) =>
        this.write(e.hint, () => this.deps.hints.removeIfUnchanged(e.hint, e.record.siblings)).catch((err: unknown) => {
          this.deps.log.warn({ owner, key: e.key, err: messageOf(err) }, 'a delivered hint could not be removed; it will be delivered again');
          return false;
        }),
      ),
    );
    this.deliveredCount += removed.filter(Boolean).length;
    return outcome;
  }

  /** Puts hints on one receiver: this node's own replicas, or a peer. */
  private async put(receiver: NodeId, entries: readonly HintEntry[]): Promise<void> {
    if (receiver === this.deps.self) {
      await Promise.all(entries.map((e) => this.deps.replicas.merge(e.key, e.record)));
      return;
    }
    const request: PeerRequest = { kind: 'replica_put_batch', entries: entries.map((e) => ({ key: e.key, record: e.record })) };
    const reply = await this.deps.transport.request(receiver, request, this.deps.requestTimeoutMs * 5);
    if (reply.kind !== 'replica_put_ok') throw new Error(`unexpected reply ${reply.kind}`);
  }

  private backingOff<K>(retries: ReadonlyMap<K, Backoff>, key: K): boolean {
    const retry = retries.get(key);
    return retry !== undefined && retry.atMs > this.deps.clock.monotonicMs();
  }

  /**
   * Backs `key` off for twice as long as last time (see BACKOFF_MS); returns the wait. Past
   * `sizeMax` entries the oldest is forgotten (it is only retried sooner).
   */
  private backOff<K>(retries: Map<K, Backoff>, key: K, sizeMax = Infinity): number {
    const backoffMs = nextBackoff(retries.get(key));
    retries.delete(key); // re-inserted last: the map is oldest first
    retries.set(key, { atMs: this.deps.clock.monotonicMs() + backoffMs, backoffMs });
    if (retries.size > sizeMax) retries.delete(retries.keys().next().value!);
    return backoffMs;
  }
}

function nextBackoff(previous: Backoff | undefined): number {
  return Math.min((previous?.backoffMs ?? BACKOFF_MS.initial / 2) * 2, BACKOFF_MS.max);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
