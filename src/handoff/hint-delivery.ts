// Hinted handoff (Dynamo 4.6): hints are versions this node accepted for a replica that was
// down, kept durably in the 'hints' space under "owner \0 key". A background loop hands them to
// their owner once the failure detector sees it up, in batches cut by bytes, deleting each hint
// only after the owner acknowledged it durably. An unreachable owner backs off as a whole; a
// hint its owner refuses (or too large for any frame) backs off alone, and the others go on.
// Hints for a node removed from the ring go to the key's current replicas instead.
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import { batchEntryBytes, TRANSFER_BATCH_KEYS_MAX, type BatchEntry, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import { EncodedRecord } from '../version/record-codec.ts';
import type { Sibling } from '../version/siblings.ts';
import { BatchBuilder, fitsNoBatch, isRefusal, sendIsolatingRefusals } from './batches.ts';

const SEPARATOR = '\u0000';
/** Per owner (unreachable) and per hint (refused): the first retry after 500 ms, doubling to 30 s. */
const BACKOFF_MS = { initial: 500, max: 30_000 };
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
  delivered = 0;
  /** Hints this node accepted and made durable (each write of a hint counts once). */
  stored = 0;
  /** Times a hint was found too large for any frame (reported, kept, retried after backoff). */
  tooLarge = 0;

  constructor(private readonly deps: HintDeliveryDeps) {}

  /** Stores a hint for `owner`; resolves once durable (then the write may count it as an ack). */
  async store(owner: NodeId, key: string, versions: readonly Sibling[] | EncodedRecord): Promise<void> {
    await this.deps.hints.merge(hintKey(owner, key), versions);
    this.stored++;
  }

  /** Hints held per owner (scans the hint space; for stats). */
  heldPerOwner(): Record<NodeId, number> {
    const counts: Record<NodeId, number> = {};
    for (const hint of this.deps.hints.keys(undefined, 1_000_000)) {
      const { owner } = splitHintKey(hint);
      counts[owner] = (counts[owner] ?? 0) + 1;
    }
    return counts;
  }

  start(): void {
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
      for (const owner of Object.keys(this.heldPerOwner())) {
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
    try {
      refused = await sendIsolatingRefusals(entries, (batch) => this.put(owner, ownerGone, batch));
    } catch (err) {
      const backoffMs = nextBackoff(this.ownerRetry.get(owner));
      this.ownerRetry.set(owner, { atMs: this.deps.clock.nowMs() + backoffMs, backoffMs });
      this.deps.log.info({ owner, hints: entries.length, retryInMs: backoffMs, err: messageOf(err) }, 'hint delivery failed; will retry');
      return false;
    }
    const failed = new Set(refused.map((r) => r.entry));
    for (const { entry } of refused) this.backOffHint(entry.hint);
    if (refused.length > 0) {
      const keys = refused.slice(0, 5).map((r) => r.entry.key);
      this.deps.log.warn({ owner, refused: refused.length, keys, err: messageOf(refused[0]!.err) }, 'hints refused by their owner; the others go on, these retry with backoff');
    }
    // Only now, after the acknowledgement, may a delivered hint go (unless it changed meanwhile).
    for (const e of entries) {
      if (failed.has(e)) continue;
      this.hintRetry.delete(e.hint);
      if (await this.deps.hints.removeIfUnchanged(e.hint, e.record.siblings)) this.delivered++;
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

  private backOffHint(hint: string): void {
    const backoffMs = nextBackoff(this.hintRetry.get(hint));
    this.hintRetry.delete(hint); // re-inserted last: the map is oldest first
    this.hintRetry.set(hint, { atMs: this.deps.clock.nowMs() + backoffMs, backoffMs });
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
