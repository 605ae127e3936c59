// The table operations: CreateTable, DescribeTable, DeleteTable and ListTables, parsed from their
// request JSON into typed operations with DynamoDB's checks and messages, and their outputs built
// from typed results. dynakv tables have a hash key, an optional range key, and nothing else:
// indexes, streams, encryption settings and the like are refused by name, never silently dropped.
import { validationError } from './errors.ts';
import type { JsonObject } from './protocol.ts';
import {
  asStructure, Constraints, isJsonObject, member, optionalInteger, optionalList, optionalLong, optionalString, optionalStructure, tableName,
  TABLE_NAME_CHARS_MAX, TABLE_NAME_CHARS_MIN,
} from './request-shape.ts';
import { tableDescription, type KeyAttribute, type TableDescriptionJson, type TableSchema, type TableStats } from './table-schema.ts';
import type { ScalarType } from './attribute-value.ts';

/** ListTables' Limit: 1 to 100, 100 when absent (DynamoDB's API reference). */
export const LIST_TABLES_LIMIT_MAX = 100;
/** Largest provisioned capacity DynamoDB's validation accepts before "out of bounds" (we ignore the value). */
export const CAPACITY_UNITS_MAX = 1_000_000_000_000;
/** Longest key attribute name, in characters (DynamoDB: 255 for key attributes). */
export const KEY_ATTRIBUTE_NAME_CHARS_MAX = 255;

const SCALAR_TYPES: readonly ScalarType[] = ['B', 'N', 'S'];
const KEY_TYPES = ['HASH', 'RANGE'] as const;
const BILLING_MODES = ['PROVISIONED', 'PAY_PER_REQUEST'] as const;
const ONE_OR_MORE = 'One or more parameter values were invalid:';

export interface CreateTableOperation {
  readonly kind: 'CreateTable';
  readonly tableName: string;
  readonly hashKey: KeyAttribute;
  readonly rangeKey?: KeyAttribute;
}

export interface DescribeTableOperation {
  readonly kind: 'DescribeTable';
  readonly tableName: string;
}

export interface DeleteTableOperation {
  readonly kind: 'DeleteTable';
  readonly tableName: string;
}

export interface ListTablesOperation {
  readonly kind: 'ListTables';
  readonly exclusiveStartTableName?: string;
  readonly limit: number;
}

/**
 * Members of CreateTable dynakv does not implement, each with what makes it a request for
 * something (so the default-equivalent forms, e.g. StreamEnabled false, still pass).
 */
const UNSUPPORTED_CREATE_MEMBERS: readonly { readonly name: string; readonly requests: (x: unknown) => boolean; readonly why: string }[] = [
  { name: 'GlobalSecondaryIndexes', requests: () => true, why: 'dynakv tables have no secondary indexes' },
  { name: 'LocalSecondaryIndexes', requests: () => true, why: 'dynakv tables have no secondary indexes' },
  { name: 'StreamSpecification', requests: (x) => !isJsonObject(x) || x['StreamEnabled'] !== false, why: 'dynakv has no DynamoDB Streams' },
  { name: 'SSESpecification', requests: (x) => !isJsonObject(x) || x['Enabled'] !== false, why: 'dynakv does not manage encryption keys; secure the nodes\' disks instead' },
  { name: 'Tags', requests: (x) => !Array.isArray(x) || x.length > 0, why: 'dynakv has no resource tags' },
  { name: 'TableClass', requests: (x) => x !== 'STANDARD', why: 'dynakv has one storage class, STANDARD' },
  { name: 'DeletionProtectionEnabled', requests: (x) => x !== false, why: 'dynakv has no deletion protection' },
  { name: 'ResourcePolicy', requests: () => true, why: 'dynakv has no resource policies' },
  { name: 'OnDemandThroughput', requests: () => true, why: 'dynakv does not cap on-demand throughput' },
  { name: 'WarmThroughput', requests: () => true, why: 'dynakv has no warm throughput' },
];

interface KeySchemaElement {
  readonly name: string | undefined;
  readonly keyType: string | undefined;
}

function readProvisionedThroughput(obj: JsonObject, constraints: Constraints): { read?: number; write?: number } | undefined {
  const pt = optionalStructure(obj, 'ProvisionedThroughput');
  if (pt === undefined) return undefined;
  const read = optionalLong(pt, 'ReadCapacityUnits');
  const write = optionalLong(pt, 'WriteCapacityUnits');
  if (constraints.notNull(write, 'provisionedThroughput.writeCapacityUnits')) constraints.atLeast(write, 1, 'provisionedThroughput.writeCapacityUnits');
  if (constraints.notNull(read, 'provisionedThroughput.readCapacityUnits')) constraints.atLeast(read, 1, 'provisionedThroughput.readCapacityUnits');
  const out: { read?: number; write?: number } = {};
  if (read !== undefined) out.read = read;
  if (write !== undefined) out.write = write;
  return out;
}

