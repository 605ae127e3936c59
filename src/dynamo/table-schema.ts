// A table as the DynamoDB API sees it: its name, key schema (a hash key and an optional range
// key, each S, N or B), creation time and status; the checks that need that schema (a Key or an
// item's key attributes: presence, types, emptiness, DynamoDB's key size limits); the key of an
// item; and DescribeTable's JSON shape. Pure: the schema is handed in; storing it is not ours.
import { Buffer } from 'node:buffer';
import { utf8Bytes, type AttributeValue, type Item, type ScalarType } from './attribute-value.ts';
import { validationError } from './errors.ts';
import type { KeySchema } from './expression-parser.ts';

/** Largest partition (hash) key value, in bytes (DynamoDB: 2048). */
export const HASH_KEY_BYTES_MAX = 2048;
/** Largest sort (range) key value, in bytes (DynamoDB: 1024). */
export const RANGE_KEY_BYTES_MAX = 1024;
/** The region and account in our ARNs: dynakv has neither, so fixed placeholders. */
export const ARN_REGION = 'dynakv';
export const ARN_ACCOUNT = '000000000000';
const MS_PER_SECOND = 1000;

export type TableStatus = 'CREATING' | 'ACTIVE' | 'DELETING';

export interface KeyAttribute {
  readonly name: string;
  readonly type: ScalarType;
}

export interface TableSchema {
  readonly name: string;
  readonly hashKey: KeyAttribute;
  readonly rangeKey?: KeyAttribute;
  /** When CreateTable was accepted, in epoch milliseconds (the executor's clock, not ours). */
  readonly createdAtMs: number;
  readonly status: TableStatus;
}

/** The schema's key attributes, hash first. */
export function keyAttributes(schema: TableSchema): readonly KeyAttribute[] {
  return schema.rangeKey === undefined ? [schema.hashKey] : [schema.hashKey, schema.rangeKey];
}

/** The names the expression parser and evaluator need (bindKeyCondition, applyUpdate). */
export function keySchemaOf(schema: TableSchema): KeySchema {
  return schema.rangeKey === undefined ? { hashName: schema.hashKey.name } : { hashName: schema.hashKey.name, rangeName: schema.rangeKey.name };
}

export function keyNames(schema: TableSchema): readonly string[] {
  return keyAttributes(schema).map((k) => k.name);
}

/** Bytes a key value counts against the key size limits: UTF-8 bytes, raw bytes, or the number's text. */
function keyValueBytes(v: AttributeValue): number {
  if (v.type === 'S') return utf8Bytes(v.value);
  if (v.type === 'B') return v.value.length;
  // DynamoDB numbers are at most 38 digits; any number key is far under both limits.
  if (v.type === 'N') return utf8Bytes(v.value);
  return 0;
}

/** Refuses an empty string or binary key value and one over the size limit for its role (hash or range). */
export function checkKeyValue(attribute: KeyAttribute, v: AttributeValue, isHash: boolean): void {
  if (v.type === 'S' && v.value.length === 0) {
    throw validationError(`One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${attribute.name}`);
  }
  if (v.type === 'B' && v.value.length === 0) {
    throw validationError(`One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: ${attribute.name}`);
  }
  const bytes = keyValueBytes(v);
  // Both messages are DynamoDB's, including the missing space in "limit of2048".
  if (isHash && bytes > HASH_KEY_BYTES_MAX) {
    throw validationError(`One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of${HASH_KEY_BYTES_MAX} bytes`);
  }
  if (!isHash && bytes > RANGE_KEY_BYTES_MAX) {
    throw validationError(`One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of ${RANGE_KEY_BYTES_MAX} bytes`);
  }
}

const KEY_MISMATCH = 'The provided key element does not match the schema';

/**
 * Checks a Key (GetItem, DeleteItem, UpdateItem, BatchGetItem, a DeleteRequest): exactly the
 * schema's key attributes, each of its declared type, non-empty and within the size limits.
 * `prefix` is prepended to the message (ExclusiveStartKey: "The provided starting key is invalid: ").
 */
export function checkKey(schema: TableSchema, key: Item, prefix = ''): void {
  const attributes = keyAttributes(schema);
  if (key.size !== attributes.length) throw validationError(prefix + KEY_MISMATCH);
  attributes.forEach((attribute, i) => {
    const v = key.get(attribute.name);
    if (v === undefined || v.type !== attribute.type) throw validationError(prefix + KEY_MISMATCH);
    checkKeyValue(attribute, v, i === 0);
  });
}

