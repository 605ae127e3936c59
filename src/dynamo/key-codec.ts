// Order-preserving bytes for DynamoDB key values (S, N, B): `encodeKey(pk, sk)` is a storage key
// suffix whose memcmp order is DynamoDB's order (partition, then sort key), and which decodes back
// to exactly one key. Owns the strict parsing of N strings (38 digits, 1E-130..9.99E+125) and
// their canonical form, and the byte ranges of a partition and of begins_with on its sort key.
// Pure: no storage, no table schema (callers check key types against it).
// Layout and the proof of order are in the comments below; changing them changes stored keys.

/** A key attribute value: one of DynamoDB's three scalar key types. */
export type KeyValue = { readonly S: string } | { readonly N: string } | { readonly B: Uint8Array };

export interface DecodedKey {
  readonly partition: KeyValue;
  /** Absent for a table without a sort key. */
  readonly sort?: KeyValue;
}

/** DynamoDB's limits on key attribute values (S: UTF-8 bytes, B: bytes). */
export const PARTITION_KEY_BYTES_MAX = 2048;
export const SORT_KEY_BYTES_MAX = 1024;
/** DynamoDB numbers: at most 38 significant digits. */
export const NUMBER_DIGITS_MAX = 38;
/**
 * The decimal exponent E of a number written 0.d1d2... x 10^E (d1 != 0): 1E-130 is 0.1 x 10^-129 and
 * 9.99...E+125 is 0.999... x 10^126. The range holds exactly 256 exponents, one byte.
 */
export const NUMBER_EXPONENT_MIN = -129;
export const NUMBER_EXPONENT_MAX = 126;
/**
 * Longest N string parsed (ours, not DynamoDB's: it states none). A legal number needs at most
 * about 170 characters; the bound only keeps hostile padding ("0000...1") from costing work.
 */
export const NUMBER_TEXT_CHARS_MAX = 1024;

/** Type tags: the type letters in ASCII, so a dumped key is readable. Order between types is arbitrary (a table fixes each key's type). */
const TAG_B = 0x42;
const TAG_N = 0x4e;
const TAG_S = 0x53;
/** Number classes after TAG_N, in numeric order. */
const N_NEGATIVE = 0x01;
const N_ZERO = 0x02;
const N_POSITIVE = 0x03;
/** Digit pairs are stored as 10a+b+1 (1..100) for positives; negatives store 101 minus that (1..100). */
const PAIR_BASE = 1;
const NEGATIVE_PAIR_FLIP = 101;
/** After the pairs: below every pair byte for positives (shorter = smaller), above for negatives (shorter = larger). */
const POSITIVE_END = 0x00;
const NEGATIVE_END = 0x65;
/** S and B: a 0x00 byte is written 0x00 0x01 and the value ends with 0x00 0x00, which sorts below both. */
const ESCAPE = 0x00;
const ESCAPED_ZERO = 0x01;
const BYTES_END = 0x00;

/**
 * Longest output of encodeKey: a partition and a sort key of all-zero bytes (each byte escaped to
 * two), each with tag and end. Above lmdb-js's 1978-byte default key limit (and its 4026 maximum):
 * the storage layer must accept or map keys this long, or refuse them first.
 */
export const ENCODED_KEY_BYTES_MAX = 1 + 2 * PARTITION_KEY_BYTES_MAX + 2 + (1 + 2 * SORT_KEY_BYTES_MAX + 2);

export type KeyCodecErrorCode =
  | 'NUMBER_MALFORMED' // not a decimal number (NaN, Infinity, spaces, empty, too long)
  | 'NUMBER_TOO_PRECISE' // more than 38 significant digits
  | 'NUMBER_OVERFLOW' // magnitude above 9.99...E+125
  | 'NUMBER_UNDERFLOW' // non-zero magnitude below 1E-130
  | 'KEY_EMPTY' // an S or B key value of zero bytes
  | 'KEY_TOO_LONG' // over PARTITION_KEY_BYTES_MAX / SORT_KEY_BYTES_MAX
  | 'KEY_NOT_UTF8' // an S value with a lone surrogate: it has no UTF-8 form
  | 'KEY_TYPE' // not one of { S }, { N }, { B }
  | 'KEY_CORRUPT'; // bytes given to decodeKey that encodeKey never produces

