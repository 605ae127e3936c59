// Every message nodes exchange, as discriminated unions checked exhaustively by the compiler,
// plus the validators that turn an untrusted decoded frame into a typed message. A frame that
// fails validation is malformed: the transport closes that connection (see tcp-transport.ts).
// Versions on the hot paths travel as EncodedRecord: the record bytes a replica stores, carried
// as one msgpack extension, so they are encoded once by the coordinator and stored as received.
import { addExtension } from 'msgpackr';
import { isMembershipCount, parseMemberRecords, type MemberRecord } from '../membership/table.ts';
import { frameBytesMaxDefault } from '../transport/frame-codec.ts';
import { parseNodeActivity, type NodeActivity } from './activity.ts';
import { isNodeId } from './ids.ts';
import { EncodedRecord } from '../version/record-codec.ts';
import type { Sibling } from '../version/siblings.ts';
import { isVClock, type VClock } from '../version/vclock.ts';

/** msgpack extension type of an EncodedRecord on the peer wire: its record bytes, verbatim. */
export const RECORD_EXTENSION_TYPE = 0x10;

addExtension({
  Class: EncodedRecord,
  type: RECORD_EXTENSION_TYPE,
  pack: (record: EncodedRecord) => record.bytes,
  // The payload is a view into the socket chunk: copy it, since the record outlives the frame.
  unpack: (bytes: Uint8Array) => EncodedRecord.received(Uint8Array.prototype.slice.call(bytes)),
});

/**
 * Stored keys are 1..1536 UTF-8 bytes; checked again on receipt so a peer cannot smuggle in more.
 * A client's /kv key is at most CLIENT_KEY_BYTES_MAX; the rest is room for the DynamoDB API's item
 * keys (src/dynamo/item-keys.ts: at most 1,430 bytes), under LMDB's 1,978.
 */
export const KEY_BYTES_MAX = 1536;

/** A /kv client's key: 1..1024 UTF-8 bytes, not starting with RESERVED_KEY_PREFIX. */
export const CLIENT_KEY_BYTES_MAX = 1024;

/**
 * Keys that start with U+0000 belong to the node's own fronts (the DynamoDB API's tables and
 * items, ring.ts PARTITIONED_KEY_PREFIX); /kv refuses them, so a /kv client cannot read or
 * overwrite them.
 */
export const RESERVED_KEY_PREFIX = '\u0000';

export type PeerRequest =
  /** Merge these versions into your replica of `key`; reply once durable (Dynamo 4.5). */
  | { readonly kind: 'replica_put'; readonly key: string; readonly record: EncodedRecord }
  /** Sloppy quorum: keep these versions for `owner` (a node id), which is down, and hand them over later. */
  | { readonly kind: 'hint_put'; readonly owner: string; readonly key: string; readonly record: EncodedRecord }
  /** Send your replica of `key` (possibly empty). */
  | { readonly kind: 'replica_get'; readonly key: string }
  /** How many versions (live, all) and record bytes your replica of `key` holds: a fallback load's refresh, without the values. */
  | { readonly kind: 'replica_load'; readonly key: string }
  /** Coordinate this client write: sent by a node outside the key's preference list to one inside it. */
  | {
      readonly kind: 'forward_put';
      readonly key: string;
      readonly value: Uint8Array | null;
      readonly contentType: string;
      readonly context: VClock;
      readonly w: number;
      /** The sender found every replica down: coordinate as a fallback (coordinator.ts funnel). */
      readonly fallback?: true;
    }
  /**
   * Merge many keys at once (hints, ring-change transfers, anti-entropy pushes); reply once all
   * are durable. At most TRANSFER_BATCH_KEYS_MAX entries of at most TRANSFER_BATCH_BYTES_MAX
   * (batchEntryBytes), except that one entry alone may be larger (up to BATCH_ENTRY_BYTES_MAX).
   */
  | { readonly kind: 'replica_put_batch'; readonly entries: readonly BatchEntry[] }
  /**
   * A re-added node hands off what it held before its removal at this operator epoch
   * (src/handoff/stale-handoff.ts): take it (as replica_put_batch) only within the hand-off
   * window for that removal (Membership.staleHandoffOpen), else refuse with HANDOFF_CLOSED.
   */
  | { readonly kind: 'stale_put_batch'; readonly entries: readonly BatchEntry[]; readonly removedAtEpoch: number }
  /** Push-pull gossip: here is my membership table (at most MEMBERS_MAX records), send me yours. */
  | { readonly kind: 'gossip'; readonly records: readonly MemberRecord[] }
  /** Anti-entropy: the Merkle hashes of my tree for `range` at `level`, at these indexes. */
  | { readonly kind: 'ae_level'; readonly range: string; readonly level: number; readonly indexes: readonly number[] }
  /** Anti-entropy: the keys (and record digests) you hold in these leaves of `range`. */
  | { readonly kind: 'ae_bucket'; readonly range: string; readonly leaves: readonly number[] }
  /** Send your replicas of these keys (at most TRANSFER_BATCH_KEYS_MAX), as many as fit a batch. */
  | { readonly kind: 'replica_get_batch'; readonly keys: readonly string[] }
  /**
   * Send your replicas of the keys in [start, end), in key order: at most `limit` entries
   * (1..TRANSFER_BATCH_KEYS_MAX) and no more than fit a batch (a DynamoDB Query or Scan page);
   * descending from `end` when `reverse`.
   */
  | { readonly kind: 'replica_range'; readonly start: string; readonly end: string; readonly limit: number; readonly reverse: boolean }
  /** For the asker's dashboard: what you are doing (src/protocol/activity.ts). */
  | { readonly kind: 'activity' }
  | { readonly kind: 'ping' };

