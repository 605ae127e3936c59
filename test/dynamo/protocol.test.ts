// The JSON 1.0 envelope: X-Amz-Target and Content-Type parsing, the bounded body parse under
// hostile input (deep nesting, oversize, invalid UTF-8, non-objects, __proto__ keys), and the
// response envelopes: DynamoDB's headers, `message` vs `Message` casing, and a CRC32 that
// matches a table implementation and the standard check value (property-tested with fast-check).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { DynamoError, serializationError, validationError } from '../../src/dynamo/errors.ts';
import {
  crc32, crc32Table, errorResponse, JSON_NESTING_MAX, jsonNestingDepth, OPERATION_NAMES, parseBody, parseContentType, parseTarget,
  REQUEST_BODY_BYTES_MAX, successResponse,
} from '../../src/dynamo/protocol.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function refused(f: () => unknown, type: DynamoError['type'], message?: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, `expected a DynamoError, got ${String(e)}`);
    assert.equal(e.type, type);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

describe('parseTarget', () => {
  it('names every implemented operation', () => {
    for (const op of OPERATION_NAMES) assert.equal(parseTarget(`DynamoDB_20120810.${op}`), op);
  });

  it('refuses anything else as UnknownOperationException', () => {
    for (const t of [undefined, '', 'DynamoDB_20120810', 'DynamoDB_20120810.', 'DynamoDB_20111205.GetItem', 'DynamoDB_20120810.UpdateTable',
      'DynamoDB_20120810.getitem', 'DynamoDB_20120810.GetItem.x', 'DynamoDB_20120810.__proto__', 'DynamoDB_20120810.constructor', 'x'.repeat(10_000)]) {
      refused(() => parseTarget(t), 'UnknownOperationException');
    }
  });
});

describe('parseContentType', () => {
  it('accepts DynamoDB\'s two types, echoing the one sent', () => {
    assert.equal(parseContentType('application/x-amz-json-1.0'), 'application/x-amz-json-1.0');
    assert.equal(parseContentType('application/json'), 'application/json');
    assert.equal(parseContentType('Application/X-Amz-Json-1.0; charset=utf-8'), 'application/x-amz-json-1.0');
  });

  it('refuses others', () => {
    for (const t of [undefined, '', 'text/plain', 'application/x-amz-json-1.1', 'application/cbor']) refused(() => parseContentType(t), 'UnknownOperationException');
  });
});

describe('parseBody', () => {
  it('parses a JSON object, keeping __proto__ as a plain own key', () => {
    const body = parseBody(bytes('{"TableName":"abc","__proto__":{"polluted":1}}'));
    assert.equal(body['TableName'], 'abc');
    assert.ok(Object.hasOwn(body, '__proto__'));
    assert.equal(({} as { polluted?: number }).polluted, undefined);
    assert.equal(Object.getPrototypeOf(body), Object.prototype);
  });

  it('refuses empty, malformed, non-object and non-UTF-8 bodies as SerializationException', () => {
    refused(() => parseBody(new Uint8Array(0)), 'SerializationException');
    refused(() => parseBody(bytes('{"a":')), 'SerializationException', /not valid JSON/);
    refused(() => parseBody(bytes('[1,2]')), 'SerializationException', /Start of list/);
    for (const t of ['"x"', '1', 'true', 'null']) refused(() => parseBody(bytes(t)), 'SerializationException', /JSON object/);
    refused(() => parseBody(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 'SerializationException', /UTF-8/);
  });

  it('refuses 10,000 levels of nesting before JSON.parse sees them', () => {
    refused(() => parseBody(bytes(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)), 'SerializationException', /deeper than/);
    refused(() => parseBody(bytes(`{"a":${'{"M":'.repeat(10_000)}1${'}'.repeat(10_001)}`)), 'SerializationException', /deeper than/);
    // Unclosed: still bounded, still refused.
    refused(() => parseBody(bytes('{'.repeat(10_000))), 'SerializationException');
  });

  it('accepts nesting up to the bound and counts no brackets inside strings', () => {
    const depth = JSON_NESTING_MAX;
    assert.doesNotThrow(() => parseBody(bytes(`{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`)));
    const quoted = `{"a":"${'['.repeat(10_000)}\\"${'{'.repeat(10_000)}"}`;
    assert.equal(jsonNestingDepth(bytes(quoted), JSON_NESTING_MAX), 1);
    assert.equal(parseBody(bytes(quoted))['a'], `${'['.repeat(10_000)}"${'{'.repeat(10_000)}`);
  });

  it('refuses a body over REQUEST_BODY_BYTES_MAX (a 20 MB body) without parsing it', () => {
    const big = new Uint8Array(20 * 1024 * 1024).fill(0x20);
    refused(() => parseBody(big), 'ValidationException', /exceeds the maximum/);
    assert.ok(REQUEST_BODY_BYTES_MAX < big.length);
  });
});

describe('responses', () => {
  it('success: DynamoDB\'s headers, CRC of the exact body', () => {
    const r = successResponse({ TableNames: [] }, 'req-1');
    assert.equal(r.status, 200);
    assert.equal(r.body, '{"TableNames":[]}');
    assert.equal(r.headers['Content-Type'], 'application/x-amz-json-1.0');
    assert.equal(r.headers['x-amzn-RequestId'], 'req-1');
    assert.equal(r.headers['x-amz-crc32'], String(crc32Table(bytes(r.body))));
    assert.equal(r.headers['Content-Length'], String(bytes(r.body).length));
    assert.equal(successResponse({}, 'r', 'application/json').headers['Content-Type'], 'application/json');
  });

  it('errors: __type with namespace, `message` for most, `Message` for the deserialiser\'s', () => {
    const v = errorResponse(validationError('bad'), 'r');
    assert.equal(v.status, 400);
    assert.deepEqual(JSON.parse(v.body), { __type: 'com.amazon.coral.validate#ValidationException', message: 'bad' });
    const s = errorResponse(serializationError('wrong'), 'r');
    assert.deepEqual(JSON.parse(s.body), { __type: 'com.amazon.coral.service#SerializationException', Message: 'wrong' });
    const n = errorResponse(new DynamoError('ResourceNotFoundException', 'Requested resource not found'), 'r');
    assert.deepEqual(JSON.parse(n.body), { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' });
    const i = errorResponse(new DynamoError('InternalServerError', 'x'), 'r');
    assert.equal(i.status, 500);
    assert.equal(i.headers['x-amz-crc32'], String(crc32(bytes(i.body))));
  });

  it('escapes what a message carries', () => {
    const r = errorResponse(validationError('a "quoted" \n name'), 'r');
    assert.equal((JSON.parse(r.body) as { message: string }).message, 'a "quoted" \n name');
  });
});

describe('crc32', () => {
  it('has the standard check value', () => {
    assert.equal(crc32Table(bytes('123456789')), 0xcbf43926);
    assert.equal(crc32(bytes('123456789')), 0xcbf43926);
    assert.equal(crc32Table(new Uint8Array(0)), 0);
  });

  it('table and native agree on any bytes (fast-check)', () => {
    const native = (zlib as { readonly crc32?: (d: Uint8Array) => number }).crc32;
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => {
      assert.equal(crc32(b), crc32Table(b));
      if (native !== undefined) assert.equal(native(b) >>> 0, crc32Table(b));
    }), { numRuns: 300 });
  });
});
