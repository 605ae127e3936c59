// The DynamoDB JSON 1.0 envelope: which operation an `X-Amz-Target` names, which content types a
// request may carry, the bounded parse of its body (size and JSON nesting checked before
// JSON.parse), and the response envelopes (success and error) with DynamoDB's headers, including
// `x-amz-crc32`. Pure: takes bytes and header values, returns values; it never reads a socket.
// What is inside the body is operations.ts's business.
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';
import { DynamoError, serializationError, validationError, type DynamoErrorStatus } from './errors.ts';

/** The API version every target names: `DynamoDB_20120810.<Operation>`. */
export const TARGET_PREFIX = 'DynamoDB_20120810';

/** The operations this front implements, in DynamoDB's spelling. */
export const OPERATION_NAMES = [
  'BatchGetItem', 'BatchWriteItem', 'CreateTable', 'DeleteItem', 'DeleteTable', 'DescribeTable',
  'GetItem', 'ListTables', 'PutItem', 'Query', 'Scan', 'UpdateItem',
] as const;
export type OperationName = (typeof OPERATION_NAMES)[number];

/**
 * Largest request body we read: 16 MB. DynamoDB's own request limit is 16 MB (BatchWriteItem's
 * total is documented as "up to 16 MB"); the HTTP front should stop reading a stream past this.
 */
export const REQUEST_BODY_BYTES_MAX = 16 * 1024 * 1024;

/**
 * Deepest JSON nesting we hand to JSON.parse. A legitimate request nests at most 32 attribute
 * levels of 2 JSON levels each ({"M": {...}}) under at most 7 levels of request wrappers
 * (BatchWriteItem: body, RequestItems, table list, WriteRequest, PutRequest, Item, value), so 71;
 * 100 leaves room for an over-deep item to reach the attribute parser and get DynamoDB's own
 * nesting message, while every recursive walker after the parse stays far from the stack limit.
 */
export const JSON_NESTING_MAX = 100;

/** The content type DynamoDB's SDKs send and DynamoDB answers with. */
export const AMZ_JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
/** Also accepted: DynamoDB takes plain JSON and then answers with the same type (dynalite records this of the live service). */
export const PLAIN_JSON_CONTENT_TYPE = 'application/json';
export type ResponseContentType = typeof AMZ_JSON_CONTENT_TYPE | typeof PLAIN_JSON_CONTENT_TYPE;

/** A request body after parseBody: a JSON object. Read members with Object.hasOwn (see member() in request-shape.ts). */
export type JsonObject = { readonly [name: string]: unknown };

/** What the HTTP front writes back. `body` is the exact text the CRC covers. */
export interface DynamoResponse {
  readonly status: 200 | DynamoErrorStatus;
  readonly headers: { readonly [name: string]: string };
  readonly body: string;
}

const OPERATION_SET: ReadonlySet<string> = new Set(OPERATION_NAMES);

/**
 * The operation `X-Amz-Target` names. Anything else, including an operation DynamoDB has and we
 * do not (UpdateTable, TransactWriteItems, ...), is UnknownOperationException, as DynamoDB and
 * Alternator answer an unrecognised target.
 */
export function parseTarget(header: string | undefined): OperationName {
  const target = header ?? '';
  const dot = target.indexOf('.');
  const prefix = dot < 0 ? target : target.slice(0, dot);
  const operation = dot < 0 ? '' : target.slice(dot + 1);
  if (prefix !== TARGET_PREFIX || !OPERATION_SET.has(operation)) {
    const shown = target.length > 100 ? `${target.slice(0, 100)}...` : target;
    throw new DynamoError('UnknownOperationException', `Unsupported operation: X-Amz-Target '${shown}' names no operation of ${TARGET_PREFIX} this server implements`);
  }
  return operation as OperationName;
}

/**
 * Checks the request's Content-Type and returns the type to answer with. DynamoDB accepts
 * `application/x-amz-json-1.0` and `application/json` (and echoes the one it got); parameters such
 * as `; charset=utf-8` are tolerated here. DynamoDB answers any other type with an XML 404
 * `<UnknownOperationException/>`; we answer UnknownOperationException in JSON, so SDKs that read
 * it see the same error code.
 */
