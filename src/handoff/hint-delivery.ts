// Hinted handoff (Dynamo 4.6): hints are versions this node accepted for a replica that was
// down, kept durably in the 'hints' space under "owner \0 key". A background loop hands them to
// their owner once the failure detector sees it up, in batches cut by bytes, deleting each hint
// only after the owner acknowledged it durably. An unreachable owner backs off as a whole; a
// hint its owner refuses (or too large for any frame) backs off alone, and the others go on.
// Hints for a node removed from the ring go to the key's current replicas instead. Counts per
// owner are kept as hints change (counted once, in pages, at start), never by scanning.
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import { batchEntryBytes, TRANSFER_BATCH_KEYS_MAX, type BatchEntry, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import { compareKeys } from '../storage/storage-keys.ts';
import { EncodedRecord } from '../version/record-codec.ts';
import type { Sibling } from '../version/siblings.ts';
import { BatchBuilder, fitsNoBatch, isTimeout, sendIsolatingRefusals } from './batches.ts';

const SEPARATOR = '\u0000';
/** Per owner (unreachable) and per hint (refused): the first retry after 500 ms, doubling to 30 s. */
const BACKOFF_MS = { initial: 500, max: 30_000 };
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
}

interface Backoff {
  readonly atMs: number;
  readonly backoffMs: number;
  /** The hint was in a batch that timed out: a batch holding it that times out again is split. */
  readonly timedOut?: boolean;
}

interface HintEntry extends BatchEntry {
  readonly hint: string;
}

export class HintDelivery {
  private readonly ownerRetry = new Map<NodeId, Backoff>();
  private readonly hintRetry = new Map<string, Backoff>();
  private timer: { cancel(): void } | undefined;
  private running = false;
  private stopped = false;
  /** Hints held per owner; exact once the start-up count is done (a lower bound before). */
  private readonly held = new Map<NodeId, number>();
  /** The start-up count has counted every hint key below this one; undefined when it is done. */
  private countCursor: string | undefined = '';
  private counting: Promise<void> | undefined;
  /** Hint keys with a write in flight (from the call until it settles), and how many. */
  private readonly writing = new Map<string, number>();
  /** Keys the count met while they were being written: counted once their writes settle. */
  private readonly deferred = new Set<string>();
  delivered = 0;
  /** Hints this node accepted and made durable (each write of a hint counts once). */
  stored = 0;
  /** Times a hint was found too large for any frame (reported, kept, retried after backoff). */
  tooLarge = 0;

  constructor(private readonly deps: HintDeliveryDeps) {
    deps.hints.observe((hint, before, after) => this.observed(hint, before, after));
  }

  /** Stores a hint for `owner`; resolves once durable (then the write may count it as an ack). */
  async store(owner: NodeId, key: string, versions: readonly Sibling[] | EncodedRecord): Promise<void> {
    await this.write(hintKey(owner, key), () => this.deps.hints.merge(hintKey(owner, key), versions));
    this.stored++;
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

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimer(this.deps.intervalMs, () => {
      void this.deliverAll().finally(() => this.schedule());
    });
  }

