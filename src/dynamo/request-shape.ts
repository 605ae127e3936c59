// Reading the members of a parsed request body the way DynamoDB's request deserialiser (Coral)
// does: a member of the wrong JSON type is a SerializationException, a null member is absent,
// unknown members are ignored; then declared constraints (not null, lengths, ranges, enums,
// patterns) are collected and reported together as one "N validation errors detected" message.
// Pure. Only own properties are read, so `__proto__` or `constructor` in a body is plain data.
import { checkAttributeName, parseAttributeValue, parseItem, type AttributeValue, type Item } from './attribute-value.ts';
import { DynamoError, serializationError, validationError } from './errors.ts';
import { parseRequestExpressions, type RequestExpressions, type RequestExpressionTexts } from './expression-parser.ts';
import type { JsonObject } from './protocol.ts';

/** Most constraint failures one message lists; DynamoDB stops at 10 (dynalite's recordings). */
export const CONSTRAINT_FAILURES_MAX = 10;
/** Table names: 3 to 255 characters of [a-zA-Z0-9_.-] (DynamoDB's naming rules). */
export const TABLE_NAME_CHARS_MIN = 3;
export const TABLE_NAME_CHARS_MAX = 255;
export const TABLE_NAME_PATTERN_TEXT = '[a-zA-Z0-9_.-]+';
const TABLE_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
/** Java's Integer range, which Coral's Integer members hold. */
const INTEGER_MIN = -(2 ** 31);
const INTEGER_MAX = 2 ** 31 - 1;

export function isJsonObject(x: unknown): x is JsonObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** An own member of `obj`, or undefined if absent or null (Coral drops null members). */
export function member(obj: JsonObject, name: string): unknown {
  if (!Object.hasOwn(obj, name)) return undefined;
  const value = obj[name];
  return value === null ? undefined : value;
}

/** The names of `obj`'s own members whose value is not null, in order. */
export function memberNames(obj: JsonObject): string[] {
  return Object.keys(obj).filter((k) => obj[k] !== null);
}

function jsonKind(x: unknown): string {
  if (typeof x === 'number') return 'NUMBER_VALUE';
  if (typeof x === 'boolean') return x ? 'TRUE_VALUE' : 'FALSE_VALUE';
  return 'STRING_VALUE';
}

/** Coral's refusal of a JSON value of the wrong type; `target` is e.g. 'a String', 'an Integer'. */
export function wrongType(x: unknown, target: string): DynamoError {
  if (Array.isArray(x)) return serializationError('Start of list found where not expected');
  if (isJsonObject(x)) return serializationError('Start of structure or map found where not expected.');
  return serializationError(`${jsonKind(x)} can not be converted to ${target}`);
}

// ---- values (list elements and map values) ----

export function asString(x: unknown): string {
  if (typeof x !== 'string') throw wrongType(x, 'a String');
  return x;
}

export function asBoolean(x: unknown): boolean {
  if (typeof x !== 'boolean') throw wrongType(x, 'a Boolean');
  return x;
}

/** A JSON number as Coral's Integer: fractions truncate (as its TruncatingBigNumber does), out of range refused. */
export function asInteger(x: unknown): number {
  if (typeof x !== 'number') throw wrongType(x, 'an Integer');
  const n = Math.trunc(x);
  if (!Number.isFinite(n) || n < INTEGER_MIN || n > INTEGER_MAX) throw serializationError(`NUMBER_VALUE ${x} can not be converted to an Integer: out of range`);
  return n;
}

/** A Long (64-bit in Coral); we hold it as a safe integer, which every capacity value is. */
export function asLong(x: unknown): number {
  if (typeof x !== 'number') throw wrongType(x, 'a Long');
  const n = Math.trunc(x);
  if (!Number.isSafeInteger(n)) throw serializationError(`NUMBER_VALUE ${x} can not be converted to a Long: out of range`);
  return n;
}

