// DynamoDB attribute values: the typed form every dynamo module works on (a discriminated union
// on `type`; maps are Map, so names like `__proto__` are plain names), the one parser from the
// JSON wire form with DynamoDB's validation, the way back to the wire, deep equality, and item
// size by DynamoDB's published rules. Pure: the HTTP front parses JSON; this takes the result.
// Numbers are kept as canonical decimal text (src/dynamo/decimal.ts); binaries as Uint8Array.
import { Buffer } from 'node:buffer';
import { canonicalNumber, parseDecimal, significantDigits } from './decimal.ts';
import { serializationError, validationError } from './errors.ts';

/** Largest item DynamoDB stores, in bytes by itemSizeBytes: 400 KB. */
export const ITEM_BYTES_MAX = 400 * 1024;
/** Deepest document: a top-level attribute is level 1, each map or list adds one (DynamoDB: 32). */
export const NESTING_LEVELS_MAX = 32;
/** Longest attribute name, in UTF-8 bytes (DynamoDB: 64 KB; key attributes are held to 255 elsewhere). */
export const ATTRIBUTE_NAME_BYTES_MAX = 65_535;
/** Bytes an attribute of type List or Map costs beyond its elements (DynamoDB's size rules). */
export const CONTAINER_OVERHEAD_BYTES = 3;
/** Bytes each element of a List or Map costs beyond its own size (DynamoDB's size rules). */
export const CONTAINER_ELEMENT_OVERHEAD_BYTES = 1;
/** Bytes a BOOL or NULL costs. */
export const SCALAR_FLAG_BYTES = 1;

export type ScalarType = 'S' | 'N' | 'B';
export type AttributeType = 'S' | 'N' | 'B' | 'BOOL' | 'NULL' | 'L' | 'M' | 'SS' | 'NS' | 'BS';
export const ATTRIBUTE_TYPES: readonly AttributeType[] = ['S', 'N', 'B', 'BOOL', 'NULL', 'L', 'M', 'SS', 'NS', 'BS'];

export type AttributeValue =
  | { readonly type: 'S'; readonly value: string }
  /** Canonical decimal text (formatDecimal), so equal numbers have equal text. */
  | { readonly type: 'N'; readonly value: string }
  | { readonly type: 'B'; readonly value: Uint8Array }
  | { readonly type: 'BOOL'; readonly value: boolean }
  | { readonly type: 'NULL' }
  | { readonly type: 'L'; readonly value: readonly AttributeValue[] }
  | { readonly type: 'M'; readonly value: ReadonlyMap<string, AttributeValue> }
  | { readonly type: 'SS'; readonly value: readonly string[] }
  /** Members are canonical decimal text, distinct by numeric value. */
  | { readonly type: 'NS'; readonly value: readonly string[] }
  | { readonly type: 'BS'; readonly value: readonly Uint8Array[] };

/** An item: top-level attribute names to values. */
export type Item = ReadonlyMap<string, AttributeValue>;

/** The JSON wire form of a value (B and BS members base64). */
export type WireAttributeValue =
  | { S: string } | { N: string } | { B: string } | { BOOL: boolean } | { NULL: true }
  | { L: WireAttributeValue[] } | { M: { [name: string]: WireAttributeValue } }
  | { SS: string[] } | { NS: string[] } | { BS: string[] };
export type WireItem = { [name: string]: WireAttributeValue };

// ---- constructors (for the evaluator and tests) ----

export const S = (value: string): AttributeValue => ({ type: 'S', value });
/** A number from its text; throws DynamoDB's ValidationException if it is not a storable number. */
export const N = (text: string): AttributeValue => ({ type: 'N', value: canonicalNumber(text) });
export const B = (value: Uint8Array): AttributeValue => ({ type: 'B', value });
export const BOOL = (value: boolean): AttributeValue => ({ type: 'BOOL', value });
export const NULL: AttributeValue = Object.freeze({ type: 'NULL' });
export const L = (value: readonly AttributeValue[]): AttributeValue => ({ type: 'L', value });
export const M = (value: ReadonlyMap<string, AttributeValue> | Iterable<readonly [string, AttributeValue]>): AttributeValue => ({
  type: 'M',
  value: value instanceof Map ? value : new Map(value),
});

// ---- parsing the wire form ----

