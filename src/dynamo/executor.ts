// Runs a parsed DynamoDB operation (operations.ts) on the cluster, through the node's front door
// only. An item is one key of the ring (item-keys.ts), read and written with the node's quorums:
// GetItem reads R replicas when ConsistentRead (one otherwise); every write first reads the item
// with a quorum (its versions and context), evaluates its condition and update against the
// current version there, then writes the new version with that context and a hybrid clock stamp
// above every version it read (item-record.ts), so it supersedes them. Conditional writes are not
// linearizable: two writers that read the same version may both succeed, and the later stamp
// wins. Query reads one partition's key range from its preference list, Scan every range of the
// ring (replica-reads.ts); both page by Limit and 1 MB as DynamoDB does.
import type { NodeFrontDoor } from '../node/front-door.ts';
import { checkItemSize, itemToWire, type AttributeValue, type Item } from './attribute-value.ts';
import { checkBatchGet, checkBatchWrite, batchGetOutput, batchWriteOutput, type BatchGetItemOperation, type BatchWriteItemOperation, type WriteRequest } from './batch-requests.ts';
import { conditionalCheckFailed, DynamoError, isDynamoError } from './errors.ts';
import { applyUpdate, evaluateCondition } from './expression-eval.ts';
import {
  getItemOutput, oldItemOutput, updateItemOutput, type DeleteItemOperation, type GetItemOperation, type PutItemOperation, type UpdateItemOperation,
} from './item-requests.ts';
import { itemKey, justAfter, partitionRange, segmentItemsRange, tableItemsRange } from './item-keys.ts';
import { encodeStoredItem, HybridClock, ITEM_CONTENT_TYPE, resolveItem, type StoredItem } from './item-record.ts';
import type { DynamoOperation } from './operations.ts';
import { PageReader } from './paging.ts';
import { checkQuery, checkScan, readOutput, sortKeyConditionHolds, type QueryOperation, type ReadOutput, type ReadPageResult, type ScanOperation } from './query-requests.ts';
import { atLeast, everyRange, MERGED_PAGES_CONCURRENT_MAX, MERGED_PAGES_WAITING_MAX, readMergedPage, Slots, type Enough, type MergedPage } from './replica-reads.ts';
import { TableCatalog, type StoredTable } from './table-catalog.ts';
import {
  createTableOutput, deleteTableOutput, describeTableOutput, listTablesPage, schemaOfCreateTable, tableExistsMessage, tableNotFoundMessage,
} from './table-requests.ts';
import { checkItemKeys, checkKey, keyAttributes, keyNames, keyOf } from './table-schema.ts';

/** Bytes of items one BatchGetItem answers at most, as JSON (DynamoDB's 16 MB); the other keys come back in UnprocessedKeys. */
const BATCH_GET_BYTES_MAX = 16 * 1024 * 1024;
/** BatchGetItems answered at once on one node. */
const BATCH_GETS_CONCURRENT_MAX = 4;
/** Items one BatchWriteItem or BatchGetItem works on at once. */
const BATCH_CONCURRENCY = 8;
/** Characters of a new table's id (80 random bits; item-keys.ts TABLE_ID_PATTERN). */
const TABLE_ID_CHARS = 16;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export interface ExecutorDeps {
  readonly front: NodeFrontDoor;
  /** Wall clock (ms since the epoch) for stamps and creation times. */
  readonly nowMs: () => number;
  /** A clock that never goes back, for the table cache. */
  readonly monotonicMs: () => number;
  readonly randomBytes: (length: number) => Uint8Array;
  /** Told of a stored item version that does not decode (left out of reads; a write over the item supersedes it). */
  readonly onCorruptItem?: (storageKey: string, err: DynamoError) => void;
  /** Told when a deleted table's items could not all be deleted (they stay as unreachable garbage). */
  readonly onPurgeFailed?: (table: string, err: unknown) => void;
}

