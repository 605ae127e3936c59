// Query and Scan: parsed from request JSON into typed operations (key condition, filter,
// projection, Select, Limit, ExclusiveStartKey, Scan's Segment/TotalSegments) with DynamoDB's
// rules; bound to the table's schema once the executor has it (checkQuery, checkScan); and
// their outputs. Paging (where a page ends, LastEvaluatedKey) is paging.ts's. Pure.
import { Buffer } from 'node:buffer';
import { itemToWire, type AttributeValue, type Item, type WireItem } from './attribute-value.ts';
import { validationError } from './errors.ts';
import { project } from './expression-eval.ts';
import {
  bindKeyCondition, compareScalars, type Condition, type DocumentPath, type KeyCondition, type KeyConditionPart, type SortKeyCondition,
} from './expression-parser.ts';
import type { JsonObject } from './protocol.ts';
import {
  Constraints, member, optionalBoolean, optionalInteger, optionalString, parseStartKey, refuseLegacy, requestExpressions, returnConsumedCapacity,
  tableName, type ReturnConsumedCapacity,
} from './request-shape.ts';
import { checkKey, checkKeyValue, keySchemaOf, type TableSchema } from './table-schema.ts';

/** Scan's TotalSegments: 1 to 1,000,000 (DynamoDB's API reference); Segment 0 to TotalSegments - 1. */
export const TOTAL_SEGMENTS_MAX = 1_000_000;

export const SELECTS = ['ALL_ATTRIBUTES', 'ALL_PROJECTED_ATTRIBUTES', 'SPECIFIC_ATTRIBUTES', 'COUNT'] as const;
/** ALL_PROJECTED_ATTRIBUTES needs an index, which dynakv has not; the parser refuses it. */
export type Select = 'ALL_ATTRIBUTES' | 'SPECIFIC_ATTRIBUTES' | 'COUNT';

interface ReadOptions {
  readonly tableName: string;
  readonly filter?: Condition;
  readonly projection?: readonly DocumentPath[];
  readonly select: Select;
  /** Items evaluated per page, before the filter; absent: only the 1 MB page bound applies. */
  readonly limit?: number;
  readonly exclusiveStartKey?: Item;
  readonly consistentRead: boolean;
  readonly returnConsumedCapacity: ReturnConsumedCapacity;
}

export interface QueryOperation extends ReadOptions {
  readonly kind: 'Query';
  /** Bound to the key schema by checkQuery. */
  readonly keyCondition: readonly KeyConditionPart[];
  readonly scanIndexForward: boolean;
}

export interface ScanSegment {
  readonly segment: number;
  readonly totalSegments: number;
}

export interface ScanOperation extends ReadOptions {
  readonly kind: 'Scan';
  readonly segment?: ScanSegment;
}

const SELECT_NAMES: { readonly [S in (typeof SELECTS)[number]]: string } = {
  ALL_ATTRIBUTES: 'ALL_ATTRIBUTES', ALL_PROJECTED_ATTRIBUTES: 'ALL_PROJECTED_ATTRIBUTES', SPECIFIC_ATTRIBUTES: 'SPECIFIC_ATTRIBUTES', COUNT: 'only the Count',
};

/** Select against ProjectionExpression, with DynamoDB's messages; absent Select follows the projection. */
function selectOf(raw: string | undefined, hasProjection: boolean): Select {
  if (raw === undefined) return hasProjection ? 'SPECIFIC_ATTRIBUTES' : 'ALL_ATTRIBUTES';
  const select = raw as (typeof SELECTS)[number];
  if (hasProjection && select !== 'SPECIFIC_ATTRIBUTES') {
    throw validationError(`Cannot specify the ProjectionExpression when choosing to get ${SELECT_NAMES[select]}`);
  }
  if (select === 'ALL_PROJECTED_ATTRIBUTES') throw validationError('ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName');
  if (select === 'SPECIFIC_ATTRIBUTES' && !hasProjection) {
    throw validationError('Select type SPECIFIC_ATTRIBUTES requires a ProjectionExpression');
  }
  return select;
}

type CommonReadOptions = Omit<ReadOptions, 'filter' | 'projection' | 'select'>;