const ONE_OR_MORE_INVALID = 'One or more parameter values were invalid:';
const NESTING_MESSAGE = 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit';
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isPlainObject(x: unknown): x is { readonly [k: string]: unknown } {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** How DynamoDB's deserialiser names a JSON value it did not expect. */
function unexpected(x: unknown, target: string): never {
  if (Array.isArray(x)) throw serializationError('Start of list found where not expected');
  if (isPlainObject(x)) throw serializationError('Start of structure or map found where not expected.');
  const kind = typeof x === 'number' ? 'NUMBER_VALUE' : typeof x === 'boolean' ? (x ? 'TRUE_VALUE' : 'FALSE_VALUE') : 'STRING_VALUE';
  throw serializationError(`${kind} can not be converted to ${target}`);
}

function wireString(x: unknown): string {
  if (typeof x !== 'string') unexpected(x, 'a String');
  if (LONE_SURROGATE.test(x)) throw validationError(`${ONE_OR_MORE_INVALID} An AttributeValue may not contain an invalid UTF-8 string`);
  return x;
}

function wireBinary(x: unknown): Uint8Array {
  if (typeof x !== 'string') unexpected(x, 'a Blob');
  if (!BASE64_PATTERN.test(x)) throw serializationError('Base64 encoded value is not valid: expected a multiple of 4 characters from A-Z, a-z, 0-9, +, / with = padding');
  return new Uint8Array(Buffer.from(x, 'base64'));
}

function wireArray(x: unknown): readonly unknown[] {
  if (!Array.isArray(x)) {
    if (isPlainObject(x)) throw serializationError('Start of structure or map found where not expected.');
    throw serializationError('Expected list or null');
  }
  return x;
}

/** Most characters of a set's members a duplicates message quotes (as request-shape's shown()). */
const SHOWN_MEMBERS_CHARS_MAX = 200;

/** `[a, b, ...]` of a set's members, clipped: a 16 MB set must not make a 16 MB message. */
function shownMembers(members: readonly string[]): string {
  const head = members.slice(0, SHOWN_MEMBERS_CHARS_MAX).map((m) => m.slice(0, SHOWN_MEMBERS_CHARS_MAX)).join(', ');
  const text = `[${head}]`;
  return text.length > SHOWN_MEMBERS_CHARS_MAX || members.length > SHOWN_MEMBERS_CHARS_MAX ? `${text.slice(0, SHOWN_MEMBERS_CHARS_MAX)}...` : text;
}

function hasDuplicates(values: readonly string[]): boolean {
  return new Set(values).size !== values.length;
}

/**
 * Parses one AttributeValue from its JSON form at nesting `level` (a top-level attribute is 1).
 * Throws SerializationException for JSON of the wrong shape and ValidationException, with
 * DynamoDB's messages, for values DynamoDB refuses.
 */
export function parseAttributeValue(raw: unknown, level = 1): AttributeValue {
  if (level > NESTING_LEVELS_MAX) throw validationError(NESTING_MESSAGE);
  if (raw === null || raw === undefined) {
    throw validationError('Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  }
  if (!isPlainObject(raw)) unexpected(raw, 'an AttributeValue');
  // Coral drops unknown members and members set to null before validation; so do we.
  const present = ATTRIBUTE_TYPES.filter((t) => Object.hasOwn(raw, t) && raw[t] !== null);
  if (present.length === 0) {
    throw validationError('Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  }
  if (present.length > 1) {
    throw validationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
  }
  const type = present[0]!;
  const body = raw[type];
  switch (type) {
    case 'S':
      return { type, value: wireString(body) };
    case 'N':
      if (typeof body !== 'string') unexpected(body, 'a String');
      return { type, value: canonicalNumber(body) };
    case 'B':
      return { type, value: wireBinary(body) };
    case 'BOOL':
      if (typeof body !== 'boolean') unexpected(body, 'a Boolean');
      return { type, value: body };
    case 'NULL':
      if (typeof body !== 'boolean') unexpected(body, 'a Boolean');
      if (!body) throw validationError(`${ONE_OR_MORE_INVALID} Null attribute value types must have the value of true`);
      return NULL;
    case 'L':
      return { type, value: wireArray(body).map((e) => parseAttributeValue(e, level + 1)) };
    case 'M': {
      if (!isPlainObject(body)) unexpected(body, 'a Map');
      const value = new Map<string, AttributeValue>();
      for (const name of Object.keys(body)) value.set(wireString(name), parseAttributeValue(body[name], level + 1));
      return { type, value };
    }
    case 'SS': {
      const members = wireArray(body).map((m) => (m === null ? '' : wireString(m)));
      if (members.length === 0) throw validationError(`${ONE_OR_MORE_INVALID} An string set  may not be empty`);
      if (members.includes('')) throw validationError(`${ONE_OR_MORE_INVALID} An string set may not have a empty string as a member`);
      if (hasDuplicates(members)) throw validationError(`${ONE_OR_MORE_INVALID} Input collection ${shownMembers(members)} contains duplicates.`);
      return { type, value: members };
    }
    case 'NS': {
      const texts = wireArray(body).map((m) => {
        if (m === null) return '';
        if (typeof m !== 'string') unexpected(m, 'a String');
        return m;
      });
      if (texts.length === 0) throw validationError(`${ONE_OR_MORE_INVALID} An number set  may not be empty`);
      const members = texts.map(canonicalNumber);
      if (hasDuplicates(members)) throw validationError('Input collection contains duplicates');
      return { type, value: members };
    }
    case 'BS': {
      const raws = wireArray(body);
      if (raws.length === 0) throw validationError(`${ONE_OR_MORE_INVALID} Binary sets should not be empty`);
      const members = raws.map((m) => (m === null ? new Uint8Array(0) : wireBinary(m)));
      if (members.some((m) => m.length === 0)) throw validationError(`${ONE_OR_MORE_INVALID} Binary sets may not contain null or empty values`);
      const texts = members.map((m) => Buffer.from(m).toString('base64'));
      if (hasDuplicates(texts)) throw validationError(`${ONE_OR_MORE_INVALID} Input collection ${shownMembers(texts)}of type BS contains duplicates.`);
      return { type, value: members };
    }
  }
}

/** Checks a top-level attribute name as DynamoDB does (non-empty, at most ATTRIBUTE_NAME_BYTES_MAX). */
export function checkAttributeName(name: string): string {
  if (name.length === 0) throw validationError(`${ONE_OR_MORE_INVALID} An attribute name may not be empty`);
  if (utf8Bytes(name) > ATTRIBUTE_NAME_BYTES_MAX) {
    throw validationError(`${ONE_OR_MORE_INVALID} An attribute name may not be longer than ${ATTRIBUTE_NAME_BYTES_MAX} bytes`);
  }
  return wireString(name);
}

/** Parses an item (a JSON object of attribute names to values); refuses one over ITEM_BYTES_MAX. */
export function parseItem(raw: unknown): Item {
  if (!isPlainObject(raw)) unexpected(raw, 'a Map');
  const item = new Map<string, AttributeValue>();
  for (const name of Object.keys(raw)) item.set(checkAttributeName(name), parseAttributeValue(raw[name]));
  checkItemSize(item);
  return item;
}

/** Throws DynamoDB's ValidationException if `item` is larger than ITEM_BYTES_MAX. */
export function checkItemSize(item: Item, message = 'Item size has exceeded the maximum allowed size'): void {
  if (itemSizeBytes(item) > ITEM_BYTES_MAX) throw validationError(message);
}

// ---- back to the wire ----

function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** The JSON wire form of a value. Maps are null-prototype objects, so any name is a plain key. */
export function toWire(v: AttributeValue): WireAttributeValue {
  switch (v.type) {
    case 'S': return { S: v.value };
    case 'N': return { N: v.value };
    case 'B': return { B: base64(v.value) };
    case 'BOOL': return { BOOL: v.value };
    case 'NULL': return { NULL: true };
    case 'L': return { L: v.value.map(toWire) };
    case 'M': return { M: itemToWire(v.value) };
    case 'SS': return { SS: [...v.value] };
    case 'NS': return { NS: [...v.value] };
    case 'BS': return { BS: v.value.map(base64) };
  }
}

/** The JSON wire form of an item (a null-prototype object: `__proto__` is an ordinary key). */
export function itemToWire(item: Item): WireItem {
  const out: WireItem = Object.create(null) as WireItem;
  for (const [name, value] of item) out[name] = toWire(value);
  return out;
}

// ---- equality, size, depth ----

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function sameMembers<T>(a: readonly T[], b: readonly T[], key: (x: T) => string): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(key));
  return b.every((x) => keys.has(key(x)));
}

/** Deep equality as DynamoDB's `=` sees it: same type and value; sets ignore order; numbers by value. */
export function attributeValuesEqual(a: AttributeValue, b: AttributeValue): boolean {
  switch (a.type) {
    case 'S': case 'N': case 'BOOL': return b.type === a.type && b.value === a.value;
    case 'NULL': return b.type === 'NULL';
    case 'B': return b.type === 'B' && bytesEqual(a.value, b.value);
    case 'L': {
      if (b.type !== 'L' || b.value.length !== a.value.length) return false;
      return a.value.every((x, i) => attributeValuesEqual(x, b.value[i]!));
    }
    case 'M': {
      if (b.type !== 'M' || b.value.size !== a.value.size) return false;
      for (const [k, x] of a.value) {
        const y = b.value.get(k);
        if (y === undefined || !attributeValuesEqual(x, y)) return false;
      }
      return true;
    }
    case 'SS': case 'NS': return b.type === a.type && sameMembers(a.value, b.value, (x) => x);
    case 'BS': return b.type === 'BS' && sameMembers(a.value, b.value, base64);
  }
}

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** DynamoDB's size of a number: 1 byte per two significant digits, plus 1 (its docs call this approximate). */
export function numberSizeBytes(text: string): number {
  return Math.ceil(significantDigits(parseDecimal(text)) / 2) + 1;
}

/**
 * A value's size by DynamoDB's rules ("Item sizes and formats"): strings their UTF-8 bytes,
 * binaries their raw bytes, numbers as numberSizeBytes, BOOL and NULL 1 byte, a List or Map
 * 3 bytes plus 1 byte per element plus its elements (a Map's element also its name's UTF-8
 * bytes), a set the sum of its members. DynamoDB documents this as an estimate; it is the one
 * we enforce ITEM_BYTES_MAX with.
 */
export function attributeValueSizeBytes(v: AttributeValue): number {
  switch (v.type) {
    case 'S': return utf8Bytes(v.value);
    case 'N': return numberSizeBytes(v.value);
    case 'B': return v.value.length;
    case 'BOOL': case 'NULL': return SCALAR_FLAG_BYTES;
    case 'L': {
      let total = CONTAINER_OVERHEAD_BYTES;
      for (const e of v.value) total += CONTAINER_ELEMENT_OVERHEAD_BYTES + attributeValueSizeBytes(e);
      return total;
    }
    case 'M': {
      let total = CONTAINER_OVERHEAD_BYTES;
      for (const [k, e] of v.value) total += CONTAINER_ELEMENT_OVERHEAD_BYTES + utf8Bytes(k) + attributeValueSizeBytes(e);
      return total;
    }
    case 'SS': return v.value.reduce((t, s) => t + utf8Bytes(s), 0);
    case 'NS': return v.value.reduce((t, s) => t + numberSizeBytes(s), 0);
    case 'BS': return v.value.reduce((t, b) => t + b.length, 0);
  }
}

/** An item's size: for each attribute, its name's UTF-8 bytes plus its value's size. */
export function itemSizeBytes(item: Item): number {
  let total = 0;
  for (const [name, v] of item) total += utf8Bytes(name) + attributeValueSizeBytes(v);
  return total;
}

/** Levels a value occupies: 1 for a scalar or set, 1 + its deepest element for a List or Map. */
export function nestingLevels(v: AttributeValue): number {
  if (v.type === 'L') return 1 + v.value.reduce((m, e) => Math.max(m, nestingLevels(e)), 0);
  if (v.type === 'M') {
    let deepest = 0;
    for (const e of v.value.values()) deepest = Math.max(deepest, nestingLevels(e));
    return 1 + deepest;
  }
  return 1;
}

/** Throws DynamoDB's nesting ValidationException if any attribute of `item` is deeper than NESTING_LEVELS_MAX. */
export function checkItemNesting(item: Item): void {
  for (const v of item.values()) if (nestingLevels(v) > NESTING_LEVELS_MAX) throw validationError(NESTING_MESSAGE);
}