/**
 * Parses CreateTable. BillingMode and ProvisionedThroughput are validated as DynamoDB validates
 * them (PROVISIONED, the default, needs both capacities; PAY_PER_REQUEST forbids them) and then
 * ignored: every dynakv table behaves as on-demand.
 */
export function parseCreateTable(body: JsonObject): CreateTableOperation {
  const constraints = new Constraints();
  const name = tableName(body, constraints);
  for (const unsupported of UNSUPPORTED_CREATE_MEMBERS) {
    const x = member(body, unsupported.name);
    if (x !== undefined && unsupported.requests(x)) throw validationError(`${unsupported.name} is not supported by dynakv: ${unsupported.why}`);
  }

  const definitionsRaw = optionalList(body, 'AttributeDefinitions');
  constraints.notNull(definitionsRaw, 'attributeDefinitions');
  const definitions = (definitionsRaw ?? []).map((raw, i) => {
    const d = asStructure(raw);
    const attributeName = optionalString(d, 'AttributeName');
    const attributeType = optionalString(d, 'AttributeType');
    const path = `attributeDefinitions.${i + 1}.member`;
    constraints.notNull(attributeName, `${path}.attributeName`);
    if (constraints.notNull(attributeType, `${path}.attributeType`)) constraints.enumValue(attributeType, SCALAR_TYPES, `${path}.attributeType`);
    return { name: attributeName, type: attributeType };
  });

  const keySchemaRaw = optionalList(body, 'KeySchema');
  if (constraints.notNull(keySchemaRaw, 'keySchema')) constraints.lengthBetween(keySchemaRaw, 1, 2, 'keySchema');
  const keySchema: KeySchemaElement[] = (keySchemaRaw ?? []).map((raw, i) => {
    const k = asStructure(raw);
    const attributeName = optionalString(k, 'AttributeName');
    const keyType = optionalString(k, 'KeyType');
    const path = `keySchema.${i + 1}.member`;
    if (constraints.notNull(attributeName, `${path}.attributeName`)) {
      constraints.lengthBetween(attributeName, 1, KEY_ATTRIBUTE_NAME_CHARS_MAX, `${path}.attributeName`);
    }
    if (constraints.notNull(keyType, `${path}.keyType`)) constraints.enumValue(keyType, KEY_TYPES, `${path}.keyType`);
    return { name: attributeName, keyType };
  });

  const billingMode = optionalString(body, 'BillingMode');
  constraints.enumValue(billingMode, BILLING_MODES, 'billingMode');
  const throughput = readProvisionedThroughput(body, constraints);
  constraints.throwIfAny();

  if ((billingMode ?? 'PROVISIONED') === 'PROVISIONED') {
    if (throughput === undefined) {
      throw validationError(`${ONE_OR_MORE} ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED`);
    }
    for (const [label, value] of [['ReadCapacityUnits', throughput.read], ['WriteCapacityUnits', throughput.write]] as const) {
      if (value !== undefined && value > CAPACITY_UNITS_MAX) throw validationError(`Given value ${value} for ${label} is out of bounds`);
    }
  } else if (throughput !== undefined) {
    throw validationError(`${ONE_OR_MORE} Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST`);
  }

  // From here every element has its members (constraints passed); the checks and messages are
  // DynamoDB's, in its order.
  const defined = new Map<string, ScalarType>();
  for (const d of definitions) {
    if (defined.has(d.name!)) throw validationError(`${ONE_OR_MORE} Duplicate AttributeName in AttributeDefinitions: ${d.name}`);
    defined.set(d.name!, d.type as ScalarType);
  }
  const keys = keySchema.map((k) => k.name!);
  if (keys.length === 2 && (keys.some((k) => !defined.has(k)) || (keys[0] === keys[1] && defined.size === 1))) {
    throw validationError('Invalid KeySchema: Some index key attribute have no definition');
  }
  if (keys.length === 1 && !defined.has(keys[0]!)) {
    throw validationError(`${ONE_OR_MORE} Some index key attributes are not defined in AttributeDefinitions. Keys: [${keys.join(', ')}], AttributeDefinitions: [${[...defined.keys()].join(', ')}]`);
  }
  if (keys.length === 2 && keys[0] === keys[1]) throw validationError('Both the Hash Key and the Range Key element in the KeySchema have the same name');
  if (keySchema[0]!.keyType !== 'HASH') throw validationError('Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
  if (keySchema.length === 2 && keySchema[1]!.keyType !== 'RANGE') throw validationError('Invalid KeySchema: The second KeySchemaElement is not a RANGE key type');
  if (keys.length !== defined.size) {
    throw validationError(`${ONE_OR_MORE} Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions`);
  }
  const hashKey: KeyAttribute = { name: keys[0]!, type: defined.get(keys[0]!)! };
  if (keys.length === 1) return { kind: 'CreateTable', tableName: name, hashKey };
  return { kind: 'CreateTable', tableName: name, hashKey, rangeKey: { name: keys[1]!, type: defined.get(keys[1]!)! } };
}

/** The schema a CreateTable makes, stamped with the executor's clock and the status it starts in. */
export function schemaOfCreateTable(op: CreateTableOperation, createdAtMs: number, status: TableSchema['status'] = 'ACTIVE'): TableSchema {
  const base = { name: op.tableName, hashKey: op.hashKey, createdAtMs, status };
  return op.rangeKey === undefined ? base : { ...base, rangeKey: op.rangeKey };
}

export function parseDescribeTable(body: JsonObject): DescribeTableOperation {
  const constraints = new Constraints();
  const name = tableName(body, constraints);
  constraints.throwIfAny();
  return { kind: 'DescribeTable', tableName: name };
}

export function parseDeleteTable(body: JsonObject): DeleteTableOperation {
  const constraints = new Constraints();
  const name = tableName(body, constraints);
  constraints.throwIfAny();
  return { kind: 'DeleteTable', tableName: name };
}

export function parseListTables(body: JsonObject): ListTablesOperation {
  const constraints = new Constraints();
  const start = optionalString(body, 'ExclusiveStartTableName');
  const limit = optionalInteger(body, 'Limit');
  constraints.atLeast(limit, 1, 'limit');
  constraints.atMost(limit, LIST_TABLES_LIMIT_MAX, 'limit');
  constraints.tableNamePattern(start, 'exclusiveStartTableName');
  constraints.lengthBetween(start, TABLE_NAME_CHARS_MIN, TABLE_NAME_CHARS_MAX, 'exclusiveStartTableName');
  constraints.throwIfAny();
  const op: { kind: 'ListTables'; limit: number; exclusiveStartTableName?: string } = { kind: 'ListTables', limit: limit ?? LIST_TABLES_LIMIT_MAX };
  if (start !== undefined) op.exclusiveStartTableName = start;
  return op;
}

// ---- outputs ----

export interface ListTablesOutput {
  readonly TableNames: readonly string[];
  readonly LastEvaluatedTableName?: string;
}

/**
 * One page of ListTables over all table names: ascending, strictly after ExclusiveStartTableName,
 * at most Limit names, with LastEvaluatedTableName when more remain (as DynamoDB pages).
 */
export function listTablesPage(allNames: Iterable<string>, op: ListTablesOperation): ListTablesOutput {
  const sorted = [...allNames].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const start = op.exclusiveStartTableName;
  const after = start === undefined ? sorted : sorted.filter((n) => n > start);
  const page = after.slice(0, op.limit);
  return after.length > op.limit ? { TableNames: page, LastEvaluatedTableName: page[page.length - 1]! } : { TableNames: page };
}

export function createTableOutput(schema: TableSchema): { readonly TableDescription: TableDescriptionJson } {
  return { TableDescription: tableDescription(schema) };
}

export function describeTableOutput(schema: TableSchema, stats?: TableStats): { readonly Table: TableDescriptionJson } {
  return { Table: tableDescription(schema, stats) };
}

/** DeleteTable answers with the table's description, its status DELETING. */
export function deleteTableOutput(schema: TableSchema, stats?: TableStats): { readonly TableDescription: TableDescriptionJson } {
  return { TableDescription: tableDescription({ ...schema, status: 'DELETING' }, stats) };
}

/**
 * The ResourceNotFoundException message DynamoDB gives for a missing table: the table operations
 * name it; the item operations say only "Requested resource not found".
 */
export function tableNotFoundMessage(name: string, operation: 'table' | 'item'): string {
  return operation === 'table' ? `Requested resource not found: Table: ${name} not found` : 'Requested resource not found';
}

/** The ResourceInUseException message DynamoDB gives when CreateTable names an existing table. */
export function tableExistsMessage(name: string): string {
  return `Table already exists: ${name}`;
}