/** A key value DynamoDB would refuse (the API answers ValidationException), or undecodable bytes. */
export class KeyCodecError extends Error {
  constructor(
    readonly code: KeyCodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KeyCodecError';
  }
}

/** A DynamoDB number, normalized: value = sign x 0.digits x 10^exponent; zero has no digits. */
export interface ParsedNumber {
  readonly sign: -1 | 0 | 1;
  /** 1..38 decimal digits, first and last non-zero; '' for zero. */
  readonly digits: string;
  /** NUMBER_EXPONENT_MIN..NUMBER_EXPONENT_MAX; 0 for zero. */
  readonly exponent: number;
}

const ZERO: ParsedNumber = { sign: 0, digits: '', exponent: 0 };

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * Parses an N string as DynamoDB does: `[+-]digits[.digits][(e|E)[+-]digits]`, with either side of
 * the point optional but not both ("5.", ".5", "+3", "0001.23", "1e+5", "0e1000" are numbers;
 * "NaN", "Infinity", " 1", "1 ", "." are not). Leading and trailing zeros are not significant.
 */
export function parseNumber(text: string): ParsedNumber {
  const malformed = (): KeyCodecError =>
    new KeyCodecError('NUMBER_MALFORMED', `The parameter cannot be converted to a numeric value: ${text.length > 64 ? `${text.slice(0, 64)}...` : text}`);
  if (typeof text !== 'string' || text.length === 0 || text.length > NUMBER_TEXT_CHARS_MAX) throw malformed();
  let i = 0;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') {
    negative = text[i] === '-';
    i++;
  }
  const intStart = i;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  const intDigits = text.slice(intStart, i);
  let fracDigits = '';
  if (text[i] === '.') {
    const fracStart = ++i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    fracDigits = text.slice(fracStart, i);
  }
  if (intDigits.length + fracDigits.length === 0) throw malformed();
  let exponentPart = 0;
  if (text[i] === 'e' || text[i] === 'E') {
    i++;
    let exponentNegative = false;
    if (text[i] === '+' || text[i] === '-') {
      exponentNegative = text[i] === '-';
      i++;
    }
    const expStart = i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
    if (i === expStart) throw malformed();
    // Beyond 6 significant digits the exponent is out of range whatever the mantissa (which is at
    // most NUMBER_TEXT_CHARS_MAX digits long), so it is clamped rather than read as a huge number.
    const expDigits = text.slice(expStart, i).replace(/^0+/, '');
    const magnitude = expDigits.length > 6 ? 10_000_000 : Number(expDigits === '' ? '0' : expDigits);
    exponentPart = exponentNegative ? -magnitude : magnitude;
  }
  if (i !== text.length) throw malformed();

  const all = intDigits + fracDigits;
  let first = 0;
  while (first < all.length && all.charCodeAt(first) === 0x30) first++;
  if (first === all.length) return ZERO; // "-0", "0e1000": zero has no sign or exponent
  let last = all.length;
  while (all.charCodeAt(last - 1) === 0x30) last--;
  const digits = all.slice(first, last);
  // all = intDigits fracDigits, the point after intDigits: dropping `first` leading zeros moves
  // the first significant digit `first` places right of the start.
  const exponent = intDigits.length - first + exponentPart;
  if (digits.length > NUMBER_DIGITS_MAX) throw new KeyCodecError('NUMBER_TOO_PRECISE', 'Attempting to store more than 38 significant digits in a Number');
  if (exponent > NUMBER_EXPONENT_MAX) throw new KeyCodecError('NUMBER_OVERFLOW', 'Number overflow. Attempting to store a number with magnitude larger than supported range');
  if (exponent < NUMBER_EXPONENT_MIN) throw new KeyCodecError('NUMBER_UNDERFLOW', 'Number underflow. Attempting to store a number with magnitude smaller than supported range');
  return { sign: negative ? -1 : 1, digits, exponent };
}

