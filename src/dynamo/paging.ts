// DynamoDB's paging rules for Query and Scan, as pure helpers: a page ends once Limit items have
// been evaluated (read, before the filter) or once the items read reach 1 MB, and its
// LastEvaluatedKey is the key of the last item evaluated; and Scan's parallel segments, each a
// contiguous range of the 128-bit ring (src/ring/ring.ts), so a segment scans whole ring ranges.
import { itemSizeBytes, type Item } from './attribute-value.ts';
import { evaluateCondition } from './expression-eval.ts';
import type { Condition } from './expression-parser.ts';
import { RING_POSITION_BITS } from '../ring/ring.ts';
import { assert } from '../env/assert.ts';
import { keyOf, type TableSchema } from './table-schema.ts';
import { TOTAL_SEGMENTS_MAX, type ReadPageResult } from './query-requests.ts';

/** Most item bytes (itemSizeBytes) one Query or Scan page reads: DynamoDB's 1 MB. */
export const QUERY_PAGE_BYTES_MAX = 1_048_576;

/** How far a page has got. */
export interface PageProgress {
  /** Items evaluated so far (DynamoDB's ScannedCount). */
  readonly evaluated: number;
  /** Their total size, by itemSizeBytes. */
  readonly bytesRead: number;
}

export const PAGE_START: PageProgress = Object.freeze({ evaluated: 0, bytesRead: 0 });

/** The progress after evaluating one more item of `itemBytes`. */
export function advance(progress: PageProgress, itemBytes: number): PageProgress {
  return { evaluated: progress.evaluated + 1, bytesRead: progress.bytesRead + itemBytes };
}

/**
 * Whether the page is over: Limit items evaluated, or QUERY_PAGE_BYTES_MAX bytes read. The item
 * that reaches the byte bound is part of the page (DynamoDB stops once it has read 1 MB, not
 * before an item that would cross it), so every page holds at least one item.
 */
export function pageEnded(progress: PageProgress, limit: number | undefined, bytesMax = QUERY_PAGE_BYTES_MAX): boolean {
  return (limit !== undefined && progress.evaluated >= limit) || progress.bytesRead >= bytesMax;
}

export interface ReadPageOptions {
  readonly limit?: number;
  readonly filter?: Condition;
  /** Page byte bound; QUERY_PAGE_BYTES_MAX unless a test wants a smaller one. */
  readonly bytesMax?: number;
}

/**
 * Reads one page from `items` (already in the order the operation returns them, starting after
 * ExclusiveStartKey), pulling no item past the page's end. When the page ended on Limit or size,
 * LastEvaluatedKey is the last evaluated item's key, even if no item follows: DynamoDB does not
 * look ahead either, so a client may get one last empty page. When `items` ran out first, the
 * page has no LastEvaluatedKey: the Query or Scan is complete.
 */
export function readPage(items: Iterable<Item>, schema: TableSchema, options: ReadPageOptions = {}): ReadPageResult {
  const bytesMax = options.bytesMax ?? QUERY_PAGE_BYTES_MAX;
  assert(options.limit === undefined || (Number.isInteger(options.limit) && options.limit >= 1), 'readPage: Limit is a positive integer (the parser checks it)');
  let progress = PAGE_START;
  const matched: Item[] = [];
  for (const item of items) {
    progress = advance(progress, itemSizeBytes(item));
    if (options.filter === undefined || evaluateCondition(options.filter, item)) matched.push(item);
    if (pageEnded(progress, options.limit, bytesMax)) return { matched, scannedCount: progress.evaluated, lastEvaluatedKey: keyOf(schema, item) };
  }
  return { matched, scannedCount: progress.evaluated };
}

// ---- Scan segments ----

const RING_SIZE = 1n << BigInt(RING_POSITION_BITS);

function checkSegments(totalSegments: number): void {
  assert(Number.isInteger(totalSegments) && totalSegments >= 1 && totalSegments <= TOTAL_SEGMENTS_MAX, () => `segments: TotalSegments ${totalSegments} out of 1..${TOTAL_SEGMENTS_MAX}`);
}

/**
 * The Scan segment a partition belongs to: segment s of t holds the ring positions
 * [ceil(s * 2^128 / t), ceil((s + 1) * 2^128 / t)), so segments are contiguous, disjoint, cover
 * the ring, and differ in size by at most one position. `position` is the partition key's ring
 * position (ringPosition of its key, 0 <= position < 2^128).
 */
export function segmentOf(position: bigint, totalSegments: number): number {
  checkSegments(totalSegments);
  assert(position >= 0n && position < RING_SIZE, 'segmentOf: a ring position is in [0, 2^128)');
  return Number((position * BigInt(totalSegments)) >> BigInt(RING_POSITION_BITS));
}

/** The ring positions of segment `segment` of `totalSegments`: [start, end), end = 2^128 for the last. */
export function segmentRange(segment: number, totalSegments: number): { readonly start: bigint; readonly end: bigint } {
  checkSegments(totalSegments);
  assert(Number.isInteger(segment) && segment >= 0 && segment < totalSegments, 'segmentRange: 0 <= Segment < TotalSegments');
  const t = BigInt(totalSegments);
  const ceilDiv = (n: bigint): bigint => (n + t - 1n) / t;
  return { start: ceilDiv(BigInt(segment) * RING_SIZE), end: ceilDiv(BigInt(segment + 1) * RING_SIZE) };
}
