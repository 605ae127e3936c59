// How a DynamoDB item is stored as a /kv-style value, and which version of it wins. DynamoDB has
// no siblings: concurrent writes to one item resolve by last writer wins on a hybrid logical clock
// stamp (wall ms, counter, writing node), as in ScyllaDB's Alternator. The node keeps siblings
// underneath (vector clocks, src/version/); this module picks the winner among them: the live
// version with the greatest stamp. A concurrent delete (a tombstone, which has no stamp) loses to
// any live version it did not see. Stored values are read back as hostile input: decoded and
// validated like a client's item. Pure: the wall clock is handed in.
import { RECORD_BYTES_MAX } from '../version/record-codec.ts';
import type { Sibling } from '../version/siblings.ts';
import { checkItemNesting, checkItemSize, itemToWire, parseItem, type Item } from './attribute-value.ts';
import { parseNumber } from './key-codec.ts';
import { DynamoError } from './errors.ts';

/** The content type of an item's stored value (never served by /kv: its keys are reserved). */
export const ITEM_CONTENT_TYPE = 'application/x-dynakv-item';
/** The content type of a table definition's stored value. */
export const TABLE_CONTENT_TYPE = 'application/x-dynakv-table';
const RECORD_VERSION = 1;
/** Largest counter in a stamp: a node writes fewer than this many items in one millisecond. */
const COUNTER_MAX = 2 ** 31;
/**
 * Largest stored value read back: the largest record a coordinator writes, so every item PutItem
 * or UpdateItem could store decodes again. An item's JSON can be many times its DynamoDB size (a
 * control character is 1 byte of a string and 6 of JSON, an empty string in a list 1 byte and 9).
 */
export const ITEM_VALUE_BYTES_MAX = RECORD_BYTES_MAX;

/** A hybrid logical clock stamp: ordered by wall, then counter, then node. */
export interface Stamp {
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
}

export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.wall !== b.wall) return a.wall - b.wall;
  if (a.counter !== b.counter) return a.counter - b.counter;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/**
 * A node's hybrid logical clock: each stamp is above every stamp it issued or observed, and
 * follows the wall clock when that is ahead. Observing the stamps an item's write read makes the
 * write win over them whatever the clocks say.
 */
export class HybridClock {
  private wall = 0;
  private counter = 0;

  constructor(
    private readonly node: string,
    private readonly nowMs: () => number,
  ) {}

  observe(stamp: Stamp): void {
    if (stamp.wall > this.wall || (stamp.wall === this.wall && stamp.counter > this.counter)) {
      this.wall = stamp.wall;
      this.counter = stamp.counter;
    }
  }

  next(): Stamp {
    const now = Math.floor(this.nowMs());
    if (Number.isSafeInteger(now) && now > this.wall) {
      this.wall = now;
      this.counter = 0;
    } else if (this.counter + 1 >= COUNTER_MAX) {
      this.wall += 1;
      this.counter = 0;
    } else {
      this.counter += 1;
    }
    return { wall: this.wall, counter: this.counter, node: this.node };
  }
}

/** An item's stored version: the item and its stamp. */
export interface StoredItem {
  readonly item: Item;
  readonly stamp: Stamp;
}

/**
 * A number's text in as few characters as its value allows: scientific notation when shorter than
 * the canonical plain form (1E+125 is 126 characters plain). Read back, parseItem canonicalises it.
 */
export function compactNumber(text: string): string {
  const n = parseNumber(text);
  if (n.sign === 0) return '0';
  const mantissa = n.digits.length === 1 ? n.digits : `${n.digits[0]}.${n.digits.slice(1)}`;
  const scientific = `${n.sign < 0 ? '-' : ''}${mantissa}E${n.exponent - 1}`;
  return scientific.length < text.length ? scientific : text;
}

/** JSON.stringify's replacer for wire items: every N and NS value compacted (a type tag's value is a string or a list; an attribute named N is an object). */
function compactNumbers(key: string, value: unknown): unknown {
  if (key === 'N' && typeof value === 'string') return compactNumber(value);
  if (key === 'NS' && Array.isArray(value) && value.every((x) => typeof x === 'string')) return value.map((x: string) => compactNumber(x));
  return value;
}

export function encodeStoredItem(stored: StoredItem): Uint8Array {
  return Buffer.from(JSON.stringify({ v: RECORD_VERSION, t: [stored.stamp.wall, stored.stamp.counter], n: stored.stamp.node, i: itemToWire(stored.item) }, compactNumbers), 'utf8');
}

function corrupt(why: string): DynamoError {
  return new DynamoError('InternalServerError', `a stored item does not decode (${why}); the replicas will be repaired from another copy`);
}

/** Decodes a stored value (from disk or a peer: hostile), validating it like a client's item. */
export function decodeStoredItem(bytes: Uint8Array): StoredItem {
  if (bytes.length > ITEM_VALUE_BYTES_MAX) throw corrupt('too large');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw corrupt('not an object');
  const r = raw as Record<string, unknown>;
  if (r.v !== RECORD_VERSION) throw corrupt('unknown version');
  const t = r.t;
  if (!Array.isArray(t) || t.length !== 2 || !Number.isSafeInteger(t[0]) || !Number.isSafeInteger(t[1]) || (t[0] as number) < 0 || (t[1] as number) < 0 || (t[1] as number) >= COUNTER_MAX) {
    throw corrupt('bad stamp');
  }
  if (typeof r.n !== 'string' || r.n.length === 0 || r.n.length > 64) throw corrupt('bad node');
  let item: Item;
  try {
    item = parseItem(r.i);
    checkItemNesting(item);
    checkItemSize(item);
  } catch {
    throw corrupt('bad item');
  }
  return { item, stamp: { wall: t[0] as number, counter: t[1] as number, node: r.n } };
}

/** What an item's versions say: the winning live version, or absent; and the greatest stamp seen. */
export interface ItemVersions {
  readonly current: StoredItem | undefined;
  /** Every live version's stamp is at most this (undefined when there is none). */
  readonly newest: Stamp | undefined;
}

/**
 * The winner among an item's siblings (last writer wins; tombstones lose to any live version).
 * A version that does not decode throws InternalServerError, unless `onCorrupt` is given: then it
 * is reported there and left out, so a write over the item supersedes it instead of failing on it.
 */
export function resolveItem(siblings: readonly Sibling[], onCorrupt?: (error: DynamoError) => void): ItemVersions {
  let current: StoredItem | undefined;
  for (const sibling of siblings) {
    if (sibling.value === null) continue;
    let stored: StoredItem;
    try {
      stored = decodeStoredItem(sibling.value);
    } catch (err) {
      if (onCorrupt === undefined || !(err instanceof DynamoError)) throw err;
      onCorrupt(err);
      continue;
    }
    if (current === undefined || compareStamps(stored.stamp, current.stamp) > 0) current = stored;
  }
  return { current, newest: current?.stamp };
}