export function asList(x: unknown): readonly unknown[] {
  if (Array.isArray(x)) return x;
  if (isJsonObject(x)) throw serializationError('Start of structure or map found where not expected.');
  throw serializationError('Expected list or null');
}

/** A JSON object read as a map (keys are data). */
export function asMap(x: unknown): JsonObject {
  if (isJsonObject(x)) return x;
  if (Array.isArray(x)) throw serializationError('Start of list found where not expected');
  throw serializationError('Expected map or null');
}

/** A JSON object read as a structure (keys are member names). */
export function asStructure(x: unknown): JsonObject {
  if (isJsonObject(x)) return x;
  if (Array.isArray(x)) throw serializationError('Start of list found where not expected');
  throw serializationError('Expected null');
}

// ---- members ----

export function optionalString(obj: JsonObject, name: string): string | undefined {
  const x = member(obj, name);
  return x === undefined ? undefined : asString(x);
}

export function optionalBoolean(obj: JsonObject, name: string): boolean | undefined {
  const x = member(obj, name);
  return x === undefined ? undefined : asBoolean(x);
}

export function optionalInteger(obj: JsonObject, name: string): number | undefined {
  const x = member(obj, name);
  return x === undefined ? undefined : asInteger(x);
}

export function optionalLong(obj: JsonObject, name: string): number | undefined {
  const x = member(obj, name);
  return x === undefined ? undefined : asLong(x);
}

export function optionalList(obj: JsonObject, name: string): readonly unknown[] | undefined {
  const x = member(obj, name);
  return x === undefined ? undefined : asList(x);
}

export function optionalMap(obj: JsonObject, name: string): JsonObject | undefined {
  const x = member(obj, name);
  return x === undefined ? undefined : asMap(x);
}

export function optionalStructure(obj: JsonObject, name: string): JsonObject | undefined {
  const x = member(obj, name);
  return x === undefined ? undefined : asStructure(x);
}

// ---- constraints ----

/** DynamoDB's paths in constraint messages: the member name with its first letter lowered. */
export function lowerFirst(name: string): string {
  return name.length === 0 ? name : name[0]!.toLowerCase() + name.slice(1);
}

/** Most characters of a value a constraint message quotes: a hostile list must not make a megabyte message. */
export const SHOWN_VALUE_CHARS_MAX = 200;

function clip(text: string): string {
  return text.length > SHOWN_VALUE_CHARS_MAX ? `${text.slice(0, SHOWN_VALUE_CHARS_MAX)}...` : text;
}

function shown(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (Array.isArray(value)) {
    const head = value.slice(0, SHOWN_VALUE_CHARS_MAX).map((v) => (typeof v === 'string' ? v : JSON.stringify(v).slice(0, SHOWN_VALUE_CHARS_MAX)));
    return `'${clip(`[${head.join(', ')}]`)}'`;
  }
  if (isJsonObject(value)) return `'${clip(JSON.stringify(value))}'`;
  return `'${clip(String(value))}'`;
}

/**
 * Collects constraint failures of one request and throws them as one ValidationException, in
 * DynamoDB's form: "2 validation errors detected: Value null at 'key' failed to satisfy
 * constraint: Member must not be null; Value ...".
 */
export class Constraints {
  private readonly failures: string[] = [];