export class DynamoExecutor {
  private readonly front: NodeFrontDoor;
  private readonly tables: TableCatalog;
  private readonly clock: HybridClock;
  /** Merged range pages in flight on this node (memory: MERGED_PAGES_CONCURRENT_MAX). */
  private readonly pageSlots = new Slots(MERGED_PAGES_CONCURRENT_MAX, MERGED_PAGES_WAITING_MAX);
  /** BatchGetItems answered at once on this node (each holds up to 16 MB of items). */
  private readonly batchGetSlots = new Slots(BATCH_GETS_CONCURRENT_MAX, MERGED_PAGES_WAITING_MAX);
  /** Table purges run one after another, in the background. */
  private purges: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ExecutorDeps) {
    this.front = deps.front;
    this.tables = new TableCatalog(deps.front, deps.monotonicMs, deps.nowMs);
    this.clock = new HybridClock(deps.front.id, deps.nowMs);
  }

  /**
   * The operation's output, in DynamoDB's JSON shape; throws DynamoError. `cancelled` says the
   * client went away: Query, Scan and batches stop at their next page or item instead of doing
   * work nobody will read (writes already sent are not undone).
   */
  async execute(op: DynamoOperation, cancelled: () => boolean = () => false): Promise<unknown> {
    switch (op.kind) {
      case 'CreateTable': {
        const table: StoredTable = { ...schemaOfCreateTable(op, Math.floor(this.deps.nowMs())), id: this.newTableId() };
        await this.tables.create(table, tableExistsMessage(op.tableName));
        return createTableOutput(table);
      }
      case 'DescribeTable':
        return describeTableOutput(await this.tables.get(op.tableName, tableNotFoundMessage(op.tableName, 'table')));
      case 'DeleteTable': {
        const table = await this.tables.delete(op.tableName, tableNotFoundMessage(op.tableName, 'table'));
        // Answered DELETING at once, as DynamoDB; the items go in the background.
        this.purges = this.purges.then(() => this.purgeItems(table)).catch((err: unknown) => this.deps.onPurgeFailed?.(table.name, err));
        return deleteTableOutput(table);
      }
      case 'ListTables':
        return listTablesPage(await this.tables.names(this.timeoutMs()), op);
      case 'GetItem': return this.getItem(op);
      case 'PutItem': return this.putItem(op);
      case 'DeleteItem': return this.deleteItem(op);
      case 'UpdateItem': return this.updateItem(op);
      case 'Query': return this.query(op, cancelled);
      case 'Scan': return this.scan(op, cancelled);
      case 'BatchWriteItem': return this.batchWrite(op, cancelled);
      case 'BatchGetItem': return this.batchGet(op, cancelled);
    }
  }

  // ---- items ----

  private itemTable(name: string): Promise<StoredTable> {
    return this.tables.get(name, tableNotFoundMessage(name, 'item'));
  }

  private keyOfItem(table: StoredTable, key: Item): string {
    const [hash, range] = keyAttributes(table);
    return itemKey(table.id, key.get(hash!.name)!, range === undefined ? undefined : key.get(range.name)!);
  }

  /** The item's current version (with R replicas, or one when not `consistent`) and the context to write over it. */
  private async readItem(table: StoredTable, key: Item, consistent: boolean): Promise<{ readonly current: StoredItem | undefined; readonly context: string; readonly storageKey: string; readonly versions: number }> {
    const storageKey = this.keyOfItem(table, key);
    const { siblings, context } = await this.front.get(storageKey, consistent ? undefined : 1);
    const onCorrupt = (err: DynamoError) => this.deps.onCorruptItem?.(storageKey, err);
    const { current } = resolveItem(siblings, onCorrupt);
    // The winner has the greatest stamp read: observing it puts the next stamp above all of them.
    if (current !== undefined) this.clock.observe(current.stamp);
    return { current, context, storageKey, versions: siblings.length };
  }

  /** Writes `item` (or deletes, for undefined) over the versions a read returned with `context`. */
  private async writeItem(storageKey: string, item: Item | undefined, context: string, versions: number): Promise<void> {
    if (item === undefined) {
      // Nothing stored (or only tombstones already): nothing to delete.
      if (versions === 0) return;
      await this.front.delete({ key: storageKey, context });
      return;
    }
    const value = encodeStoredItem({ item, stamp: this.clock.next() });
    await this.front.put({ key: storageKey, value, contentType: ITEM_CONTENT_TYPE, context });
  }

  private async getItem(op: GetItemOperation): Promise<unknown> {
    const table = await this.itemTable(op.tableName);
    checkKey(table, op.key);
    const { current } = await this.readItem(table, op.key, op.consistentRead);
    return getItemOutput(op, current?.item);
  }

  private async putItem(op: PutItemOperation): Promise<unknown> {
    const table = await this.itemTable(op.tableName);
    checkItemKeys(table, op.item);
    checkItemSize(op.item);
    const read = await this.readItem(table, op.item, true);
    const old = read.current?.item;
    if (op.condition !== undefined && !evaluateCondition(op.condition, old)) throw failedCondition(op, old);
    await this.writeItem(read.storageKey, op.item, read.context, read.versions);
    return oldItemOutput(op, old);
  }

  private async deleteItem(op: DeleteItemOperation): Promise<unknown> {
    const table = await this.itemTable(op.tableName);
    checkKey(table, op.key);
    const read = await this.readItem(table, op.key, true);
    const old = read.current?.item;
    if (op.condition !== undefined && !evaluateCondition(op.condition, old)) throw failedCondition(op, old);
    if (old !== undefined) await this.writeItem(read.storageKey, undefined, read.context, read.versions);
    return oldItemOutput(op, old);
  }

  private async updateItem(op: UpdateItemOperation): Promise<unknown> {
    const table = await this.itemTable(op.tableName);
    checkKey(table, op.key);
    const read = await this.readItem(table, op.key, true);
    const old = read.current?.item;
    if (op.condition !== undefined && !evaluateCondition(op.condition, old)) throw failedCondition(op, old);
    const base = old ?? keyOf(table, op.key);
    const result = op.update === undefined
      ? { item: base, updatedOld: new Map<string, AttributeValue>(), updatedNew: new Map<string, AttributeValue>() }
      : applyUpdate(base, op.update, keyNames(table));
    await this.writeItem(read.storageKey, result.item, read.context, read.versions);
    return updateItemOutput(op, old, result);
  }

  // ---- Query and Scan ----

  private async query(op: QueryOperation, cancelled: () => boolean): Promise<ReadOutput> {
    const table = await this.itemTable(op.tableName);
    const { keyCondition } = checkQuery(table, op);
    const ring = this.ring();
    const sort = keyCondition.sort?.condition;
    const range = partitionRange(table.id, keyCondition.hashValue, table.rangeKey?.type, sort);
    const nodes = ring.preferenceList(range.start, this.front.config.n);
    const need = op.consistentRead ? Math.min(this.front.config.r, nodes.length) : 1;
    const reverse = !op.scanIndexForward;
    let start = range.start;
    let end = range.end;
    if (op.exclusiveStartKey !== undefined) {
      const after = this.keyOfItem(table, op.exclusiveStartKey);
      if (reverse) end = after < end ? after : end;
      else start = justAfter(after) > start ? justAfter(after) : start;
    }
    const accepts = (item: Item): boolean => {
      if (sort === undefined || table.rangeKey === undefined) return true;
      const value = item.get(table.rangeKey.name);
      return value !== undefined && sortKeyConditionHolds(sort, value);
    };
    return readOutput(op, await this.readPages(table, op, nodes, { start, end }, reverse, atLeast(need), accepts, cancelled));
  }

  private async scan(op: ScanOperation, cancelled: () => boolean): Promise<ReadOutput> {
    const table = await this.itemTable(op.tableName);
    checkScan(table, op);
    const ring = this.ring();
    const nodes = ring.nodes.map((node) => node.id);
    const need = op.consistentRead ? this.front.config.r : 1;
    // A segment is one key range of partition digests (item-keys.ts segmentItemsRange).
    const range = op.segment === undefined ? tableItemsRange(table.id) : segmentItemsRange(table.id, op.segment.segment, op.segment.totalSegments);
    const after = op.exclusiveStartKey === undefined ? undefined : justAfter(this.keyOfItem(table, op.exclusiveStartKey));
    const start = after !== undefined && after > range.start ? after : range.start;
    return readOutput(op, await this.readPages(table, op, nodes, { start, end: range.end }, false, everyRange(ring, this.front.config.n, need), () => true, cancelled));
  }

  /**
   * One Query or Scan page: merged replica pages in order until Limit items were evaluated, 1 MB
   * was read, or the range ended (then no LastEvaluatedKey). Items the key condition or segment
   * does not accept are skipped without counting, as DynamoDB never reads them.
   */
  private async readPages(
    table: StoredTable,
    op: QueryOperation | ScanOperation,
    nodes: readonly string[],
    first: { readonly start: string; readonly end: string },
    reverse: boolean,
    enough: Enough,
    accepts: (item: Item, storageKey: string) => boolean,
    cancelled: () => boolean,
  ): Promise<ReadPageResult> {
    const reader = new PageReader(table, { ...(op.limit === undefined ? {} : { limit: op.limit }), ...(op.filter === undefined ? {} : { filter: op.filter }) });
    let range: { readonly start: string; readonly end: string } | undefined = first;
    while (range !== undefined) {
      if (range.start >= range.end) break;
      const page = await this.mergedPage(nodes, range.start, range.end, reverse, enough, cancelled);
      for (const entry of page.entries) {
        const { current } = resolveItem(entry.siblings, (err) => this.deps.onCorruptItem?.(entry.key, err));
        if (current === undefined || !accepts(current.item, entry.key)) continue;
        const done = reader.offer(current.item);
        if (done !== undefined) return done;
      }
      range = page.rest;
    }
    return reader.finish();
  }

  // ---- batches ----

  /** Each table of a batch, looked up once (ResourceNotFoundException for any missing). */
  private async batchTables(names: readonly string[]): Promise<Map<string, StoredTable>> {
    const tables = new Map<string, StoredTable>();
    for (const name of names) tables.set(name, await this.itemTable(name));
    return tables;
  }

  private async batchWrite(op: BatchWriteItemOperation, cancelled: () => boolean): Promise<unknown> {
    const tables = await this.batchTables(op.tables.map((t) => t.tableName));
    checkBatchWrite((name) => tables.get(name), op);
    const jobs = op.tables.flatMap((t) => t.requests.map((request) => ({ table: tables.get(t.tableName)!, tableName: t.tableName, request })));
    const unprocessed = new Map<string, WriteRequest[]>();
    let failures = 0;
    let lastError: unknown;
    await forEachLimited(jobs, BATCH_CONCURRENCY, async ({ table, tableName, request }) => {
      if (cancelled()) throw gone();
      try {
        const key = request.kind === 'put' ? request.item : request.key;
        const read = await this.readItem(table, key, true);
        if (request.kind === 'put') {
          checkItemSize(request.item);
          await this.writeItem(read.storageKey, request.item, read.context, read.versions);
        } else if (read.current !== undefined) {
          await this.writeItem(read.storageKey, undefined, read.context, read.versions);
        }
      } catch (err) {
        if (isDynamoError(err) && err.status === 400) throw err;
        failures++;
        lastError = err;
        const list = unprocessed.get(tableName) ?? [];
        list.push(request);
        unprocessed.set(tableName, list);
      }
    });
    // DynamoDB fails the whole call only when nothing could be done.
    if (failures === jobs.length && jobs.length > 0) throw asServerError(lastError);
    return batchWriteOutput(unprocessed);
  }

  private async batchGet(op: BatchGetItemOperation, cancelled: () => boolean): Promise<unknown> {
    const release = await this.batchGetSlots.acquire();
    try {
      return await this.batchGetIn(op, cancelled);
    } finally {
      release();
    }
  }

  private async batchGetIn(op: BatchGetItemOperation, cancelled: () => boolean): Promise<unknown> {
    const tables = await this.batchTables(op.tables.map((t) => t.tableName));
    checkBatchGet((name) => tables.get(name), op);
    const found = new Map<string, Item[]>();
    const unprocessed = new Map<string, Item[]>();
    const jobs = op.tables.flatMap((t) => t.keys.map((key) => ({ t, key })));
    let failures = 0;
    let lastError: unknown;
    let bytes = 0;
    await forEachLimited(jobs, BATCH_CONCURRENCY, async ({ t, key }) => {
      if (cancelled()) throw gone();
      try {
        const { current } = await this.readItem(tables.get(t.tableName)!, key, t.consistentRead);
        if (current === undefined) return;
        // Counted as it will be answered (JSON), which can be several times its DynamoDB size.
        const size = Buffer.byteLength(JSON.stringify(itemToWire(current.item)));
        // As DynamoDB: past 16 MB of items, the rest of the keys come back unprocessed.
        if (bytes + size > BATCH_GET_BYTES_MAX) {
          const left = unprocessed.get(t.tableName) ?? [];
          left.push(key);
          unprocessed.set(t.tableName, left);
          return;
        }
        bytes += size;
        const list = found.get(t.tableName) ?? [];
        list.push(current.item);
        found.set(t.tableName, list);
      } catch (err) {
        if (isDynamoError(err) && err.status === 400) throw err;
        failures++;
        lastError = err;
        const list = unprocessed.get(t.tableName) ?? [];
        list.push(key);
        unprocessed.set(t.tableName, list);
      }
    });
    if (failures === jobs.length && jobs.length > 0) throw asServerError(lastError);
    return batchGetOutput(op, found, unprocessed);
  }

  // ---- deleted tables ----

  /**
   * Deletes every item of a deleted table (tombstones, purged later like any). Nothing reads a
   * deleted table's id again, so this only frees space; if this node stops first, the rest stays
   * as unreachable garbage (README: DynamoDB API, limits).
   */
  private async purgeItems(table: StoredTable): Promise<void> {
    const ring = this.ring();
    const nodes = ring.nodes.map((node) => node.id);
    let range: { readonly start: string; readonly end: string } | undefined = tableItemsRange(table.id);
    while (range !== undefined) {
      const page = await this.mergedPage(nodes, range.start, range.end, false, everyRange(ring, this.front.config.n, 1), () => false);
      await forEachLimited(page.entries.filter((e) => e.siblings.some((s) => s.value !== null)), BATCH_CONCURRENCY, async (entry) => {
        const { siblings, context } = await this.front.get(entry.key);
        if (siblings.some((s) => s.value !== null)) await this.front.delete({ key: entry.key, context });
      });
      range = page.rest;
    }
  }

  /** Resolves once every table purge started so far has ended (tests wait on it). */
  purgesSettled(): Promise<void> {
    return this.purges;
  }

  // ---- helpers ----

  /** One merged page, in one of this node's page slots, held until every replica asked has answered or failed. */
  private async mergedPage(nodes: readonly string[], start: string, end: string, reverse: boolean, enough: Enough, cancelled: () => boolean): Promise<MergedPage> {
    if (cancelled()) throw gone();
    const release = await this.pageSlots.acquire();
    if (cancelled()) {
      release();
      throw gone();
    }
    return readMergedPage(this.front, nodes, start, end, reverse, enough, this.timeoutMs(), release);
  }

  private ring() {
    const ring = this.front.ring();
    if (ring === undefined) throw new DynamoError('InternalServerError', 'this node has not learned the ring yet; retry');
    return ring;
  }

  private timeoutMs(): number {
    return this.front.config.requestTimeoutMs;
  }

  /** 16 characters of a-z, 2-7: each from one random byte's low 5 bits (256 is a multiple of 32: uniform). */
  private newTableId(): string {
    let id = '';
    for (const byte of this.deps.randomBytes(TABLE_ID_CHARS)) id += BASE32[byte & 31];
    return id;
  }

}

/** ConditionalCheckFailedException, with the item as it was when ReturnValuesOnConditionCheckFailure is ALL_OLD. */
function failedCondition(op: { readonly returnValuesOnConditionCheckFailure: string }, old: Item | undefined): DynamoError {
  return conditionalCheckFailed(op.returnValuesOnConditionCheckFailure === 'ALL_OLD' && old !== undefined ? itemToWire(old) : undefined);
}

/** The error a cancelled request stops with (its client is gone: nobody reads it). */
function gone(): DynamoError {
  return new DynamoError('InternalServerError', 'request cancelled: its client went away');
}

function asServerError(err: unknown): DynamoError {
  if (isDynamoError(err)) return err;
  return new DynamoError('InternalServerError', `the write could not reach its quorum: ${(err as Error)?.message ?? String(err)}`);
}

/** Runs `fn` over `items`, at most `limit` at once; rejects with the first rejection once all have settled. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  let failed = false;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
}
