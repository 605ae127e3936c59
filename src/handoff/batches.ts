// Cutting records into replica_put_batch / replica_get_batch_ok batches by encoded bytes and key
// count (TRANSFER_BATCH_BYTES_MAX, TRANSFER_BATCH_KEYS_MAX), and sending a batch so that one
// record its receiver refuses fails alone. Shared by every sender of batches: hint delivery,
// ring transfers and anti-entropy. No I/O of its own; the caller supplies the send.
import { assert } from '../env/assert.ts';
import { TransportError } from '../env/transport.ts';
import { isReplyDropped, provenNotApplied } from '../transport/remote-error.ts';
import { BATCH_ENTRY_BYTES_MAX, batchEntryBytes, TRANSFER_BATCH_BYTES_MAX, TRANSFER_BATCH_KEYS_MAX, type BatchEntry } from '../protocol/messages.ts';
import type { EncodedRecord } from '../version/record-codec.ts';

/** A record no batch can carry: larger than any frame (see BATCH_ENTRY_BYTES_MAX). */
export function fitsNoBatch(key: string, record: EncodedRecord): boolean {
  return batchEntryBytes(key, record) > BATCH_ENTRY_BYTES_MAX;
}

/**
 * Collects entries into one batch at a time. An empty batch takes any entry that fits a frame
 * (so a record larger than a batch goes alone); a non-empty one only while it stays within
 * TRANSFER_BATCH_BYTES_MAX and TRANSFER_BATCH_KEYS_MAX. This is the rule parsePeerRequest and
 * parsePeerReply apply on receipt (isWithinBatchBounds).
 */
export class BatchBuilder<T extends BatchEntry> {
  private entries: T[] = [];
  private bytes = 0;

  get size(): number {
    return this.entries.length;
  }

  /** Whether `entry` may join the open batch; false means: take() the batch first. */
  fits(entry: T): boolean {
    const bytes = batchEntryBytes(entry.key, entry.record);
    assert(bytes <= BATCH_ENTRY_BYTES_MAX, () => `an entry of ${bytes} bytes fits no batch (check fitsNoBatch first)`);
    if (this.entries.length === 0) return true;
    return this.entries.length < TRANSFER_BATCH_KEYS_MAX && this.bytes + bytes <= TRANSFER_BATCH_BYTES_MAX;
  }

  add(entry: T): void {
    assert(this.fits(entry), 'BatchBuilder.add of an entry that does not fit');
    this.entries.push(entry);
    this.bytes += batchEntryBytes(entry.key, entry.record);
  }

  /** The open batch (possibly empty); the builder starts a new one. */
  take(): T[] {
    const batch = this.entries;
    this.entries = [];
    this.bytes = 0;
    return batch;
  }
}

/**
 * Whether a failed send was refused by its receiver (it answered with an error past its door, or with a reply
 * of the wrong kind) rather than lost (unreachable, timed out, closed, overloaded): a refusal is
 * about the batch, so other batches may still get through; a loss is about the peer.
 */
export function isRefusal(err: unknown): boolean {
  // A refusal at the peer's door (not ready, overloaded) is about the peer, not the batch; so is a
  // reply the peer dropped because our link to it was full (its handler ran; the reply is lost).
  return !(err instanceof TransportError) || (err.code === 'REMOTE_ERROR' && !provenNotApplied(err) && !isReplyDropped(err));
}

/** A request that got no reply in time: the peer may be slow with this batch, or gone. */
export function isTimeout(err: unknown): boolean {
  return err instanceof TransportError && err.code === 'TIMEOUT';
}

/**
 * Sends `entries` with `send` (which rejects on failure). When the receiver refuses the batch,
 * each half is sent on its own, down to single entries, so one record it cannot take holds back
 * no other: about 2 x log2(batch) extra requests per refused record. Resolves with the entries
 * refused one by one; rejects with the first error that is not a refusal (the peer is not
 * answering: nothing more can get through now, and what was acknowledged stays acknowledged).
 * `alsoRefusal` widens what counts as a refusal (e.g. a timeout that keeps recurring).
 */
export async function sendIsolatingRefusals<T>(
  entries: readonly T[],
  send: (batch: readonly T[]) => Promise<void>,
  alsoRefusal: (err: unknown) => boolean = () => false,
): Promise<Array<{ entry: T; err: unknown }>> {
  if (entries.length === 0) return [];
  try {
    await send(entries);
    return [];
  } catch (err) {
    if (!isRefusal(err) && !alsoRefusal(err)) throw err;
    if (entries.length === 1) return [{ entry: entries[0]!, err }];
    const half = Math.ceil(entries.length / 2);
    const first = await sendIsolatingRefusals(entries.slice(0, half), send, alsoRefusal);
    return [...first, ...(await sendIsolatingRefusals(entries.slice(half), send, alsoRefusal))];
  }
}
