// Hands off what a re-added node held before its removal, before it discards it (harsh seed
// 55805). A node removed and re-added while it was away (down, or cut off) holds replicas and
// hints from its earlier membership: serving them could bring back what the cluster deleted
// meanwhile, so Admission discards them; but they may hold the only copy of an acknowledged
// write whose other replicas were lost. So first every record goes to its key's current replicas
// (this node aside), marked with the removal's epoch: a peer takes it only within its hand-off
// window for that removal, during which it purges no tombstone, so a value deleted while this
// node was away meets its tombstone there and stays deleted (Membership.staleHandoffOpen). Every
// record is offered once first, so none waits behind another; a peer that refuses the hand-off
// (HANDOFF_CLOSED) is not asked again; records no peer took because one did not answer (or was
// not serving yet) are offered again with backoff until the deadline (the hand-off window: no
// peer takes anything later). Never rejects. The request is its own kind (stale_put_batch), so a
// node that does not know the rule refuses it rather than taking it unchecked.
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
  /** Records no peer took because their peers did not answer before the deadline. */
  readonly notTaken: number;
}

/** Retries of what no replica took yet because one did not answer: 1 s, doubling to 30 s. */
const RETRY_BACKOFF_MS = { initial: 1_000, max: 30_000 };
/** Refusal codes that mean the peer takes nothing of this hand-off: it is not asked again. */
const CLOSED_CODES: ReadonlySet<string> = new Set(['HANDOFF_CLOSED', 'NOT_A_MEMBER']);

interface Entry extends BatchEntry {
  /** The entry's key in its store (a hint's key names its owner too). */
  readonly stored: string;
  readonly store: 'replicas' | 'hints';
  readonly to: readonly NodeId[];
}

/** A peer refused the whole hand-off (its window is closed, or it holds us a stranger). */
class HandoffClosed extends TransportError {
  constructor(message: string) {
    super('UNREACHABLE', message);
  }
}

/** How one offer of a batch to one peer ended. */
type Offer = { readonly kind: 'answered'; readonly refused: ReadonlySet<Entry> } | { readonly kind: 'closed' } | { readonly kind: 'no-answer' };

/**
 * Offers every replica and hint this node stores to the current replicas of its key, marked as
 * data from before the removal at `removedAtEpoch`. First one pass over the store, every batch
 * offered once to every peer, so no key waits behind another; then, until `deadlineMs` (on the
 * monotonic clock), only the records no peer took because one did not answer are offered again,
 * with backoff. Resolves with what was taken (and names what was not); the caller discards
 * everything afterwards. Never rejects: a storage error ends the hand-off with what it has.
 */
