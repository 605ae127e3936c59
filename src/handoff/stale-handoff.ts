// Hands off what a re-added node held before its removal, before it discards it (harsh seed
// 55805). A node removed and re-added while it was away (down, or cut off) holds replicas and
// hints from its earlier membership: serving them could bring back what the cluster deleted
// meanwhile, so Admission discards them; but they may hold the only copy of an acknowledged
// write whose other replicas were lost. So first every record goes to its key's current replicas
// (this node aside), marked with the removal's epoch: a peer takes it only within its hand-off
// window for that removal, during which it purges no tombstone, so a value deleted while this
// node was away meets its tombstone there and stays deleted (Membership.staleHandoffOpen). A peer
// that refuses (HANDOFF_CLOSED) is not asked again; one that does not answer (or is not serving
// yet) is retried with backoff until another replica took every key of the batch, or the
// deadline (the hand-off window: no peer takes anything later) passes. Never rejects.
// Sans-IO: the injected transport, clock and log.
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import { TransportError, type NodeId, type Transport } from '../env/transport.ts';
import { batchEntryBytes, TRANSFER_BATCH_KEYS_MAX, type BatchEntry, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import { RemoteError } from '../transport/remote-error.ts';
import { BatchBuilder, fitsNoBatch, sendIsolatingRefusals } from './batches.ts';
import { splitHintKey } from './hint-delivery.ts';

export interface StaleHandoffDeps {
  readonly self: NodeId;
  readonly n: number;
  /** This node's replicas (keys are keys). */
  readonly replicas: ReplicaStore;
  /** This node's hints (keys name owner and key: see hintKey). */
  readonly hints: ReplicaStore;
  /** Ungated: it runs while the node serves nothing. */
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly clock: Clock;
  readonly log: Log;
  readonly requestTimeoutMs: number;
  readonly ring: () => Ring | undefined;
  /** The node stopped: give up at once. */
  readonly stopped: () => boolean;
}

/** What one hand-off did. */
export interface StaleHandoffResult {
  /** Records offered (replicas and hints). */
  readonly offered: number;
  /** Records at least one current replica took. */
  readonly taken: number;
  /** Peers that refused (their window for the removal closed, or they never saw it). */
  readonly closedBy: readonly NodeId[];
  /** Records too large for any message (not offered). */
  readonly tooLarge: number;
}

/** Retries of a peer that does not answer: 100 ms, doubling to 5 s. */
const RETRY_BACKOFF_MS = { initial: 100, max: 5_000 };

interface Entry extends BatchEntry {
  readonly to: readonly NodeId[];
}

/** A peer refused the whole hand-off: its window for the removal is closed. */
class HandoffClosed extends TransportError {
  constructor(message: string) {
    super('UNREACHABLE', message);
  }
}

/**
 * Offers every replica and hint this node stores to the current replicas of its key, marked as
 * data from before the removal at `removedAtEpoch`; gives up on a peer at `deadlineMs` (on the
 * monotonic clock). Resolves with what was taken; the caller discards everything afterwards.
 */
export async function handOffStale(deps: StaleHandoffDeps, removedAtEpoch: number, deadlineMs: number): Promise<StaleHandoffResult> {
  const ring = deps.ring();
  const closed = new Set<NodeId>();
  const totals = { offered: 0, taken: 0, tooLarge: 0 };
  if (ring === undefined) return { ...totals, closedBy: [] };
  const expired = () => deps.stopped() || deps.clock.monotonicMs() >= deadlineMs;

  const sendRound = async (entries: readonly Entry[]): Promise<void> => {
    const taken = new Set<Entry>();
    const byTarget = new Map<NodeId, Entry[]>();
    for (const e of entries) {
      for (const id of e.to) {
        if (closed.has(id)) continue;
        let list = byTarget.get(id);
        if (list === undefined) byTarget.set(id, (list = []));
        list.push(e);
      }
    }
    await Promise.all([...byTarget].map(([to, list]) => deliver(to, list, taken)));
    totals.offered += entries.length;
    totals.taken += taken.size;
  };

  const deliver = async (to: NodeId, entries: readonly Entry[], taken: Set<Entry>): Promise<void> => {
    let backoffMs = RETRY_BACKOFF_MS.initial;
    // Stops once another replica took every key here: one durable copy on a current replica is
    // what the hand-off is for (anti-entropy spreads it from there).
    while (!expired() && !closed.has(to) && entries.some((e) => !taken.has(e))) {
      try {
        const refused = new Set((await sendIsolatingRefusals(entries, (batch) => put(to, batch))).map((r) => r.entry));
        for (const e of entries) if (!refused.has(e)) taken.add(e);
        if (refused.size > 0) deps.log.warn({ to, refused: refused.size, keys: [...refused].slice(0, 5).map((e) => e.key) }, 'hand-off of data from before the removal: keys refused');
        return;
      } catch (err) {
        if (err instanceof HandoffClosed) {
          closed.add(to);
          deps.log.warn({ to, removedAtEpoch, err: err.message }, 'hand-off of data from before the removal: peer refuses (its window is closed); not asked again');
          return;
        }
        deps.log.info({ to, keys: entries.length, err: err instanceof Error ? err.message : String(err), retryInMs: backoffMs }, 'hand-off of data from before the removal: no answer; retrying');
      }
      await new Promise<void>((resolve) => deps.clock.setTimer(backoffMs, resolve));
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS.max);
    }
  };

  const put = async (to: NodeId, entries: readonly Entry[]): Promise<void> => {
    const request: PeerRequest = { kind: 'replica_put_batch', entries: entries.map((e) => ({ key: e.key, record: e.record })), removedAtEpoch };
    try {
      const reply = await deps.transport.request(to, request, deps.requestTimeoutMs * 5);
      if (reply.kind !== 'replica_put_ok') throw new Error(`unexpected reply ${reply.kind}`);
    } catch (err) {
      // Not refusals of these records: the peer refuses the whole hand-off, or serves nothing yet.
      if (err instanceof RemoteError && err.remoteCode === 'HANDOFF_CLOSED') throw new HandoffClosed(err.remoteMessage);
      if (err instanceof RemoteError && err.remoteCode === 'NOT_READY') throw new TransportError('UNREACHABLE', err.remoteMessage);
      throw err;
    }
  };

  const round = new BatchBuilder<Entry>();
  for (const store of [deps.replicas, deps.hints]) {
    const keyOf = store === deps.hints ? (stored: string) => splitHintKey(stored).key : (stored: string) => stored;
    let start: string | undefined;
    for (;;) {
      // One key past the page tells where the next page starts (scan starts are inclusive).
      const page = store.keys(start, TRANSFER_BATCH_KEYS_MAX + 1);
      for (const stored of page.slice(0, TRANSFER_BATCH_KEYS_MAX)) {
        const record = store.readEncoded(stored);
        if (record.siblings.length === 0) continue;
        const key = keyOf(stored);
        if (fitsNoBatch(key, record)) {
          totals.tooLarge++;
          deps.log.warn({ key, bytes: batchEntryBytes(key, record) }, 'key too large for any message; not handed off');
          continue;
        }
        const to = ring.preferenceList(key, deps.n).filter((id) => id !== deps.self);
        if (to.length === 0) continue;
        const entry: Entry = { key, record, to };
        if (!round.fits(entry)) await sendRound(round.take());
        round.add(entry);
      }
      start = page[TRANSFER_BATCH_KEYS_MAX];
      if (start === undefined) break;
    }
  }
  await sendRound(round.take());
  return { ...totals, closedBy: [...closed] };
}