export function parseContentType(header: string | undefined): ResponseContentType {
  const mediaType = (header ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === AMZ_JSON_CONTENT_TYPE) return AMZ_JSON_CONTENT_TYPE;
  if (mediaType === PLAIN_JSON_CONTENT_TYPE) return PLAIN_JSON_CONTENT_TYPE;
  throw new DynamoError('UnknownOperationException', `Unsupported Content-Type '${(header ?? '').slice(0, 100)}': send ${AMZ_JSON_CONTENT_TYPE}`);
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The deepest bracket nesting in `bytes`, counting `{` and `[` outside strings, stopping as soon
 * as it passes `max` (so a hostile body costs one linear pass and no recursion). Works on UTF-8
 * bytes: no multi-byte sequence contains a byte below 0x80, so the ASCII tests are exact.
 */
export function jsonNestingDepth(bytes: Uint8Array, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses a request body into a JSON object, refusing (as DynamoErrors, never TypeErrors) a body
 * over REQUEST_BODY_BYTES_MAX, one nested deeper than JSON_NESTING_MAX, invalid UTF-8, malformed
 * JSON, and JSON that is not an object. An empty body is a SerializationException, as DynamoDB
 * answers it. `__proto__` keys stay ordinary own properties (JSON.parse defines, never assigns).
 */
export function parseBody(bytes: Uint8Array): JsonObject {
  if (bytes.length > REQUEST_BODY_BYTES_MAX) {
    throw validationError(`Request body of ${bytes.length} bytes exceeds the maximum of ${REQUEST_BODY_BYTES_MAX} bytes`);
  }
  if (bytes.length === 0) throw serializationError('The request body is empty; expected a JSON object');
  if (jsonNestingDepth(bytes, JSON_NESTING_MAX) > JSON_NESTING_MAX) {
    throw serializationError(`The request body nests JSON deeper than ${JSON_NESTING_MAX} levels`);
  }
  let text: string;
  try {
    text = utf8Decoder.decode(bytes);
  } catch {
    throw serializationError('The request body is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw serializationError(`The request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (Array.isArray(parsed)) throw serializationError('Start of list found where not expected');
  if (typeof parsed !== 'object' || parsed === null) throw serializationError('The request body must be a JSON object');
  return parsed as JsonObject;
}

// ---- responses ----

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as gzip and java.util.zip.CRC32) by table; the fallback where node:zlib has none. */
export function crc32Table(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// zlib.crc32 arrived in Node 20.15; older 20.x lines lack it, so look it up rather than import it.
const nativeCrc32 = (zlib as { readonly crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 of `bytes` as an unsigned 32-bit integer: what DynamoDB puts in `x-amz-crc32`. */
export function crc32(bytes: Uint8Array): number {
  return nativeCrc32 === undefined ? crc32Table(bytes) : nativeCrc32(bytes) >>> 0;
}

/** A response with this exact body (the CRC and length computed here). */
export function respond(status: 200 | DynamoErrorStatus, body: string, requestId: string, contentType: ResponseContentType): DynamoResponse {
  const bytes = Buffer.from(body, 'utf8');
  return {
    status,
    headers: {
      'Content-Type': contentType,
      'Content-Length': String(bytes.length),
      'x-amzn-RequestId': requestId,
      // DynamoDB sends the CRC of the body it sent on every response, success or error; Go SDK v2
      // and the Java SDK check it (Go logs a mismatch on every call when it is missing).
      'x-amz-crc32': String(crc32(bytes)),
    },
    body,
  };
}

/** A 200 response carrying `result` (an operation's output, already in DynamoDB's JSON shape). */
export function successResponse(result: unknown, requestId: string, contentType: ResponseContentType = AMZ_JSON_CONTENT_TYPE): DynamoResponse {
  return respond(200, JSON.stringify(result), requestId, contentType);
}

// DynamoDB's errors from its request deserialiser (namespace com.amazon.coral.service) carry the
// text as `Message`; every other error as `message` (dynalite's recordings of the live service).
// SDKs read either: JS v3's decorateServiceException takes `message ?? Message`, botocore both.
const CAPITALISED_MESSAGE_NAMESPACE = 'com.amazon.coral.service#';

/** The response for a DynamoError: its status, `__type` and message in DynamoDB's casing. */
export function errorResponse(error: DynamoError, requestId: string, contentType: ResponseContentType = AMZ_JSON_CONTENT_TYPE): DynamoResponse {
  const type = error.wireType;
  const body = type.startsWith(CAPITALISED_MESSAGE_NAMESPACE)
    ? { __type: type, Message: error.message }
    : { __type: type, message: error.message, ...(error.item !== undefined ? { Item: error.item } : {}) };
  return respond(error.status, JSON.stringify(body), requestId, contentType);
}