/**
 * The canonical text of a number: plain decimal notation (no exponent), no leading or trailing
 * zeros, '-' only for negatives, "0" for zero. Equal numbers ("1.50", "15E-1") give equal text.
 */
export function formatNumber(n: ParsedNumber): string {
  if (n.sign === 0) return '0';
  const { digits, exponent } = n;
  let body: string;
  if (exponent <= 0) body = `0.${'0'.repeat(-exponent)}${digits}`;
  else if (exponent >= digits.length) body = digits + '0'.repeat(exponent - digits.length);
  else body = `${digits.slice(0, exponent)}.${digits.slice(exponent)}`;
  return n.sign < 0 ? `-${body}` : body;
}

/** The canonical text of an N string (see formatNumber); throws KeyCodecError as parseNumber does. */
export function canonicalNumber(text: string): string {
  return formatNumber(parseNumber(text));
}

// ---- Encoding ----------------------------------------------------------------------------------
//
// S and B: tag, then the bytes with each 0x00 written 0x00 0x01, then 0x00 0x00. As tokens, the end
// [00 00] < an escaped zero [00 01] < [01] < ... < [FF], and no token is a prefix of another, so
// comparing encodings compares the values byte by byte, a value before its extensions. The end
// marks the value's end unambiguously, so what follows (a sort key) never affects the order of
// different partitions: the encoding is prefix-free.
//
// N: tag, class (negative < zero < positive), and for non-zero numbers the exponent byte then the
// digits two per byte, then an end byte. Positive: exponent E+129 (0..255), pairs 10a+b+1, end 0;
// for the same exponent the digit strings compare as decimals (a last odd digit is paired with 0,
// which is numerically the same), a shorter string before its extensions. Negative: every byte is
// flipped (exponent 126-E, pairs 101-(10a+b+1), end 0x65 above all pairs), reversing the order.

