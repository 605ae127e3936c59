// BatchWriteItem and BatchGetItem: parsed from request JSON into per-table lists of writes or
// keys with DynamoDB's bounds (25 writes, 100 keys, in total across tables) and refusals;
// checked against the tables' schemas once the executor has them (every key fits its table, no
// key twice in one table); and their outputs, UnprocessedItems / UnprocessedKeys included. Pure.
import { itemToWire, parseItem, type Item, type WireItem } from './attribute-value.ts';
import { DynamoError, validationError } from './errors.ts';
import { project } from './expression-eval.ts';
import type { DocumentPath } from './expression-parser.ts';
import type { JsonObject } from './protocol.ts';
import {
  asList, asMap, asStructure, Constraints, isTableName, member, optionalBoolean, optionalStructure, parseKeyMap, refuseLegacy, requestExpressions, returnConsumedCapacity, returnItemCollectionMetrics, TABLE_NAME_CHARS_MAX, TABLE_NAME_CHARS_MIN,
  TABLE_NAME_PATTERN_TEXT, type ReturnConsumedCapacity, type ReturnItemCollectionMetrics,
} from './request-shape.ts';
import { checkItemKeys, checkKey, keyFingerprint, type TableSchema } from './table-schema.ts';

/** Most write requests in one BatchWriteItem, across all its tables (DynamoDB: 25). */
export const BATCH_WRITE_REQUESTS_MAX = 25;
/** Most keys in one BatchGetItem, across all its tables (DynamoDB: 100). */
export const BATCH_GET_KEYS_MAX = 100;

const DUPLICATES = 'Provided list of item keys contains duplicates';
const TABLE_NAME_KEY_CONSTRAINT = `Map keys must satisfy constraint: [Member must have length less than or equal to ${TABLE_NAME_CHARS_MAX}, `
  + `Member must have length greater than or equal to ${TABLE_NAME_CHARS_MIN}, Member must satisfy regular expression pattern: ${TABLE_NAME_PATTERN_TEXT}]`;

export type WriteRequest =
  | { readonly kind: 'put'; readonly item: Item }
  | { readonly kind: 'delete'; readonly key: Item };

export interface TableWrites {
  readonly tableName: string;
  readonly requests: readonly WriteRequest[];
}

export interface BatchWriteItemOperation {
  readonly kind: 'BatchWriteItem';
  readonly tables: readonly TableWrites[];
  readonly returnConsumedCapacity: ReturnConsumedCapacity;
  readonly returnItemCollectionMetrics: ReturnItemCollectionMetrics;
}

export interface TableGets {
  readonly tableName: string;
  readonly keys: readonly Item[];
  readonly projection?: readonly DocumentPath[];
  readonly consistentRead: boolean;
  /** The request's own ProjectionExpression, ExpressionAttributeNames and ConsistentRead, echoed in UnprocessedKeys. */
  readonly echo: JsonObject;
}

export interface BatchGetItemOperation {
  readonly kind: 'BatchGetItem';
  readonly tables: readonly TableGets[];
  readonly returnConsumedCapacity: ReturnConsumedCapacity;
}

/**
 * Most tables in one BatchGetItem's RequestItems (DynamoDB's API reference: "Maximum number of
 * 100 items"); without a bound, each table's spec (a 4 KB projection) was parsed even when every
 * table had no keys: 200 such tables took 48 s.
 */
export const BATCH_GET_TABLES_MAX = 100;
/** Most tables in one BatchWriteItem's RequestItems (DynamoDB's API reference: 25). */
export const BATCH_WRITE_TABLES_MAX = 25;

/** RequestItems: required, a map of 1 to `max` entries whose keys are table names. */
function requestItems(body: JsonObject, constraints: Constraints, max: number): JsonObject | undefined {
  const raw = member(body, 'RequestItems');
  if (!constraints.notNull(raw, 'requestItems')) return undefined;
  const items = asMap(raw);
  constraints.lengthBetween(items, 1, max, 'requestItems');
  for (const name of Object.keys(items)) constraints.check(isTableName(name), name, 'requestItems', TABLE_NAME_KEY_CONSTRAINT);
  return items;
}