/** Checks an item's key attributes (PutItem, a PutRequest): present, of the declared type, non-empty, within the limits. */
export function checkItemKeys(schema: TableSchema, item: Item): void {
  keyAttributes(schema).forEach((attribute, i) => {
    const v = item.get(attribute.name);
    if (v === undefined) throw validationError(`One or more parameter values were invalid: Missing the key ${attribute.name} in the item`);
    if (v.type !== attribute.type) {
      throw validationError(`One or more parameter values were invalid: Type mismatch for key ${attribute.name} expected: ${attribute.type} actual: ${v.type}`);
    }
    checkKeyValue(attribute, v, i === 0);
  });
}

/** The key of an item (its key attributes only). The item must carry them: checkItemKeys first. */
export function keyOf(schema: TableSchema, item: Item): Item {
  const key = new Map<string, AttributeValue>();
  for (const { name } of keyAttributes(schema)) {
    const v = item.get(name);
    if (v !== undefined) key.set(name, v);
  }
  return key;
}

function scalarText(v: AttributeValue): string {
  if (v.type === 'B') return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64');
  if (v.type === 'S' || v.type === 'N') return v.value;
  return '';
}

/**
 * A string equal for two items exactly when their keys are equal (numbers are canonical text, so
 * 1 and 1.0 agree): for duplicate detection within one request. Not a storage encoding.
 */
export function keyFingerprint(schema: TableSchema, item: Item): string {
  return JSON.stringify(keyAttributes(schema).map(({ name }) => {
    const v = item.get(name);
    return v === undefined ? null : [v.type, scalarText(v)];
  }));
}

// ---- DescribeTable's shape ----

export interface KeySchemaElementJson {
  readonly AttributeName: string;
  readonly KeyType: 'HASH' | 'RANGE';
}

export interface AttributeDefinitionJson {
  readonly AttributeName: string;
  readonly AttributeType: ScalarType;
}

/** DynamoDB's TableDescription, the members dynakv fills (API reference, "TableDescription"). */
export interface TableDescriptionJson {
  readonly TableName: string;
  readonly TableArn: string;
  readonly TableStatus: TableStatus;
  /** Epoch seconds, fractional: the awsJson protocols send timestamps as numbers. */
  readonly CreationDateTime: number;
  readonly KeySchema: readonly KeySchemaElementJson[];
  readonly AttributeDefinitions: readonly AttributeDefinitionJson[];
  readonly ItemCount: number;
  readonly TableSizeBytes: number;
  readonly ProvisionedThroughput: {
    readonly NumberOfDecreasesToday: number;
    readonly ReadCapacityUnits: number;
    readonly WriteCapacityUnits: number;
  };
  readonly BillingModeSummary: {
    readonly BillingMode: 'PAY_PER_REQUEST';
    readonly LastUpdateToPayPerRequestDateTime: number;
  };
  readonly DeletionProtectionEnabled: boolean;
}

export function tableArn(name: string): string {
  return `arn:aws:dynamodb:${ARN_REGION}:${ARN_ACCOUNT}:table/${name}`;
}

/** Figures DynamoDB describes as "updated approximately every six hours"; the executor supplies what it has. */
export interface TableStats {
  readonly itemCount: number;
  readonly sizeBytes: number;
}

/**
 * DescribeTable's `Table` (also CreateTable's and DeleteTable's `TableDescription`). Every table
 * is on-demand: DynamoDB reports such a table's ProvisionedThroughput as zeros and its
 * BillingModeSummary as PAY_PER_REQUEST, so SDKs and tools that read either see a coherent table.
 */
export function tableDescription(schema: TableSchema, stats: TableStats = { itemCount: 0, sizeBytes: 0 }): TableDescriptionJson {
  const keys = keyAttributes(schema);
  const created = schema.createdAtMs / MS_PER_SECOND;
  return {
    TableName: schema.name,
    TableArn: tableArn(schema.name),
    TableStatus: schema.status,
    CreationDateTime: created,
    KeySchema: keys.map((k, i) => ({ AttributeName: k.name, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
    AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
    ItemCount: stats.itemCount,
    TableSizeBytes: stats.sizeBytes,
    ProvisionedThroughput: { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST', LastUpdateToPayPerRequestDateTime: created },
    DeletionProtectionEnabled: false,
  };
}
