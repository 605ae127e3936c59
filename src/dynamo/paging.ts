// DynamoDB's paging rules for Query and Scan, as pure helpers: a page ends once Limit items have
// been evaluated (read, before the filter) or once the items read reach 1 MB, and its
// LastEvaluatedKey is the key of the last item evaluated. PageReader applies them item by item
// (the executor feeds it across replica pages); readPage over an iterable. Scan's segments are
// key ranges of partition digests (item-keys.ts segmentItemsRange).
import { itemSizeBytes, type Item } from './attribute-value.ts';
import { evaluateCondition } from './expression-eval.ts';
import type { Condition } from './expression-parser.ts';
import { assert } from '../env/assert.ts';
import { keyOf, type TableSchema } from './table-schema.ts';
import type { ReadPageResult } from './query-requests.ts';

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
 * One page being read, item by item, in the order the operation returns them (starting after
 * ExclusiveStartKey). offer() answers the finished page once the page ended on Limit or size:
 * its LastEvaluatedKey is the last evaluated item's key, even if no item follows (DynamoDB does
 * not look ahead either, so a client may get one last empty page). When the items ran out first,
 * finish() answers the page without LastEvaluatedKey: the Query or Scan is complete.
 */
export class PageReader {
  private progress: PageProgress = PAGE_START;
  private readonly matched: Item[] = [];
  private readonly bytesMax: number;

  constructor(
    private readonly schema: TableSchema,
    private readonly options: ReadPageOptions = {},
  ) {
    this.bytesMax = options.bytesMax ?? QUERY_PAGE_BYTES_MAX;
    assert(options.limit === undefined || (Number.isInteger(options.limit) && options.limit >= 1), 'PageReader: Limit is a positive integer (the parser checks it)');
  }

  /** Evaluates one more item; the finished page if this item ended it, else undefined. */
  offer(item: Item): ReadPageResult | undefined {
    this.progress = advance(this.progress, itemSizeBytes(item));
    if (this.options.filter === undefined || evaluateCondition(this.options.filter, item)) this.matched.push(item);
    if (!pageEnded(this.progress, this.options.limit, this.bytesMax)) return undefined;
    return { matched: this.matched, scannedCount: this.progress.evaluated, lastEvaluatedKey: keyOf(this.schema, item) };
  }

  /** The page when the items ran out before it ended. */
  finish(): ReadPageResult {
    return { matched: this.matched, scannedCount: this.progress.evaluated };
  }
}

/** Reads one page from `items` with PageReader, pulling no item past the page's end. */
export function readPage(items: Iterable<Item>, schema: TableSchema, options: ReadPageOptions = {}): ReadPageResult {
  const reader = new PageReader(schema, options);
  for (const item of items) {
    const page = reader.offer(item);
    if (page !== undefined) return page;
  }
  return reader.finish();
}