function parseWriteRequest(raw: unknown, path: string, constraints: Constraints): WriteRequest | undefined {
  const request = asStructure(raw);
  const put = optionalStructure(request, 'PutRequest');
  const del = optionalStructure(request, 'DeleteRequest');
  if ((put === undefined) === (del === undefined)) {
    throw validationError('Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest');
  }
  if (put !== undefined) {
    const item = member(put, 'Item');
    return constraints.notNull(item, `${path}.putRequest.item`) ? { kind: 'put', item: parseItem(item) } : undefined;
  }
  const key = member(del!, 'Key');
  return constraints.notNull(key, `${path}.deleteRequest.key`) ? { kind: 'delete', key: parseKeyMap(key) } : undefined;
}

export function parseBatchWriteItem(body: JsonObject): BatchWriteItemOperation {
  const constraints = new Constraints();
  const items = requestItems(body, constraints, BATCH_WRITE_TABLES_MAX);
  const rcc = returnConsumedCapacity(body, constraints);
  const ricm = returnItemCollectionMetrics(body, constraints);
  const lists = Object.keys(items ?? {}).map((name) => ({ name, list: asList(items![name]) }));
  for (const { name, list } of lists) {
    constraints.check(list.length >= 1 && list.length <= BATCH_WRITE_REQUESTS_MAX, list, `requestItems.${name}.member`,
      `Map value must satisfy constraint: [Member must have length less than or equal to ${BATCH_WRITE_REQUESTS_MAX}, Member must have length greater than or equal to 1]`);
  }
  constraints.throwIfAny();
  // The total is judged before any item is parsed, so a huge batch costs no parsing.
  const total = lists.reduce((n, { list }) => n + list.length, 0);
  if (total > BATCH_WRITE_REQUESTS_MAX) throw validationError('Too many items requested for the BatchWriteItem call');
  const tables = lists.map(({ name, list }) => ({
    tableName: name,
    requests: list.map((raw, i) => parseWriteRequest(raw, `requestItems.${name}.${i + 1}.member`, constraints)),
  }));
  constraints.throwIfAny();
  return {
    kind: 'BatchWriteItem',
    tables: tables.map((t) => ({ tableName: t.tableName, requests: t.requests as WriteRequest[] })),
    returnConsumedCapacity: rcc,
    returnItemCollectionMetrics: ricm,
  };
}

/** A table's Keys, checked for presence and count only: their constraint failures come before any spec is parsed. */
function checkTableKeys(name: string, raw: unknown, constraints: Constraints): void {
  const keysRaw = member(asStructure(raw), 'Keys');
  const path = `requestItems.${name}.member.keys`;
  if (!constraints.notNull(keysRaw, path)) return;
  constraints.lengthBetween(asList(keysRaw), 1, BATCH_GET_KEYS_MAX, path);
}

/** A table's spec, once checkTableKeys found no failure in any table. */
function parseTableGets(name: string, raw: unknown): TableGets {
  const spec = asStructure(raw);
  refuseLegacy(spec, ['AttributesToGet']);
  const keysList = asList(member(spec, 'Keys'));
  const consistentRead = optionalBoolean(spec, 'ConsistentRead') ?? false;
  const expressions = requestExpressions(spec, ['ProjectionExpression']);
  const echo: { [k: string]: unknown } = Object.create(null) as { [k: string]: unknown };
  for (const k of ['ProjectionExpression', 'ExpressionAttributeNames', 'ConsistentRead']) {
    const v = member(spec, k);
    if (v !== undefined) echo[k] = v;
  }
  return {
    tableName: name, keys: keysList.map(parseKeyMap), consistentRead, echo,
    ...(expressions.projection === undefined ? {} : { projection: expressions.projection }),
  };
}

function wholeMapFingerprint(key: Item): string {
  return JSON.stringify([...key.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, itemToWire(new Map([[k, v]]))[k]]));
}

export function parseBatchGetItem(body: JsonObject): BatchGetItemOperation {
  const constraints = new Constraints();
  const items = requestItems(body, constraints, BATCH_GET_TABLES_MAX);
  const rcc = returnConsumedCapacity(body, constraints);
  constraints.throwIfAny();
  const names = Object.keys(items!);
  // Judge the total before parsing any key: a hostile request costs one count.
  let total = 0;
  for (const name of names) {
    const spec = asStructure(items![name]);
    const keys = member(spec, 'Keys');
    if (Array.isArray(keys)) total += keys.length;
  }
  if (total > BATCH_GET_KEYS_MAX) throw validationError('Too many items requested for the BatchGetItem call');
  // Every table's Keys constraints are judged before any spec (keys, projection) is parsed.
  for (const name of names) checkTableKeys(name, items![name], constraints);
  constraints.throwIfAny();
  const tables = names.map((name) => parseTableGets(name, items![name]));
  for (const table of tables) {
    // A key is exactly the key attributes (checkKey refuses more), so equal maps are equal keys.
    const seen = new Set<string>();
    for (const key of table.keys) {
      const fingerprint = wholeMapFingerprint(key);
      if (seen.has(fingerprint)) throw validationError(DUPLICATES);
      seen.add(fingerprint);
    }
  }
  return { kind: 'BatchGetItem', tables, returnConsumedCapacity: rcc };
}