export async function handOffStale(deps: StaleHandoffDeps, removedAtEpoch: number, deadlineMs: number): Promise<StaleHandoffResult> {
  const closed = new Set<NodeId>();
  const totals = { offered: 0, taken: 0, tooLarge: 0 };
  /**
   * Records no peer took while one of their peers did not answer, to offer again: where they are
   * stored, not the records (read again each time), so it is bounded by the store's keys.
   */
  const retry = new Map<string, Pick<Entry, 'store' | 'stored' | 'key'>>();
  const expired = () => deps.stopped() || deps.clock.monotonicMs() >= deadlineMs;
  const ring = deps.ring();
  if (ring === undefined) return { ...totals, closedBy: [], notTaken: 0 };
  const idOf = (e: Pick<Entry, 'store' | 'stored'>) => `${e.store}\u0000${e.stored}`;

  const offerRound = async (entries: readonly Entry[]): Promise<void> => {
    const byTarget = new Map<NodeId, Entry[]>();
    for (const e of entries) {
      for (const id of e.to) {
        if (closed.has(id)) continue;
        let list = byTarget.get(id);
        if (list === undefined) byTarget.set(id, (list = []));
        list.push(e);
      }
    }
    const taken = new Set<Entry>();
    const unanswered = new Set<Entry>();
    await Promise.all(
      [...byTarget].map(async ([to, list]) => {
        const offer = await offerOnce(to, list);
        if (offer.kind === 'closed') {
          closed.add(to);
          deps.log.warn({ to, removedAtEpoch }, 'hand-off of data from before the removal: peer takes none of it (its window is closed, or it never saw the removal); not asked again');
        } else if (offer.kind === 'no-answer') {
          for (const e of list) unanswered.add(e);
        } else {
          for (const e of list) if (!offer.refused.has(e)) taken.add(e);
          if (offer.refused.size > 0) deps.log.warn({ to, refused: offer.refused.size, keys: [...offer.refused].slice(0, 5).map((e) => e.key) }, 'hand-off of data from before the removal: records refused');
        }
      }),
    );
    for (const e of entries) {
      if (taken.has(e)) {
        totals.taken++;
        retry.delete(idOf(e));
      } else if (unanswered.has(e)) retry.set(idOf(e), { store: e.store, stored: e.stored, key: e.key });
      else retry.delete(idOf(e));
    }
  };

  const offerOnce = async (to: NodeId, entries: readonly Entry[]): Promise<Offer> => {
    try {
      const refused = await sendIsolatingRefusals(entries, (batch) => put(to, batch));
      return { kind: 'answered', refused: new Set(refused.map((r) => r.entry)) };
    } catch (err) {
      if (err instanceof HandoffClosed) return { kind: 'closed' };
      deps.log.info({ to, keys: entries.length, err: err instanceof Error ? err.message : String(err) }, 'hand-off of data from before the removal: no answer; offered again later');
      return { kind: 'no-answer' };
    }
  };

  const put = async (to: NodeId, entries: readonly Entry[]): Promise<void> => {
    const request: PeerRequest = { kind: 'stale_put_batch', entries: entries.map((e) => ({ key: e.key, record: e.record })), removedAtEpoch };
    try {
      const reply = await deps.transport.request(to, request, deps.requestTimeoutMs * 5);
      if (reply.kind !== 'replica_put_ok') throw new Error(`unexpected reply ${reply.kind}`);
    } catch (err) {
      // Not refusals of these records: the peer refuses the whole hand-off, or serves nothing yet.
      if (err instanceof RemoteError && CLOSED_CODES.has(err.remoteCode)) throw new HandoffClosed(err.remoteMessage);
      if (err instanceof RemoteError && err.remoteCode === 'NOT_READY') throw new TransportError('UNREACHABLE', err.remoteMessage);
      throw err;
    }
  };

  /** The entry for a stored record, or undefined if there is nothing to offer. */
  const entryOf = (store: Entry['store'], stored: string): Entry | undefined => {
    const record = (store === 'hints' ? deps.hints : deps.replicas).readEncoded(stored);
    if (record.siblings.length === 0) return undefined;
    const key = store === 'hints' ? splitHintKey(stored).key : stored;
    if (fitsNoBatch(key, record)) {
      totals.tooLarge++;
      deps.log.warn({ key, bytes: batchEntryBytes(key, record) }, 'key too large for any message; not handed off');
      return undefined;
    }
    const to = ring.preferenceList(key, deps.n).filter((id) => id !== deps.self);
    return to.length === 0 ? undefined : { key, record, to, stored, store };
  };

  try {
    // The first pass: every record offered once.
    const round = new BatchBuilder<Entry>();
    for (const store of ['replicas', 'hints'] as const) {
      let start: string | undefined;
      for (;;) {
        // One key past the page tells where the next page starts (scan starts are inclusive).
        const page = (store === 'hints' ? deps.hints : deps.replicas).keys(start, TRANSFER_BATCH_KEYS_MAX + 1);
        for (const stored of page.slice(0, TRANSFER_BATCH_KEYS_MAX)) {
          if (deps.stopped()) return { ...totals, closedBy: [...closed], notTaken: retry.size };
          const entry = entryOf(store, stored);
          if (entry === undefined) continue;
          totals.offered++;
          if (!round.fits(entry)) await offerRound(round.take());
          round.add(entry);
        }
        start = page[TRANSFER_BATCH_KEYS_MAX];
        if (start === undefined) break;
      }
    }
    await offerRound(round.take());
    // Then what no one took because a peer did not answer, until the deadline.
    let backoffMs = RETRY_BACKOFF_MS.initial;
    while (retry.size > 0 && !expired()) {
      await new Promise<void>((resolve) => deps.clock.setTimer(backoffMs, resolve));
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS.max);
      const again = new BatchBuilder<Entry>();
      for (const e of [...retry.values()]) {
        if (expired()) break;
        const entry = entryOf(e.store, e.stored);
        if (entry === undefined) {
          retry.delete(idOf(e));
          continue;
        }
        if (!again.fits(entry)) await offerRound(again.take());
        again.add(entry);
      }
      await offerRound(again.take());
    }
  } catch (err) {
    deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'hand-off of data from before the removal failed part-way (a storage error); what was taken stays taken');
  }
  if (retry.size > 0) {
    deps.log.warn({ notTaken: retry.size, keys: [...retry.values()].slice(0, 5).map((e) => e.key) }, 'hand-off of data from before the removal: records no current replica took (their peers did not answer within the window); they go with the discard');
  }
  return { ...totals, closedBy: [...closed], notTaken: retry.size };
}