/** The members Query and Scan share, read in one place; Select is judged later, against the projection. */
function readOptions(body: JsonObject, constraints: Constraints, legacy: readonly string[]): { readonly common: CommonReadOptions; readonly select: string | undefined } {
  const name = tableName(body, constraints);
  refuseLegacy(body, legacy);
  const indexName = optionalString(body, 'IndexName');
  if (indexName !== undefined) {
    // DynamoDB's answer for an index a table does not have; no dynakv table has one.
    throw validationError(`The table does not have the specified index: ${indexName}`);
  }
  const limit = optionalInteger(body, 'Limit');
  constraints.atLeast(limit, 1, 'limit');
  const select = optionalString(body, 'Select');
  constraints.enumValue(select, SELECTS, 'select');
  const consistentRead = optionalBoolean(body, 'ConsistentRead') ?? false;
  const rcc = returnConsumedCapacity(body, constraints);
  const common: CommonReadOptions = { tableName: name, consistentRead, returnConsumedCapacity: rcc, ...(limit === undefined ? {} : { limit }) };
  return { common, select };
}

export function parseQuery(body: JsonObject): QueryOperation {
  const constraints = new Constraints();
  const { common, select: selectRaw } = readOptions(body, constraints, ['KeyConditions', 'QueryFilter', 'AttributesToGet', 'ConditionalOperator']);
  const scanIndexForward = optionalBoolean(body, 'ScanIndexForward') ?? true;
  constraints.throwIfAny();
  const exclusiveStartKey = parseStartKey(body);
  if (member(body, 'KeyConditionExpression') === undefined) {
    throw validationError('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
  }
  const expressions = requestExpressions(body, ['KeyConditionExpression', 'FilterExpression', 'ProjectionExpression']);
  const select = selectOf(selectRaw, expressions.projection !== undefined);
  return {
    ...common, kind: 'Query', keyCondition: expressions.keyConditionParts!, scanIndexForward, select,
    ...(exclusiveStartKey === undefined ? {} : { exclusiveStartKey }),
    ...(expressions.filter === undefined ? {} : { filter: expressions.filter }),
    ...(expressions.projection === undefined ? {} : { projection: expressions.projection }),
  };
}

export function parseScan(body: JsonObject): ScanOperation {
  const constraints = new Constraints();
  const { common, select: selectRaw } = readOptions(body, constraints, ['ScanFilter', 'AttributesToGet', 'ConditionalOperator']);
  const segment = optionalInteger(body, 'Segment');
  const totalSegments = optionalInteger(body, 'TotalSegments');
  constraints.atLeast(segment, 0, 'segment');
  constraints.atMost(segment, TOTAL_SEGMENTS_MAX - 1, 'segment');
  constraints.atLeast(totalSegments, 1, 'totalSegments');
  constraints.atMost(totalSegments, TOTAL_SEGMENTS_MAX, 'totalSegments');
  constraints.throwIfAny();
  const exclusiveStartKey = parseStartKey(body);
  if (segment !== undefined && totalSegments === undefined) {
    throw validationError('The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
  }
  if (totalSegments !== undefined && segment === undefined) {
    throw validationError('The Segment parameter is required but was not present in the request when parameter TotalSegments is present');
  }
  if (segment !== undefined && totalSegments !== undefined && segment >= totalSegments) {
    throw validationError(`The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: ${segment} is not less than TotalSegments: ${totalSegments}`);
  }
  const expressions = requestExpressions(body, ['FilterExpression', 'ProjectionExpression']);
  const select = selectOf(selectRaw, expressions.projection !== undefined);
  return {
    ...common, kind: 'Scan', select,
    ...(segment === undefined || totalSegments === undefined ? {} : { segment: { segment, totalSegments } }),
    ...(exclusiveStartKey === undefined ? {} : { exclusiveStartKey }),
    ...(expressions.filter === undefined ? {} : { filter: expressions.filter }),
    ...(expressions.projection === undefined ? {} : { projection: expressions.projection }),
  };
}

// ---- against the table's schema ----

const START_KEY_INVALID = 'The provided starting key is invalid: ';
const TYPE_MISMATCH = 'One or more parameter values were invalid: Condition parameter type does not match schema type';

/** Whether a sort key value satisfies a sort key condition (values of the key's type). */
export function sortKeyConditionHolds(condition: SortKeyCondition, value: AttributeValue): boolean {
  switch (condition.kind) {
    case 'compare': {
      if (value.type !== condition.value.type) return false;
      const c = compareScalars(value, condition.value);
      switch (condition.op) {
        case '=': return c === 0;
        case '<': return c < 0;
        case '<=': return c <= 0;
        case '>': return c > 0;
        case '>=': return c >= 0;
      }
      return false;
    }
    case 'between':
      return value.type === condition.low.type && compareScalars(value, condition.low) >= 0 && compareScalars(value, condition.high) <= 0;
    case 'begins_with': {
      const prefix = condition.prefix;
      if (value.type === 'S' && prefix.type === 'S') return value.value.startsWith(prefix.value);
      if (value.type === 'B' && prefix.type === 'B') {
        return prefix.value.length <= value.value.length && Buffer.from(prefix.value).equals(value.value.subarray(0, prefix.value.length));
      }
      return false;
    }
  }
}

function sortConditionValues(c: SortKeyCondition): readonly AttributeValue[] {
  if (c.kind === 'compare') return [c.value];
  if (c.kind === 'between') return [c.low, c.high];
  return [c.prefix];
}

/** A Query bound to its table: the key condition against the key schema, values of the key types, the start key in range. */
export interface BoundQuery {
  readonly keyCondition: KeyCondition;
}

/**
 * Checks a Query against its table's schema, as DynamoDB does once it knows the table: the key
 * condition names the hash key (=) and at most the range key; its values have the key types;
 * ExclusiveStartKey is a full key of this table, in the queried partition, satisfying the sort
 * condition.
 */
export function checkQuery(schema: TableSchema, op: QueryOperation): BoundQuery {
  const keyCondition = bindKeyCondition(op.keyCondition, keySchemaOf(schema));
  if (keyCondition.hashValue.type !== schema.hashKey.type) throw validationError(TYPE_MISMATCH);
  checkKeyValue(schema.hashKey, keyCondition.hashValue, true);
  if (keyCondition.sort !== undefined && schema.rangeKey !== undefined) {
    const { condition } = keyCondition.sort;
    for (const v of sortConditionValues(condition)) if (v.type !== schema.rangeKey.type) throw validationError(TYPE_MISMATCH);
    if (condition.kind === 'begins_with' && schema.rangeKey.type === 'N') {
      throw validationError('Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N');
    }
    // As a stored sort key value: non-empty and within 1,024 bytes. Unchecked, an empty or
    // oversized value reached key-codec, whose KeyCodecError is not a DynamoError.
    for (const v of sortConditionValues(condition)) checkKeyValue(schema.rangeKey, v, false);
  }
  if (op.exclusiveStartKey !== undefined) {
    const start = op.exclusiveStartKey;
    checkKey(schema, start, START_KEY_INVALID);
    const startHash = start.get(schema.hashKey.name)!;
    if (compareScalars(startHash, keyCondition.hashValue) !== 0) {
      throw validationError(`${START_KEY_INVALID}The partition key of ExclusiveStartKey differs from the one KeyConditionExpression names`);
    }
    if (keyCondition.sort !== undefined && schema.rangeKey !== undefined) {
      const startSort = start.get(schema.rangeKey.name)!;
      if (!sortKeyConditionHolds(keyCondition.sort.condition, startSort)) throw validationError('The provided starting key does not match the range key predicate');
    }
  }
  return { keyCondition };
}

/** Checks a Scan against its table's schema: ExclusiveStartKey, if any, is a full key of the table. */
export function checkScan(schema: TableSchema, op: ScanOperation): void {
  if (op.exclusiveStartKey !== undefined) checkKey(schema, op.exclusiveStartKey, START_KEY_INVALID);
}

// ---- outputs ----

/** What the executor read for one Query or Scan page (paging.ts's readPage gives exactly this). */
export interface ReadPageResult {
  /** Items that passed the filter, in the order read, unprojected. */
  readonly matched: readonly Item[];
  /** Items evaluated (read) before the filter: DynamoDB's ScannedCount. */
  readonly scannedCount: number;
  readonly lastEvaluatedKey?: Item;
}

export interface ReadOutput {
  readonly Items?: readonly WireItem[];
  readonly Count: number;
  readonly ScannedCount: number;
  readonly LastEvaluatedKey?: WireItem;
}

/** Query's and Scan's output: Items (projected) unless Select is COUNT, Count, ScannedCount, LastEvaluatedKey. */
export function readOutput(op: QueryOperation | ScanOperation, page: ReadPageResult): ReadOutput {
  const base = { Count: page.matched.length, ScannedCount: page.scannedCount };
  const withItems = op.select === 'COUNT'
    ? base
    : { Items: page.matched.map((item) => itemToWire(op.projection === undefined ? item : project(item, op.projection))), ...base };
  return page.lastEvaluatedKey === undefined ? withItems : { ...withItems, LastEvaluatedKey: itemToWire(page.lastEvaluatedKey) };
}
