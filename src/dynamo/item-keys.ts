// Where the DynamoDB API keeps its tables and items in the node's key space, all under the
// reserved prefix U+0000 that /kv refuses (protocol/messages.ts RESERVED_KEY_PREFIX):
//   a table definition  U+0000 'T' name                                   (placed by the whole key)
//   an item             U+0000 'I' tableId '/' partition U+0001 sortKey   (placed by its partition)
// `partition` is SHA-256 of the partition key value's key-codec bytes (43 characters of the same
// order-preserving base64, so a Scan segment is one key range of digests),
// so any partition key (up to 2,048 bytes) gives a short, fixed-length key and one ring position
// (ring.ts placementText: MD5 of table id and partition digest); `sortKey` is the sort key value
// in an order-preserving base64 (ORDERED_ALPHABET is ascending ASCII), so within a partition
// LMDB orders items by sort key as DynamoDB does (bytes for S and B, numerically for N), and a
// Query reads one contiguous key range from one preference list. Pure.
import { createHash } from 'node:crypto';
import { PARTITION_END, PARTITIONED_KEY_PREFIX } from '../ring/ring.ts';
import type { AttributeValue, ScalarType } from './attribute-value.ts';
import type { SortKeyCondition } from './expression-parser.ts';
import { encodeKey } from './key-codec.ts';
import { SORT_KEY_BYTES_MAX } from './key-codec.ts';

/** 64 characters in ascending ASCII order: '-' < '0'..'9' < 'A'..'Z' < '_' < 'a'..'z'. */
const ORDERED_ALPHABET = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const TABLE_PREFIX = `${PARTITIONED_KEY_PREFIX}T`;
const ITEM_PREFIX = `${PARTITIONED_KEY_PREFIX}I`;
/** Separates the table id from the partition digest; the character after it ends a table's range. */
const TABLE_SEPARATOR = '/';
const TABLE_END = '0';
/** The character after PARTITION_END: the exclusive end of a partition's keys. */
const PARTITION_AFTER = String.fromCharCode(PARTITION_END.charCodeAt(0) + 1);
/** Appended to a key for the exclusive bound just past it (every key character is above it). */
const JUST_AFTER = '\u0000';

/** A table id: 16 characters of a-z and 2-7 (80 random bits), fixed when the table is created. */
export const TABLE_ID_PATTERN = /^[a-z2-7]{16}$/;
const PARTITION_DIGEST_CHARS = 43;
/** Largest sort key part: a 1,024-byte S or B value in 4/3 characters per byte (N is far shorter). */
export const SORT_KEY_CHARS_MAX = Math.ceil((SORT_KEY_BYTES_MAX * 8) / 6);
/** Largest item key: prefix, id, separator, digest, partition end, sort key (ASCII: chars = bytes). */
export const ITEM_KEY_BYTES_MAX = ITEM_PREFIX.length + 16 + 1 + PARTITION_DIGEST_CHARS + 1 + SORT_KEY_CHARS_MAX;

/** The key of a table's definition. */
export function tableKey(name: string): string {
  return TABLE_PREFIX + name;
}

/** The key range holding every table definition. */
export function tableKeysRange(): { readonly start: string; readonly end: string } {
  return { start: TABLE_PREFIX, end: `${PARTITIONED_KEY_PREFIX}U` };
}

/** The table name of a definition key (undefined if it is not one). */
export function tableNameOfKey(key: string): string | undefined {
  return key.startsWith(TABLE_PREFIX) ? key.slice(TABLE_PREFIX.length) : undefined;
}

/** Bytes in order-preserving base64: comparing encodings compares the bytes, a prefix first. */
export function orderedBase64(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += ORDERED_ALPHABET[(buffer >> bits) & 63];
    }
    buffer &= (1 << bits) - 1;
  }
  // The last partial group is padded with zero bits: a value's encoding is then a prefix of (or
  // below) every extension's, so the order of byte strings is kept.
  if (bits > 0) out += ORDERED_ALPHABET[(buffer << (6 - bits)) & 63];
  return out;
}

function scalarKeyValue(v: AttributeValue): { readonly S: string } | { readonly N: string } | { readonly B: Uint8Array } {
  if (v.type === 'S') return { S: v.value };
  if (v.type === 'N') return { N: v.value };
  if (v.type === 'B') return { B: v.value };
  throw new RangeError(`a key value is S, N or B, not ${v.type}`);
}

/** The sort key part of an item key: raw bytes for S (UTF-8) and B, key-codec bytes for N. */
export function sortKeyPart(v: AttributeValue): string {
  if (v.type === 'S') return orderedBase64(Buffer.from(v.value, 'utf8'));
  if (v.type === 'B') return orderedBase64(v.value);
  return orderedBase64(encodeKey(scalarKeyValue(v)));
}

