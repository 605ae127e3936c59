// Hinted handoff (Dynamo 4.6): hints are versions this node accepted for a replica that was
// down, kept durably in the 'hints' space under "owner \0 key". A background loop hands them to
// their owner once the failure detector sees it up, deleting each hint only after the owner
// acknowledged it durably, with exponential backoff per owner when delivery fails. Hints for a
// node removed from the ring go to the key's current replicas instead.
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import { TRANSFER_BATCH_KEYS_MAX, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import type { EncodedRecord } from '../version/record-codec.ts';
import type { Sibling } from '../version/siblings.ts';

const SEPARATOR = '\u0000';
const BACKOFF_MS = { initial: 500, max: 30_000 };

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

export class HintDelivery {
  private readonly retryAtMs = new Map<NodeId, { atMs: number; backoffMs: number }>();
  private timer: { cancel(): void } | undefined;
  private running = false;
  private stopped = false;
  delivered = 0;
  /** Hints this node accepted and made durable (each write of a hint counts once). */
  stored = 0;

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
      const owners = Object.keys(this.heldPerOwner());
      for (const owner of owners) {
        const retry = this.retryAtMs.get(owner);
        if (retry !== undefined && retry.atMs > this.deps.clock.nowMs()) continue;
        const status = this.deps.statusOf(owner);
        if (status === 'down') continue;
        await this.deliverOwner(owner, status === 'removed' || status === undefined);
      }
    } finally {
      this.running = false;
    }
  }

  private async deliverOwner(owner: NodeId, ownerGone: boolean): Promise<void> {
    const { hints, transport, requestTimeoutMs } = this.deps;
    const start = hintKey(owner, '');
    for (;;) {
      const batch = hints.keys(start, TRANSFER_BATCH_KEYS_MAX).filter((h) => splitHintKey(h).owner === owner);
      if (batch.length === 0) {
        this.retryAtMs.delete(owner);
        return;
      }
      const entries = batch.map((h) => ({ hint: h, key: splitHintKey(h).key, siblings: hints.read(h) }));
      try {
        const targets = ownerGone ? this.currentReplicas(entries.map((e) => e.key)) : [owner];
        for (const target of targets) {
          if (target === this.deps.self) {
            await Promise.all(entries.map((e) => this.deps.replicas.merge(e.key, e.siblings)));
            continue;
          }
          const reply = await transport.request(target, { kind: 'replica_put_batch', entries: entries.map((e) => ({ key: e.key, siblings: e.siblings })) }, requestTimeoutMs * 5);
          if (reply.kind !== 'replica_put_ok') throw new Error(`unexpected reply ${reply.kind}`);
        }
      } catch (err) {
        const backoffMs = Math.min((this.retryAtMs.get(owner)?.backoffMs ?? BACKOFF_MS.initial / 2) * 2, BACKOFF_MS.max);
        this.retryAtMs.set(owner, { atMs: this.deps.clock.nowMs() + backoffMs, backoffMs });
        this.deps.log.info({ owner, hints: entries.length, retryInMs: backoffMs, err: (err as Error).message }, 'hint delivery failed; will retry');
        return;
      }
      for (const e of entries) if (await hints.removeIfUnchanged(e.hint, e.siblings)) this.delivered++;
    }
  }

  /** For hints whose owner left the ring: every current replica of their keys. */
  private currentReplicas(keys: readonly string[]): NodeId[] {
    const ring = this.deps.ring();
    if (ring === undefined) throw new Error('no ring');
    return [...new Set(keys.flatMap((k) => ring.preferenceList(k, this.deps.n)))];
  }
}