// ---- against the tables' schemas ----

/** How the executor looks a table up; undefined means the table does not exist. */
export type SchemaLookup = (tableName: string) => TableSchema | undefined;

function schemaOrThrow(lookup: SchemaLookup, name: string): TableSchema {
  const schema = lookup(name);
  if (schema === undefined) throw new DynamoError('ResourceNotFoundException', 'Requested resource not found');
  return schema;
}

/**
 * Checks a BatchWriteItem against its tables: each exists, each put item carries its table's key,
 * each delete key is exactly its table's key, and no key appears twice in one table.
 */
export function checkBatchWrite(lookup: SchemaLookup, op: BatchWriteItemOperation): void {
  for (const table of op.tables) {
    const schema = schemaOrThrow(lookup, table.tableName);
    const seen = new Set<string>();
    for (const request of table.requests) {
      if (request.kind === 'put') checkItemKeys(schema, request.item);
      else checkKey(schema, request.key);
      const fingerprint = keyFingerprint(schema, request.kind === 'put' ? request.item : request.key);
      if (seen.has(fingerprint)) throw validationError(DUPLICATES);
      seen.add(fingerprint);
    }
  }
}

/** Checks a BatchGetItem against its tables: each exists and each key is exactly its table's key. */
export function checkBatchGet(lookup: SchemaLookup, op: BatchGetItemOperation): void {
  for (const table of op.tables) {
    const schema = schemaOrThrow(lookup, table.tableName);
    for (const key of table.keys) checkKey(schema, key);
  }
}

// ---- outputs ----

type WireWriteRequest = { readonly PutRequest: { readonly Item: WireItem } } | { readonly DeleteRequest: { readonly Key: WireItem } };

export interface BatchWriteItemOutput {
  readonly UnprocessedItems: { readonly [table: string]: readonly WireWriteRequest[] };
}

/** BatchWriteItem's output: the writes not applied, by table (an empty map when all were). */
export function batchWriteOutput(unprocessed: ReadonlyMap<string, readonly WriteRequest[]>): BatchWriteItemOutput {
  const out: { [table: string]: WireWriteRequest[] } = Object.create(null) as { [table: string]: WireWriteRequest[] };
  for (const [table, requests] of unprocessed) {
    if (requests.length === 0) continue;
    out[table] = requests.map((r) => (r.kind === 'put' ? { PutRequest: { Item: itemToWire(r.item) } } : { DeleteRequest: { Key: itemToWire(r.key) } }));
  }
  return { UnprocessedItems: out };
}

export interface BatchGetItemOutput {
  readonly Responses: { readonly [table: string]: readonly WireItem[] };
  readonly UnprocessedKeys: { readonly [table: string]: JsonObject };
}

/**
 * BatchGetItem's output: per requested table the items found (projected as that table's request
 * asked; a table with none found has an empty list), and the keys not read with the table's
 * request parameters echoed, so a client can resend UnprocessedKeys as RequestItems.
 */
export function batchGetOutput(
  op: BatchGetItemOperation,
  found: ReadonlyMap<string, readonly Item[]>,
  unprocessed: ReadonlyMap<string, readonly Item[]> = new Map(),
): BatchGetItemOutput {
  const responses: { [table: string]: WireItem[] } = Object.create(null) as { [table: string]: WireItem[] };
  const unprocessedKeys: { [table: string]: JsonObject } = Object.create(null) as { [table: string]: JsonObject };
  for (const table of op.tables) {
    const items = found.get(table.tableName) ?? [];
    responses[table.tableName] = items.map((item) => itemToWire(table.projection === undefined ? item : project(item, table.projection)));
    const left = unprocessed.get(table.tableName) ?? [];
    if (left.length > 0) unprocessedKeys[table.tableName] = { ...table.echo, Keys: left.map(itemToWire) };
  }
  return { Responses: responses, UnprocessedKeys: unprocessedKeys };
}
