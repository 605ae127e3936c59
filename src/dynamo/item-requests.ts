// The single-item operations: PutItem, GetItem, DeleteItem and UpdateItem, parsed from request
// JSON into typed operations (item or key, parsed expressions, which ReturnValues each allows)
// and their outputs built from what the executor read and wrote. Checks that need the table's
// key schema are table-schema.ts's (checkKey, checkItemKeys); the executor calls them.
import { itemToWire, type Item, type WireItem } from './attribute-value.ts';
import { validationError } from './errors.ts';
import { project, type UpdateResult } from './expression-eval.ts';
import type { Condition, DocumentPath, ParsedUpdate } from './expression-parser.ts';
import type { JsonObject } from './protocol.ts';
import {
  Constraints, member, optionalBoolean, optionalString, parseItemMember, parseKeyMap, refuseLegacy, requestExpressions, returnConsumedCapacity,
  returnItemCollectionMetrics, tableName, type ReturnConsumedCapacity, type ReturnItemCollectionMetrics,
} from './request-shape.ts';

/** Every ReturnValues DynamoDB knows, in the order its enum message lists them. */
export const RETURN_VALUES = ['ALL_NEW', 'UPDATED_OLD', 'ALL_OLD', 'NONE', 'UPDATED_NEW'] as const;
export type ReturnValues = (typeof RETURN_VALUES)[number];
/** PutItem and DeleteItem allow only these (the item before; nothing). */
export type OldOnlyReturnValues = 'NONE' | 'ALL_OLD';
const ON_CONDITION_CHECK_FAILURE = ['ALL_OLD', 'NONE'] as const;
export type ReturnValuesOnConditionCheckFailure = (typeof ON_CONDITION_CHECK_FAILURE)[number];

interface WriteOptions {
  readonly returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure;
  readonly returnConsumedCapacity: ReturnConsumedCapacity;
  readonly returnItemCollectionMetrics: ReturnItemCollectionMetrics;
}

export interface PutItemOperation extends WriteOptions {
  readonly kind: 'PutItem';
  readonly tableName: string;
  readonly item: Item;
  readonly condition?: Condition;
  readonly returnValues: OldOnlyReturnValues;
}

export interface GetItemOperation {
  readonly kind: 'GetItem';
  readonly tableName: string;
  readonly key: Item;
  readonly projection?: readonly DocumentPath[];
  readonly consistentRead: boolean;
  readonly returnConsumedCapacity: ReturnConsumedCapacity;
}

export interface DeleteItemOperation extends WriteOptions {
  readonly kind: 'DeleteItem';
  readonly tableName: string;
  readonly key: Item;
  readonly condition?: Condition;
  readonly returnValues: OldOnlyReturnValues;
}

export interface UpdateItemOperation extends WriteOptions {
  readonly kind: 'UpdateItem';
  readonly tableName: string;
  readonly key: Item;
  /** Absent: UpdateItem with only a Key, which creates the item with just its key if it is missing. */
  readonly update?: ParsedUpdate;
  readonly condition?: Condition;
  readonly returnValues: ReturnValues;
}

function returnValues(body: JsonObject, constraints: Constraints): ReturnValues {
  const value = optionalString(body, 'ReturnValues');
  constraints.enumValue(value, RETURN_VALUES, 'returnValues');
  return (value ?? 'NONE') as ReturnValues;
}

function oldOnly(value: ReturnValues): OldOnlyReturnValues {
  if (value !== 'NONE' && value !== 'ALL_OLD') throw validationError('ReturnValues can only be ALL_OLD or NONE');
  return value;
}

function writeOptions(body: JsonObject, constraints: Constraints): WriteOptions {
  const onFailure = optionalString(body, 'ReturnValuesOnConditionCheckFailure');
  constraints.enumValue(onFailure, ON_CONDITION_CHECK_FAILURE, 'returnValuesOnConditionCheckFailure');
  return {
    returnValuesOnConditionCheckFailure: (onFailure ?? 'NONE') as ReturnValuesOnConditionCheckFailure,
    returnConsumedCapacity: returnConsumedCapacity(body, constraints),
    returnItemCollectionMetrics: returnItemCollectionMetrics(body, constraints),
  };
}

/** The Key member: required; a map of attribute values. Its fit to the schema is checkKey's. */
function keyMember(body: JsonObject, constraints: Constraints): Item | undefined {
  const raw = member(body, 'Key');
  return constraints.notNull(raw, 'key') ? parseKeyMap(raw) : undefined;
}