export type PeerReply =
  | { readonly kind: 'replica_put_ok' }
  /** The replica's versions of the key (an empty record if it holds none). */
  | { readonly kind: 'replica_get_ok'; readonly record: EncodedRecord }
  /** What the replica holds of the key (all zero if nothing). */
  | { readonly kind: 'replica_load_ok'; readonly live: number; readonly versions: number; readonly bytes: number }
  | { readonly kind: 'forward_put_ok'; readonly context: VClock }
  /** The forwarded write did not reach its quorum (or was refused) on the coordinating node. */
  | {
      readonly kind: 'forward_put_failed';
      readonly code: string;
      readonly message: string;
      readonly ok?: number;
      readonly needed?: number;
    }
  | { readonly kind: 'gossip_ok'; readonly records: readonly MemberRecord[] }
  | { readonly kind: 'ae_level_ok'; readonly hashes: readonly string[] }
  /** [key, record digest] pairs: tuples, because listings are most of anti-entropy's bytes. */
  | { readonly kind: 'ae_bucket_ok'; readonly entries: ReadonlyArray<readonly [string, string]> }
  /**
   * The asked keys' records, cut like a replica_put_batch (a key the replica does not hold comes
   * with an empty record); `left`: asked keys that did not fit, to ask for again; `tooLarge`:
   * asked keys whose record exceeds BATCH_ENTRY_BYTES_MAX, which no message can carry.
   */
  | {
      readonly kind: 'replica_get_batch_ok';
      readonly entries: readonly BatchEntry[];
      readonly left: readonly string[];
      readonly tooLarge: readonly string[];
    }
  /** replica_range's answer: `more` when keys of the range may follow the last entry. */
  | { readonly kind: 'replica_range_ok'; readonly entries: readonly BatchEntry[]; readonly more: boolean }
  /** The peer has no tree for that range (its ring view differs); try again later. */
  | { readonly kind: 'ae_unavailable'; readonly reason: string }
  /** null when the node has no activity source (it serves no dashboard, e.g. in the simulator). */
  | { readonly kind: 'activity_ok'; readonly activity: NodeActivity | null }
  | { readonly kind: 'pong' };

/** One key's record in a batch, as record bytes: its size is known without encoding it again. */
export interface BatchEntry {
  readonly key: string;
  readonly record: EncodedRecord;
}

/** Entries per batch (replica_put_batch, replica_get_batch and its reply): bounds per-key work. */
export const TRANSFER_BATCH_KEYS_MAX = 256;

/**
 * Target size of a batch, summed by batchEntryBytes: a sender closes a batch before it would
 * pass this, and a receiver refuses a batch of several entries above it. A quarter of the
 * default frame limit, so a batch always fits a frame with room to spare, and one batch of
 * records costs at most this much memory on each side while it is in flight.
 */
export const TRANSFER_BATCH_BYTES_MAX = 8 * 1024 * 1024;

/**
 * Room kept in a frame for everything but one entry's record and key: the envelope, the message
 * fields and a reply's `left` and `tooLarge` key lists (TRANSFER_BATCH_KEYS_MAX keys of at most
 * KEY_BYTES_MAX bytes each, about 260 KiB).
 */
export const BATCH_FRAME_OVERHEAD_BYTES = 1024 * 1024;