  /** One pass: for each owner that is up (and not backing off), deliver its hints in batches. */
  async deliverAll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await (this.counting ??= this.countAll());
      for (const owner of [...this.held.keys()]) {
        const retry = this.ownerRetry.get(owner);
        if (retry !== undefined && retry.atMs > this.deps.clock.nowMs()) continue;
        const status = this.deps.statusOf(owner);
        if (status === 'down') continue;
        await this.deliverOwner(owner, status === 'removed' || status === undefined);
      }
    } finally {
      this.running = false;
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
    if (count < 0) throw new Error(`assertion: hint count of ${owner} below zero`);
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
   * Walks `owner`'s hints in key order, a page at a time, sending each batch as it fills. Stops
   * early only when the owner stops answering (then the owner backs off as a whole).
   */
  private async deliverOwner(owner: NodeId, ownerGone: boolean): Promise<void> {
    const { hints } = this.deps;
    if (ownerGone && this.deps.ring() === undefined) return; // no replicas to hand them to yet
    const prefix = hintKey(owner, '');
    const batch = new BatchBuilder<HintEntry>();
    let start: string | undefined = prefix;
    while (start !== undefined) {
      // One key past the page tells where the next page starts (scan starts are inclusive).
      const page: string[] = hints.keys(start, TRANSFER_BATCH_KEYS_MAX + 1).filter((h) => h.startsWith(prefix));
      start = page[TRANSFER_BATCH_KEYS_MAX];
      for (const hint of page.slice(0, TRANSFER_BATCH_KEYS_MAX)) {
        const retry = this.hintRetry.get(hint);
        if (retry !== undefined && retry.atMs > this.deps.clock.nowMs()) continue;
        const record = hints.readEncoded(hint);
        if (record.siblings.length === 0) continue;
        const entry: HintEntry = { hint, key: splitHintKey(hint).key, record };
        if (fitsNoBatch(entry.key, record)) {
          this.tooLarge++;
          this.backOffHint(hint);
          this.deps.log.warn({ owner, key: entry.key, bytes: batchEntryBytes(entry.key, record) }, 'hint too large for any message; kept, not delivered');
          continue;
        }
        if (!batch.fits(entry) && !(await this.send(owner, ownerGone, batch.take()))) return;
        batch.add(entry);
      }
    }
    if (batch.size > 0 && !(await this.send(owner, ownerGone, batch.take()))) return;
    this.ownerRetry.delete(owner);
  }

  /** Sends one batch and deletes what was acknowledged; false if the owner did not answer. */
  private async send(owner: NodeId, ownerGone: boolean, entries: readonly HintEntry[]): Promise<boolean> {
    let refused: Array<{ entry: HintEntry; err: unknown }>;
    // A batch that timed out may be what the owner is slow with (while it answers the rest): its
    // hints wait longer than the owner does, so the next pass starts with the hints after them;
    // and when a batch holding them times out again, it is split like a refused one, so the
    // hint the owner cannot take in time ends alone.
    const suspect = entries.some((e) => this.hintRetry.get(e.hint)?.timedOut === true);
    try {
      refused = await sendIsolatingRefusals(entries, (batch) => this.put(owner, ownerGone, batch), (err) => suspect && isTimeout(err));
    } catch (err) {
      const backoffMs = nextBackoff(this.ownerRetry.get(owner));
      this.ownerRetry.set(owner, { atMs: this.deps.clock.nowMs() + backoffMs, backoffMs });
      if (isTimeout(err)) for (const e of entries) this.backOffHint(e.hint, 2 * backoffMs, true);
      this.deps.log.info({ owner, hints: entries.length, retryInMs: backoffMs, err: messageOf(err) }, 'hint delivery failed; will retry');
      return false;
    }
    const failed = new Set(refused.map((r) => r.entry));
    for (const { entry, err } of refused) this.backOffHint(entry.hint, 0, isTimeout(err));
    if (refused.length > 0) {
      const keys = refused.slice(0, 5).map((r) => r.entry.key);
      this.deps.log.warn({ owner, refused: refused.length, keys, err: messageOf(refused[0]!.err) }, 'hints refused by their owner; the others go on, these retry with backoff');
    }
    // Only now, after the acknowledgement, may a delivered hint go (unless it changed meanwhile).
    for (const e of entries) {
      if (failed.has(e)) continue;
      this.hintRetry.delete(e.hint);
      if (await this.write(e.hint, () => this.deps.hints.removeIfUnchanged(e.hint, e.record.siblings))) this.delivered++;
    }
    return true;
  }

  /** Puts one batch on the owner, or on every current replica of its keys if the owner left. */
  private async put(owner: NodeId, ownerGone: boolean, entries: readonly HintEntry[]): Promise<void> {
    const targets = ownerGone ? this.currentReplicas(entries.map((e) => e.key)) : [owner];
    for (const target of targets) {
      if (target === this.deps.self) {
        await Promise.all(entries.map((e) => this.deps.replicas.merge(e.key, e.record)));
        continue;
      }
      const request: PeerRequest = { kind: 'replica_put_batch', entries: entries.map((e) => ({ key: e.key, record: e.record })) };
      const reply = await this.deps.transport.request(target, request, this.deps.requestTimeoutMs * 5);
      if (reply.kind !== 'replica_put_ok') throw new Error(`unexpected reply ${reply.kind}`);
    }
  }

  private backOffHint(hint: string, atLeastMs = 0, timedOut = false): void {
    const previous = this.hintRetry.get(hint);
    const backoffMs = Math.max(nextBackoff(previous), atLeastMs);
    this.hintRetry.delete(hint); // re-inserted last: the map is oldest first
    this.hintRetry.set(hint, { atMs: this.deps.clock.nowMs() + backoffMs, backoffMs, timedOut: timedOut || previous?.timedOut === true });
    if (this.hintRetry.size > REFUSED_HINTS_MAX) this.hintRetry.delete(this.hintRetry.keys().next().value!);
  }

  /** For hints whose owner left the ring: every current replica of their keys. */
  private currentReplicas(keys: readonly string[]): NodeId[] {
    const ring = this.deps.ring();
    if (ring === undefined) throw new Error('no ring');
    return [...new Set(keys.flatMap((k) => ring.preferenceList(k, this.deps.n)))];
  }
}

function nextBackoff(previous: Backoff | undefined): number {
  return Math.min((previous?.backoffMs ?? BACKOFF_MS.initial / 2) * 2, BACKOFF_MS.max);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