/** The partition part of a table's item keys: everything before PARTITION_END. */
export function partitionPart(tableId: string, partition: AttributeValue): string {
  const digest = orderedBase64(createHash('sha256').update(encodeKey(scalarKeyValue(partition))).digest());
  return `${ITEM_PREFIX}${tableId}${TABLE_SEPARATOR}${digest}`;
}

/** An item's key: its partition, PARTITION_END, and its sort key part ('' without a sort key). */
export function itemKey(tableId: string, partition: AttributeValue, sort: AttributeValue | undefined): string {
  return partitionPart(tableId, partition) + PARTITION_END + (sort === undefined ? '' : sortKeyPart(sort));
}

/** Every item key of a table: [start, end). */
export function tableItemsRange(tableId: string): { readonly start: string; readonly end: string } {
  return { start: `${ITEM_PREFIX}${tableId}${TABLE_SEPARATOR}`, end: `${ITEM_PREFIX}${tableId}${TABLE_END}` };
}

const DIGEST_BYTES = 32;
const DIGEST_SPACE = 1n << BigInt(DIGEST_BYTES * 8);

function digestBound(value: bigint): string {
  const bytes = new Uint8Array(DIGEST_BYTES);
  let v = value;
  for (let i = DIGEST_BYTES - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return orderedBase64(bytes);
}

/**
 * The item keys of Scan segment `segment` of `totalSegments`: the partitions whose digest lies in
 * [segment * 2^256 / total, (segment + 1) * 2^256 / total), one contiguous key range, so segments
 * are disjoint, cover the table, and each reads only its own keys.
 */
export function segmentItemsRange(tableId: string, segment: number, totalSegments: number): { readonly start: string; readonly end: string } {
  if (!Number.isInteger(totalSegments) || totalSegments < 1 || !Number.isInteger(segment) || segment < 0 || segment >= totalSegments) {
    throw new RangeError(`segment ${segment} of ${totalSegments} is not one`);
  }
  const table = tableItemsRange(tableId);
  const prefix = `${ITEM_PREFIX}${tableId}${TABLE_SEPARATOR}`;
  const t = BigInt(totalSegments);
  const start = segment === 0 ? table.start : prefix + digestBound((BigInt(segment) * DIGEST_SPACE) / t);
  const end = segment === totalSegments - 1 ? table.end : prefix + digestBound((BigInt(segment + 1) * DIGEST_SPACE) / t);
  return { start, end };
}

/** The key just after `key` in key order (an exclusive bound that admits `key`, or a start past it). */
export function justAfter(key: string): string {
  return key + JUST_AFTER;
}

/** The bytes just above every string with this prefix: the prefix with its last non-0xFF byte raised (undefined if none). */
function prefixUpperBound(bytes: Uint8Array): Uint8Array | undefined {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const upper = Uint8Array.from(bytes.subarray(0, end));
  upper[end - 1]! += 1;
  return upper;
}

/**
 * The item keys of one partition that a sort key condition can match, as [start, end): exact
 * bounds for comparisons and BETWEEN; for begins_with, from the prefix to just below the next
 * prefix. The caller still checks each item against the condition.
 */
export function partitionRange(tableId: string, partition: AttributeValue, sortType: ScalarType | undefined, condition: SortKeyCondition | undefined): { readonly start: string; readonly end: string } {
  const base = partitionPart(tableId, partition);
  const first = base + PARTITION_END;
  const last = base + PARTITION_AFTER;
  if (condition === undefined || sortType === undefined) return { start: first, end: last };
  switch (condition.kind) {
    case 'compare': {
      const at = first + sortKeyPart(condition.value);
      switch (condition.op) {
        case '=': return { start: at, end: justAfter(at) };
        case '<': return { start: first, end: at };
        case '<=': return { start: first, end: justAfter(at) };
        case '>': return { start: justAfter(at), end: last };
        case '>=': return { start: at, end: last };
      }
      return { start: first, end: last };
    }
    case 'between':
      return { start: first + sortKeyPart(condition.low), end: justAfter(first + sortKeyPart(condition.high)) };
    case 'begins_with': {
      const prefix = condition.prefix;
      const bytes = prefix.type === 'S' ? Buffer.from(prefix.value, 'utf8') : prefix.type === 'B' ? prefix.value : undefined;
      if (bytes === undefined) return { start: first, end: last };
      const upper = prefixUpperBound(bytes);
      return { start: first + orderedBase64(bytes), end: upper === undefined ? last : first + orderedBase64(upper) };
    }
  }
}

/** Whether `id` is a table id by its rule (definitions read back from disk are checked with it). */
export function isTableId(id: unknown): id is string {
  return typeof id === 'string' && TABLE_ID_PATTERN.test(id);
}