/**
 * The largest entry any batch can carry: a record larger than a batch goes alone, and one larger
 * than this fits no frame (frameBytesMaxDefault), so senders log it and skip it (the record stays
 * where it is) rather than send a message the transport must refuse.
 */
export const BATCH_ENTRY_BYTES_MAX = frameBytesMaxDefault - BATCH_FRAME_OVERHEAD_BYTES;

/** Per-entry msgpack framing (map header, field names, lengths) beyond the key and record bytes. */
const BATCH_ENTRY_OVERHEAD_BYTES = 32;

/** What one entry adds to a batch's encoded size (an upper bound). */
export function batchEntryBytes(key: string, record: EncodedRecord): number {
  return Buffer.byteLength(key, 'utf8') + record.bytes.length + BATCH_ENTRY_OVERHEAD_BYTES;
}

/** Whether `entries` is within a batch's bounds: by count, and by bytes unless it is one entry. */
export function isWithinBatchBounds(entries: readonly BatchEntry[]): boolean {
  if (entries.length > TRANSFER_BATCH_KEYS_MAX) return false;
  if (entries.length === 1) return batchEntryBytes(entries[0]!.key, entries[0]!.record) <= BATCH_ENTRY_BYTES_MAX;
  let bytes = 0;
  for (const e of entries) bytes += batchEntryBytes(e.key, e.record);
  return bytes <= TRANSFER_BATCH_BYTES_MAX;
}

type Fields = Record<string, unknown>;

function isObject(x: unknown): x is Fields {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function isValidKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0) return false;
  return Buffer.byteLength(key, 'utf8') <= KEY_BYTES_MAX;
}

/** Why `key` is not a /kv client's key, or undefined if it is one. */
export function clientKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'key is empty';
  if (key.startsWith(RESERVED_KEY_PREFIX)) return 'keys starting with U+0000 are reserved (the DynamoDB API stores its tables and items under them)';
  if (Buffer.byteLength(key, 'utf8') > CLIENT_KEY_BYTES_MAX) return `key is longer than ${CLIENT_KEY_BYTES_MAX} UTF-8 bytes`;
  return undefined;
}

/**
 * Merkle node or leaf indexes per ae_level / ae_bucket request: at most one whole level of the
 * deepest tree (2^MERKLE_DEPTH_MAX = 65,536); a longer list makes the frame malformed.
 */
export const TREE_INDEXES_MAX = 65_536;

/** Tree indexes: at most one level of a depth-16 tree per request. */
function isIndexList(x: unknown): x is readonly number[] {
  return Array.isArray(x) && x.length <= TREE_INDEXES_MAX && x.every((i) => Number.isSafeInteger(i) && i >= 0);
}

/** A received record whose bytes decode (validated here, once; handlers read `siblings`). */
function isRecord(x: unknown): x is EncodedRecord {
  return x instanceof EncodedRecord && x.decoded();
}

function isKeyList(x: unknown, lengthMax: number): x is readonly string[] {
  return Array.isArray(x) && x.length <= lengthMax && x.every(isValidKey);
}

/**
 * A batch's entries: bounded by count and bytes before any record is decoded (sizes come from
 * the received bytes), then every record decoded once.
 */
function isBatch(x: unknown): x is readonly BatchEntry[] {
  if (!Array.isArray(x) || x.length > TRANSFER_BATCH_KEYS_MAX) return false;
  if (!x.every((e: unknown) => isObject(e) && isValidKey(e.key) && e.record instanceof EncodedRecord)) return false;
  return isWithinBatchBounds(x as BatchEntry[]) && x.every((e: BatchEntry) => e.record.decoded());
}