export function parsePutItem(body: JsonObject): PutItemOperation {
  const constraints = new Constraints();
  const name = tableName(body, constraints);
  refuseLegacy(body, ['Expected', 'ConditionalOperator']);
  const item = parseItemMember(body, 'Item', constraints);
  const returns = returnValues(body, constraints);
  const options = writeOptions(body, constraints);
  constraints.throwIfAny();
  const expressions = requestExpressions(body, ['ConditionExpression']);
  return {
    kind: 'PutItem', tableName: name, item: item!, returnValues: oldOnly(returns), ...options,
    ...(expressions.condition === undefined ? {} : { condition: expressions.condition }),
  };
}

export function parseGetItem(body: JsonObject): GetItemOperation {
  const constraints = new Constraints();
  const name = tableName(body, constraints);
  refuseLegacy(body, ['AttributesToGet']);
  const key = keyMember(body, constraints);
  const consistentRead = optionalBoolean(body, 'ConsistentRead') ?? false;
  const rcc = returnConsumedCapacity(body, constraints);
  constraints.throwIfAny();
  const expressions = requestExpressions(body, ['ProjectionExpression']);
  return {
    kind: 'GetItem', tableName: name, key: key!, consistentRead, returnConsumedCapacity: rcc,
    ...(expressions.projection === undefined ? {} : { projection: expressions.projection }),
  };
}

export function parseDeleteItem(body: JsonObject): DeleteItemOperation {
  const constraints = new Constraints();
  const name = tableName(body, constraints);
  refuseLegacy(body, ['Expected', 'ConditionalOperator']);
  const key = keyMember(body, constraints);
  const returns = returnValues(body, constraints);
  const options = writeOptions(body, constraints);
  constraints.throwIfAny();
  const expressions = requestExpressions(body, ['ConditionExpression']);
  return {
    kind: 'DeleteItem', tableName: name, key: key!, returnValues: oldOnly(returns), ...options,
    ...(expressions.condition === undefined ? {} : { condition: expressions.condition }),
  };
}

export function parseUpdateItem(body: JsonObject): UpdateItemOperation {
  const constraints = new Constraints();
  const name = tableName(body, constraints);
  refuseLegacy(body, ['AttributeUpdates', 'Expected', 'ConditionalOperator']);
  const key = keyMember(body, constraints);
  const returns = returnValues(body, constraints);
  const options = writeOptions(body, constraints);
  constraints.throwIfAny();
  const expressions = requestExpressions(body, ['UpdateExpression', 'ConditionExpression']);
  return {
    kind: 'UpdateItem', tableName: name, key: key!, returnValues: returns, ...options,
    ...(expressions.update === undefined ? {} : { update: expressions.update }),
    ...(expressions.condition === undefined ? {} : { condition: expressions.condition }),
  };
}

// ---- outputs ----

export interface ItemOutput {
  readonly Item?: WireItem;
}

export interface AttributesOutput {
  readonly Attributes?: WireItem;
}

/** GetItem's output: the item (projected if the request asked), or no Item member when there is none. */
export function getItemOutput(op: GetItemOperation, item: Item | undefined): ItemOutput {
  if (item === undefined) return {};
  return { Item: itemToWire(op.projection === undefined ? item : project(item, op.projection)) };
}

/** PutItem's and DeleteItem's output: the item as it was, if ALL_OLD was asked and there was one. */
export function oldItemOutput(op: PutItemOperation | DeleteItemOperation, old: Item | undefined): AttributesOutput {
  return op.returnValues === 'ALL_OLD' && old !== undefined ? { Attributes: itemToWire(old) } : {};
}

/**
 * UpdateItem's output for its ReturnValues: ALL_OLD the item before (if it existed), ALL_NEW the
 * item after, UPDATED_OLD / UPDATED_NEW the updated paths before / after (applyUpdate computes
 * both). An empty result is left out, as DynamoDB leaves it out.
 */
export function updateItemOutput(op: UpdateItemOperation, old: Item | undefined, result: UpdateResult): AttributesOutput {
  let attributes: Item | undefined;
  switch (op.returnValues) {
    case 'NONE': attributes = undefined; break;
    case 'ALL_OLD': attributes = old; break;
    case 'ALL_NEW': attributes = result.item; break;
    case 'UPDATED_OLD': attributes = result.updatedOld; break;
    case 'UPDATED_NEW': attributes = result.updatedNew; break;
  }
  return attributes === undefined || attributes.size === 0 ? {} : { Attributes: itemToWire(attributes) };
}