class ByteWriter {
  private bytes: number[] = [];
  push(...values: number[]): void {
    for (const v of values) this.bytes.push(v);
  }
  result(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

type KeyRole = 'partition' | 'sort';

function limitOf(role: KeyRole): number {
  return role === 'partition' ? PARTITION_KEY_BYTES_MAX : SORT_KEY_BYTES_MAX;
}

// In a `u` regex a well-formed surrogate pair is one code point, so this only finds lone halves.
const LONE_SURROGATE = /\p{Surrogate}/u;

function checkLength(bytes: number, role: KeyRole): void {
  if (bytes === 0) throw new KeyCodecError('KEY_EMPTY', `The AttributeValue for a key attribute cannot contain an empty value (${role} key)`);
  const max = limitOf(role);
  if (bytes > max) throw new KeyCodecError('KEY_TOO_LONG', `Size of the ${role} key (${bytes} bytes) has exceeded the maximum size limit of ${max} bytes`);
}

function writeEscaped(out: ByteWriter, bytes: Uint8Array): void {
  for (const b of bytes) {
    if (b === ESCAPE) out.push(ESCAPE, ESCAPED_ZERO);
    else out.push(b);
  }
  out.push(ESCAPE, BYTES_END);
}

function writeNumber(out: ByteWriter, n: ParsedNumber): void {
  out.push(TAG_N);
  if (n.sign === 0) {
    out.push(N_ZERO);
    return;
  }
  const negative = n.sign < 0;
  const exponentByte = n.exponent - NUMBER_EXPONENT_MIN;
  out.push(negative ? N_NEGATIVE : N_POSITIVE, negative ? 0xff - exponentByte : exponentByte);
  for (let i = 0; i < n.digits.length; i += 2) {
    const a = n.digits.charCodeAt(i) - 0x30;
    const b = i + 1 < n.digits.length ? n.digits.charCodeAt(i + 1) - 0x30 : 0;
    const pair = 10 * a + b + PAIR_BASE;
    out.push(negative ? NEGATIVE_PAIR_FLIP - pair : pair);
  }
  out.push(negative ? NEGATIVE_END : POSITIVE_END);
}

function writeValue(out: ByteWriter, value: KeyValue, role: KeyRole): void {
  if (typeof value !== 'object' || value === null) throw new KeyCodecError('KEY_TYPE', `${role} key is not an attribute value`);
  if ('S' in value && typeof value.S === 'string') {
    if (LONE_SURROGATE.test(value.S)) throw new KeyCodecError('KEY_NOT_UTF8', `${role} key string is not valid Unicode (lone surrogate)`);
    const bytes = Buffer.from(value.S, 'utf8');
    checkLength(bytes.length, role);
    out.push(TAG_S);
    writeEscaped(out, bytes);
  } else if ('N' in value && typeof value.N === 'string') {
    writeNumber(out, parseNumber(value.N));
  } else if ('B' in value && value.B instanceof Uint8Array) {
    checkLength(value.B.length, role);
    out.push(TAG_B);
    writeEscaped(out, value.B);
  } else {
    throw new KeyCodecError('KEY_TYPE', `${role} key must be one of S, N or B`);
  }
}

/**
 * The bytes of a primary key: its partition key value, then its sort key value if the table has
 * one. Throws KeyCodecError for a value DynamoDB refuses (bad number, empty, too long).
 */
export function encodeKey(partition: KeyValue, sort?: KeyValue): Uint8Array {
  const out = new ByteWriter();
  writeValue(out, partition, 'partition');
  if (sort !== undefined) writeValue(out, sort, 'sort');
  return out.result();
}

/**
 * The byte range [start, end) holding exactly the keys of one partition (with any sort key, and
 * the partition's own key in a table without one).
 */
export function partitionPrefix(partition: KeyValue): { readonly start: Uint8Array; readonly end: Uint8Array } {
  const start = encodeKey(partition);
  return { start, end: prefixEnd(start) };
}

/**
 * The byte range [start, end) holding exactly the keys of `partition` whose S or B sort key begins
 * with `prefix` (Query's begins_with): the escape works byte by byte, so a value's encoding starts
 * with the prefix's encoding, less its end marker, exactly when the value starts with the prefix.
 */
export function sortKeyPrefixRange(
  partition: KeyValue,
  prefix: { readonly S: string } | { readonly B: Uint8Array },
): { readonly start: Uint8Array; readonly end: Uint8Array } {
  const out = new ByteWriter();
  writeValue(out, partition, 'partition');
  let bytes: Uint8Array;
  if ('S' in prefix && typeof prefix.S === 'string') {
    if (LONE_SURROGATE.test(prefix.S)) throw new KeyCodecError('KEY_NOT_UTF8', 'sort key prefix is not valid Unicode (lone surrogate)');
    bytes = Buffer.from(prefix.S, 'utf8');
    out.push(TAG_S);
  } else if ('B' in prefix && prefix.B instanceof Uint8Array) {
    bytes = prefix.B;
    out.push(TAG_B);
  } else {
    throw new KeyCodecError('KEY_TYPE', 'sort key prefix must be S or B');
  }
  checkLength(bytes.length, 'sort');
  writeEscaped(out, bytes);
  const withEnd = out.result();
  const start = withEnd.slice(0, withEnd.length - 2);
  return { start, end: prefixEnd(start) };
}

/**
 * The least byte string above every extension of `prefix`: drop trailing 0xFF bytes and add one to
 * the last. Our encodings never end in 0xFF, but the rule holds for any prefix.
 */
function prefixEnd(prefix: Uint8Array): Uint8Array {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) throw new KeyCodecError('KEY_CORRUPT', 'prefix of 0xFF bytes only has no upper bound');
  const end = prefix.slice(0, n);
  end[n - 1] = end[n - 1]! + 1;
  return end;
}

// ---- Decoding ----------------------------------------------------------------------------------

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function corrupt(why: string): KeyCodecError {
  return new KeyCodecError('KEY_CORRUPT', `not an encoded key: ${why}`);
}

/** Reads one value at `offset`; returns it and the offset after it. */
function readValue(bytes: Uint8Array, offset: number, role: KeyRole): { value: KeyValue; next: number } {
  const tag = bytes[offset];
  if (tag === TAG_S || tag === TAG_B) {
    const raw: number[] = [];
    let i = offset + 1;
    for (;;) {
      if (i >= bytes.length) throw corrupt('unterminated string or binary');
      const b = bytes[i]!;
      if (b !== ESCAPE) {
        raw.push(b);
        i++;
        continue;
      }
      const next = bytes[i + 1];
      if (next === BYTES_END) break;
      if (next !== ESCAPED_ZERO) throw corrupt(`bad escape 0x00 0x${(next ?? 0).toString(16)}`);
      raw.push(0);
      i += 2;
    }
    const payload = Uint8Array.from(raw);
    if (payload.length === 0 || payload.length > limitOf(role)) throw corrupt(`${role} key of ${payload.length} bytes`);
    if (tag === TAG_B) return { value: { B: payload }, next: i + 2 };
    let text: string;
    try {
      text = UTF8.decode(payload);
    } catch {
      throw corrupt('string is not UTF-8');
    }
    return { value: { S: text }, next: i + 2 };
  }
  if (tag === TAG_N) return readNumber(bytes, offset);
  throw corrupt(tag === undefined ? 'missing value' : `unknown type tag 0x${tag.toString(16)}`);
}

function readNumber(bytes: Uint8Array, offset: number): { value: KeyValue; next: number } {
  const numberClass = bytes[offset + 1];
  if (numberClass === N_ZERO) return { value: { N: '0' }, next: offset + 2 };
  if (numberClass !== N_NEGATIVE && numberClass !== N_POSITIVE) throw corrupt('bad number class');
  const negative = numberClass === N_NEGATIVE;
  const exponentByte = bytes[offset + 2];
  if (exponentByte === undefined) throw corrupt('number without exponent');
  const exponent = (negative ? 0xff - exponentByte : exponentByte) + NUMBER_EXPONENT_MIN;
  const end = negative ? NEGATIVE_END : POSITIVE_END;
  let digits = '';
  let i = offset + 3;
  for (;;) {
    const b = bytes[i];
    if (b === undefined) throw corrupt('unterminated number');
    i++;
    if (b === end) break;
    const pair = (negative ? NEGATIVE_PAIR_FLIP - b : b) - PAIR_BASE;
    if (pair < 0 || pair > 99 || digits.length >= NUMBER_DIGITS_MAX) throw corrupt('bad number digits');
    digits += String(pair).padStart(2, '0');
  }
  if (digits.endsWith('0')) digits = digits.slice(0, -1); // the pad of an odd digit count
  // Only the canonical encoding decodes: a first digit 0 or a last pair "00" never comes from encodeKey.
  if (digits.length === 0 || digits.startsWith('0') || digits.endsWith('0')) throw corrupt('number digits not normalized');
  const text = formatNumber({ sign: negative ? -1 : 1, digits, exponent });
  return { value: { N: text }, next: i };
}

/**
 * The key that encodeKey turned into `bytes`: a partition value and, if more bytes follow, a sort
 * value. Throws KeyCodecError('KEY_CORRUPT') for any other bytes. N values come back canonical
 * (formatNumber), so "1.50" written reads back "1.5".
 */
export function decodeKey(bytes: Uint8Array): DecodedKey {
  const first = readValue(bytes, 0, 'partition');
  if (first.next === bytes.length) return { partition: first.value };
  const second = readValue(bytes, first.next, 'sort');
  if (second.next !== bytes.length) throw corrupt(`${bytes.length - second.next} bytes after the sort key`);
  return { partition: first.value, sort: second.value };
}

/** memcmp of two encoded keys: negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareEncodedKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