export function parsePeerRequest(x: unknown): PeerRequest | undefined {
  if (!isObject(x)) return undefined;
  switch (x.kind) {
    case 'replica_put':
      return isValidKey(x.key) && isRecord(x.record) ? (x as PeerRequest) : undefined;
    case 'replica_get':
    case 'replica_load':
      return isValidKey(x.key) ? (x as PeerRequest) : undefined;
    case 'hint_put':
      // The owner becomes part of a stored hint key and of log lines: a node id by the id rule.
      return isNodeId(x.owner) && isValidKey(x.key) && isRecord(x.record)
        ? (x as PeerRequest)
        : undefined;
    case 'forward_put':
      return isValidKey(x.key) &&
        (x.value === null || x.value instanceof Uint8Array) &&
        typeof x.contentType === 'string' &&
        isVClock(x.context) &&
        Number.isSafeInteger(x.w) &&
        (x.fallback === undefined || x.fallback === true)
        ? (x as PeerRequest)
        : undefined;
    case 'replica_put_batch':
      if (!isBatch(x.entries)) return undefined;
      // The version before stale_put_batch sent a re-added node's old data this way: it gets the
      // same window check, never taken as a plain batch.
      if (x.removedAtEpoch !== undefined) return isMembershipCount(x.removedAtEpoch) ? { kind: 'stale_put_batch', entries: x.entries, removedAtEpoch: x.removedAtEpoch } : undefined;
      return { kind: 'replica_put_batch', entries: x.entries };
    case 'stale_put_batch':
      return isBatch(x.entries) && isMembershipCount(x.removedAtEpoch) ? { kind: 'stale_put_batch', entries: x.entries, removedAtEpoch: x.removedAtEpoch } : undefined;
    case 'gossip': {
      // Every record parses (ids, addresses, finite times, bounded counts) or the frame is malformed.
      const records = parseMemberRecords(x.records);
      return records.ok ? { kind: 'gossip', records: records.value } : undefined;
    }
    case 'ae_level':
      return typeof x.range === 'string' && Number.isSafeInteger(x.level) && isIndexList(x.indexes) ? (x as PeerRequest) : undefined;
    case 'ae_bucket':
      return typeof x.range === 'string' && isIndexList(x.leaves) ? (x as PeerRequest) : undefined;
    case 'replica_get_batch':
      return isKeyList(x.keys, TRANSFER_BATCH_KEYS_MAX) ? (x as PeerRequest) : undefined;
    case 'replica_range':
      return isValidKey(x.start) && isValidKey(x.end) && Number.isInteger(x.limit) && (x.limit as number) >= 1 && (x.limit as number) <= TRANSFER_BATCH_KEYS_MAX && typeof x.reverse === 'boolean'
        ? { kind: 'replica_range', start: x.start, end: x.end, limit: x.limit as number, reverse: x.reverse }
        : undefined;
    case 'activity':
      return { kind: 'activity' };
    case 'ping':
      return { kind: 'ping' };
    default:
      return undefined;
  }
}

/** A replica_load count past this is not believed: far beyond what any message carries. */
export const LOAD_COUNT_MAX = 2 ** 40;

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= LOAD_COUNT_MAX;
}

export function parsePeerReply(x: unknown): PeerReply | undefined {
  if (!isObject(x)) return undefined;
  switch (x.kind) {
    case 'replica_put_ok':
      return { kind: 'replica_put_ok' };
    case 'replica_get_ok':
      return isRecord(x.record) ? (x as PeerReply) : undefined;
    case 'replica_load_ok':
      return isCount(x.live) && isCount(x.versions) && isCount(x.bytes) ? { kind: 'replica_load_ok', live: x.live, versions: x.versions, bytes: x.bytes } : undefined;
    case 'forward_put_ok':
      return isVClock(x.context) ? (x as PeerReply) : undefined;
    case 'forward_put_failed':
      return typeof x.code === 'string' && typeof x.message === 'string' ? (x as PeerReply) : undefined;
    case 'ae_level_ok':
      return Array.isArray(x.hashes) && x.hashes.every((h: unknown) => typeof h === 'string') ? (x as PeerReply) : undefined;
    case 'ae_bucket_ok':
      return Array.isArray(x.entries) && x.entries.every((e: unknown) => Array.isArray(e) && e.length === 2 && isValidKey(e[0]) && typeof e[1] === 'string')
        ? (x as PeerReply)
        : undefined;
    case 'replica_range_ok':
      return isBatch(x.entries) && typeof x.more === 'boolean' ? (x as PeerReply) : undefined;
    case 'replica_get_batch_ok':
      return isKeyList(x.left, TRANSFER_BATCH_KEYS_MAX) &&
        isKeyList(x.tooLarge, TRANSFER_BATCH_KEYS_MAX) &&
        isBatch(x.entries) &&
        x.entries.length + x.left.length + x.tooLarge.length <= TRANSFER_BATCH_KEYS_MAX
        ? (x as PeerReply)
        : undefined;
    case 'ae_unavailable':
      return typeof x.reason === 'string' ? (x as PeerReply) : undefined;
    case 'gossip_ok': {
      const records = parseMemberRecords(x.records);
      return records.ok ? { kind: 'gossip_ok', records: records.value } : undefined;
    }
    case 'activity_ok': {
      if (x.activity === null) return { kind: 'activity_ok', activity: null };
      const activity = parseNodeActivity(x.activity);
      return activity === undefined ? undefined : { kind: 'activity_ok', activity };
    }
    case 'pong':
      return { kind: 'pong' };
    default:
      return undefined;
  }
}