  /** Records a failure unless `ok`. `path` is DynamoDB's (lowerFirst, `.1.member.` for list elements). */
  check(ok: boolean, value: unknown, path: string, constraint: string): void {
    if (ok || this.failures.length >= CONSTRAINT_FAILURES_MAX) return;
    this.failures.push(`Value ${shown(value)} at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  notNull(value: unknown, path: string): boolean {
    this.check(value !== undefined, value, path, 'Member must not be null');
    return value !== undefined;
  }

  enumValue(value: string | undefined, allowed: readonly string[], path: string): void {
    if (value === undefined) return;
    this.check(allowed.includes(value), value, path, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
  }

  atLeast(value: number | undefined, min: number, path: string): void {
    if (value === undefined) return;
    this.check(value >= min, value, path, `Member must have value greater than or equal to ${min}`);
  }

  atMost(value: number | undefined, max: number, path: string): void {
    if (value === undefined) return;
    this.check(value <= max, value, path, `Member must have value less than or equal to ${max}`);
  }

  /** Length of a string (in UTF-16 units, as Java counts), list or map (its member count). */
  lengthBetween(value: string | readonly unknown[] | JsonObject | undefined, min: number, max: number | undefined, path: string): void {
    if (value === undefined) return;
    const length = typeof value === 'string' || Array.isArray(value) ? value.length : Object.keys(value).length;
    this.check(length >= min, value, path, `Member must have length greater than or equal to ${min}`);
    if (max !== undefined) this.check(length <= max, value, path, `Member must have length less than or equal to ${max}`);
  }

  /** A table (or index) name's pattern; its length is checked separately (see tableName()). */
  tableNamePattern(value: string | undefined, path: string): void {
    if (value === undefined) return;
    this.check(TABLE_NAME_PATTERN.test(value), value, path, `Member must satisfy regular expression pattern: ${TABLE_NAME_PATTERN_TEXT}`);
  }

  get count(): number {
    return this.failures.length;
  }

  /** Throws the collected failures, if any. */
  throwIfAny(): void {
    const n = this.failures.length;
    if (n === 0) return;
    throw validationError(`${n} validation error${n > 1 ? 's' : ''} detected: ${this.failures.join('; ')}`);
  }
}

/**
 * The TableName of a single-table request, as DynamoDB checks it: absent is its own message,
 * the length next (thrown at once), the pattern joins the request's other constraint failures.
 */
export function tableName(obj: JsonObject, constraints: Constraints): string {
  const name = optionalString(obj, 'TableName');
  if (name === undefined) throw validationError("The parameter 'TableName' is required but was not present in the request");
  if (name.length < TABLE_NAME_CHARS_MIN || name.length > TABLE_NAME_CHARS_MAX) {
    throw validationError(`TableName must be at least ${TABLE_NAME_CHARS_MIN} characters long and at most ${TABLE_NAME_CHARS_MAX} characters long`);
  }
  constraints.tableNamePattern(name, 'tableName');
  return name;
}

/** Whether `name` is a valid table name (for map keys such as BatchWriteItem's RequestItems). */
export function isTableName(name: string): boolean {
  return name.length >= TABLE_NAME_CHARS_MIN && name.length <= TABLE_NAME_CHARS_MAX && TABLE_NAME_PATTERN.test(name);
}

// ---- shared parameters ----

export const RETURN_CONSUMED_CAPACITY = ['INDEXES', 'TOTAL', 'NONE'] as const;
export type ReturnConsumedCapacity = (typeof RETURN_CONSUMED_CAPACITY)[number];
export const RETURN_ITEM_COLLECTION_METRICS = ['SIZE', 'NONE'] as const;
export type ReturnItemCollectionMetrics = (typeof RETURN_ITEM_COLLECTION_METRICS)[number];

/** ReturnConsumedCapacity: accepted and carried; the executor may report capacity or not. */
export function returnConsumedCapacity(obj: JsonObject, constraints: Constraints): ReturnConsumedCapacity {
  const value = optionalString(obj, 'ReturnConsumedCapacity');
  constraints.enumValue(value, RETURN_CONSUMED_CAPACITY, 'returnConsumedCapacity');
  return (value ?? 'NONE') as ReturnConsumedCapacity;
}

/** ReturnItemCollectionMetrics: accepted; without secondary indexes there are no item collections to report. */
export function returnItemCollectionMetrics(obj: JsonObject, constraints: Constraints): ReturnItemCollectionMetrics {
  const value = optionalString(obj, 'ReturnItemCollectionMetrics');
  constraints.enumValue(value, RETURN_ITEM_COLLECTION_METRICS, 'returnItemCollectionMetrics');
  return (value ?? 'NONE') as ReturnItemCollectionMetrics;
}

/** The expression parameter that replaced each legacy parameter, for the refusal's message. */
const LEGACY_REPLACEMENTS: { readonly [legacy: string]: string } = {
  Expected: 'ConditionExpression',
  AttributeUpdates: 'UpdateExpression',
  KeyConditions: 'KeyConditionExpression',
  QueryFilter: 'FilterExpression',
  ScanFilter: 'FilterExpression',
  AttributesToGet: 'ProjectionExpression',
  ConditionalOperator: 'AND/OR inside ConditionExpression or FilterExpression',
};

/**
 * Refuses DynamoDB's legacy (pre-expression) parameters: dynakv implements only the expression
 * forms. DynamoDB itself still accepts these; saying so plainly beats silently ignoring them.
 */
export function refuseLegacy(obj: JsonObject, names: readonly string[]): void {
  for (const name of names) {
    if (member(obj, name) !== undefined) {
      throw validationError(`The legacy parameter ${name} is not supported by dynakv; use ${LEGACY_REPLACEMENTS[name] ?? 'the expression parameters'} instead`);
    }
  }
}

/** Refuses a parameter dynakv does not implement, naming it. */
export function refuseUnsupported(obj: JsonObject, name: string, why: string): void {
  if (member(obj, name) !== undefined) throw validationError(`${name} is not supported by dynakv: ${why}`);
}

// ---- attribute maps and expressions ----

/** Parses a Key-like map (Key, ExclusiveStartKey, a BatchGetItem key): names to attribute values. */
export function parseKeyMap(raw: unknown): Item {
  const obj = asMap(raw);
  const key = new Map<string, AttributeValue>();
  for (const name of Object.keys(obj)) key.set(checkAttributeName(name), parseAttributeValue(obj[name]));
  return key;
}

/** A required item member (PutItem's Item): parsed with DynamoDB's value checks and the 400 KB limit. */
export function parseItemMember(body: JsonObject, name: string, constraints: Constraints): Item | undefined {
  const raw = member(body, name);
  return constraints.notNull(raw, lowerFirst(name)) ? parseItem(raw) : undefined;
}

/** ExclusiveStartKey: parsed as a key map, its value errors prefixed as DynamoDB prefixes them. */
export function parseStartKey(body: JsonObject): Item | undefined {
  const raw = member(body, 'ExclusiveStartKey');
  if (raw === undefined) return undefined;
  try {
    return parseKeyMap(raw);
  } catch (e) {
    if (e instanceof DynamoError && e.type === 'ValidationException') throw validationError(`The provided starting key is invalid: ${e.message}`);
    throw e;
  }
}

export const EXPRESSION_MEMBERS = ['KeyConditionExpression', 'UpdateExpression', 'ConditionExpression', 'FilterExpression', 'ProjectionExpression'] as const;
export type ExpressionMember = (typeof EXPRESSION_MEMBERS)[number];

/**
 * Parses the expressions `allowed` names from `body` with its ExpressionAttributeNames and
 * ExpressionAttributeValues, as one request (unused placeholders refused over all of them).
 * Placeholders with no expression at all get DynamoDB's own message.
 */
export function requestExpressions(body: JsonObject, allowed: readonly ExpressionMember[]): RequestExpressions {
  const texts: { -readonly [K in keyof RequestExpressionTexts]: RequestExpressionTexts[K] } = {};
  for (const name of allowed) {
    const text = optionalString(body, name);
    if (text !== undefined) texts[name] = text;
  }
  const names = member(body, 'ExpressionAttributeNames');
  const values = member(body, 'ExpressionAttributeValues');
  const anyExpression = allowed.some((name) => texts[name] !== undefined);
  if (!anyExpression && names !== undefined) throw validationError('ExpressionAttributeNames can only be specified when using expressions');
  if (!anyExpression && values !== undefined) throw validationError('ExpressionAttributeValues can only be specified when using expressions');
  if (names !== undefined) texts.ExpressionAttributeNames = names;
  if (values !== undefined) texts.ExpressionAttributeValues = values;
  return parseRequestExpressions(texts);
}
