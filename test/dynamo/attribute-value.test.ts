// The wire parser is the edge where JSON becomes AttributeValues: these tests hold it to
// DynamoDB's validation (one type key, sets non-empty and distinct, NULL true, depth 32, numbers
// by decimal.ts), to hostile input (prototype names, deep nesting, wrong JSON types, huge
// values), and check that toWire inverts it and that sizes follow DynamoDB's published rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  attributeValueSizeBytes, attributeValuesEqual, checkItemNesting, ITEM_BYTES_MAX, itemSizeBytes, itemToWire, L, M, N, NESTING_LEVELS_MAX,
  nestingLevels, NULL, parseAttributeValue, parseItem, S, toWire, type AttributeValue,
} from '../../src/dynamo/attribute-value.ts';
import { DynamoError, type DynamoErrorType } from '../../src/dynamo/errors.ts';

function refused(f: () => unknown, type: DynamoErrorType, message?: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, String(e));
    assert.equal(e.type, type, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

function deepMap(wraps: number): unknown {
  let v: unknown = { S: 'leaf' };
  for (let i = 0; i < wraps; i++) v = { M: { n: v } };
  return v;
}

describe('parseAttributeValue', () => {
  it('parses every type and toWire gives the wire form back', () => {
    const wire = [
      { S: 'héllo' }, { S: '' }, { N: '42' }, { B: 'AQID' }, { B: '' }, { BOOL: false }, { NULL: true },
      { L: [{ S: 'a' }, { N: '1' }] }, { M: { a: { S: 'x' }, b: { L: [] } } }, { SS: ['a', 'b'] }, { NS: ['1', '2.5'] }, { BS: ['AQ==', 'Ag=='] },
    ];
    for (const w of wire) assert.deepEqual(JSON.parse(JSON.stringify(toWire(parseAttributeValue(w)))), w, JSON.stringify(w));
    const b = parseAttributeValue({ B: 'AQID' });
    assert.ok(b.type === 'B' && b.value instanceof Uint8Array && b.value.length === 3);
  });

  it('canonicalises numbers, in N and NS', () => {
    assert.deepEqual(toWire(parseAttributeValue({ N: '001.50' })), { N: '1.5' });
    assert.deepEqual(toWire(parseAttributeValue({ NS: ['1e2', '-0.0'] })), { NS: ['100', '0'] });
  });

  it('refuses anything but exactly one type key', () => {
    const empty = 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
    refused(() => parseAttributeValue({}), 'ValidationException', empty);
    refused(() => parseAttributeValue({ X: 'a' }), 'ValidationException', empty);
    refused(() => parseAttributeValue({ S: null }), 'ValidationException', empty);
    refused(() => parseAttributeValue({ L: [{}] }), 'ValidationException', empty);
    refused(() => parseAttributeValue({ S: 'a', N: '1' }), 'ValidationException', 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
  });

  it('refuses empty, duplicated and malformed sets, and NULL false, with DynamoDB\'s messages', () => {
    const p = 'One or more parameter values were invalid: ';
    refused(() => parseAttributeValue({ SS: [] }), 'ValidationException', `${p}An string set  may not be empty`);
    refused(() => parseAttributeValue({ NS: [] }), 'ValidationException', `${p}An number set  may not be empty`);
    refused(() => parseAttributeValue({ BS: [] }), 'ValidationException', `${p}Binary sets should not be empty`);
    refused(() => parseAttributeValue({ SS: ['a', 'a'] }), 'ValidationException', `${p}Input collection [a, a] contains duplicates.`);
    refused(() => parseAttributeValue({ NS: ['1', '1.0'] }), 'ValidationException', 'Input collection contains duplicates');
    refused(() => parseAttributeValue({ BS: ['Yg==', 'Yg=='] }), 'ValidationException', `${p}Input collection [Yg==, Yg==]of type BS contains duplicates.`);
    // A huge set with a duplicate is quoted clipped, not echoed whole (a 16 MB set made a 16 MB message).
    const many = Array.from({ length: 100_000 }, (_, i) => `${i}`.padStart(100, 'm'));
    assert.throws(() => parseAttributeValue({ SS: [...many, many[0]!] }), (e: unknown) => {
      assert.ok(e instanceof DynamoError && e.type === 'ValidationException');
      assert.ok(e.message.length < 500, `message of ${e.message.length} characters`);
      assert.ok(e.message.startsWith(`${p}Input collection [${many[0]}, ${many[1]!.slice(0, 50)}`) && e.message.endsWith('... contains duplicates.'), e.message);
      return true;
    });
    const blobs = Array.from({ length: 20_000 }, (_, i) => Buffer.from(`${i}`.padStart(96, 'b')).toString('base64'));
    assert.throws(() => parseAttributeValue({ BS: [...blobs, blobs[1]!] }), (e: unknown) => {
      assert.ok(e instanceof DynamoError && e.message.length < 500 && e.message.endsWith('...of type BS contains duplicates.'), String(e).slice(0, 300));
      return true;
    });
    refused(() => parseAttributeValue({ SS: ['a', ''] }), 'ValidationException', `${p}An string set may not have a empty string as a member`);
    refused(() => parseAttributeValue({ BS: ['AQ==', ''] }), 'ValidationException', `${p}Binary sets may not contain null or empty values`);
    refused(() => parseAttributeValue({ NULL: false }), 'ValidationException', `${p}Null attribute value types must have the value of true`);
    refused(() => parseAttributeValue({ N: 'abc' }), 'ValidationException', 'The parameter cannot be converted to a numeric value: abc');
    refused(() => parseAttributeValue({ NS: ['1', 'x'] }), 'ValidationException', 'The parameter cannot be converted to a numeric value: x');
  });

  it('refuses JSON of the wrong shape as a SerializationException', () => {
    for (const bad of [{ S: 5 }, { S: true }, { S: [] }, { S: {} }, { N: 1 }, { BOOL: 'true' }, { NULL: 'yes' }, { L: {} }, { L: 'x' }, { M: [] }, { M: 'x' }, { SS: 'a' }, { SS: [1] }, { NS: [1] }, { B: 7 }, { B: 'not base64!' }, { B: 'AQI' }, 'S', 42, true, [] as unknown]) {
      refused(() => parseAttributeValue(bad), 'SerializationException');
    }
  });

  it('refuses strings that are not valid Unicode', () => {
    refused(() => parseAttributeValue({ S: 'a\uD800b' }), 'ValidationException', /invalid UTF-8/);
    refused(() => parseAttributeValue({ M: { '\uDC00': { S: 'x' } } }), 'ValidationException', /invalid UTF-8/);
    assert.equal(parseAttributeValue({ S: '\uD83D\uDE00' }).type, 'S');
  });

  it('accepts 32 levels and refuses 33, without deep recursion on deeper input', () => {
    assert.equal(nestingLevels(parseAttributeValue(deepMap(NESTING_LEVELS_MAX - 1))), NESTING_LEVELS_MAX);
    const nest = /^Nesting Levels have exceeded supported limits/;
    refused(() => parseAttributeValue(deepMap(NESTING_LEVELS_MAX)), 'ValidationException', nest);
    let list: unknown = { S: 'x' };
    for (let i = 0; i < 100_000; i++) list = { L: [list] };
    refused(() => parseAttributeValue(list), 'ValidationException', nest);
    refused(() => checkItemNesting(new Map([['a', parseDeepUnchecked(NESTING_LEVELS_MAX)]])), 'ValidationException', nest);
  });

  it('treats __proto__, constructor and friends as plain names', () => {
    const wire = JSON.parse('{"M":{"__proto__":{"S":"p"},"constructor":{"N":"1"},"hasOwnProperty":{"BOOL":true}}}') as unknown;
    const v = parseAttributeValue(wire);
    assert.ok(v.type === 'M');
    assert.deepEqual([...v.value.keys()], ['__proto__', 'constructor', 'hasOwnProperty']);
    const back = toWire(v) as { M: Record<string, unknown> };
    assert.deepEqual(Object.keys(back.M), ['__proto__', 'constructor', 'hasOwnProperty']);
    assert.equal(JSON.stringify(back), JSON.stringify(wire));
    assert.equal(({} as Record<string, unknown>)['p'], undefined, 'Object.prototype untouched');
  });
});

/** A value `levels` deep built directly, bypassing the parser's check. */
function parseDeepUnchecked(levels: number): AttributeValue {
  let v: AttributeValue = S('leaf');
  for (let i = 1; i < levels + 1; i++) v = M([['n', v]]);
  return v;
}

describe('parseItem', () => {
  it('parses names with prototype meaning as plain attributes', () => {
    const item = parseItem(JSON.parse('{"__proto__":{"S":"x"},"toString":{"N":"2"}}'));
    assert.deepEqual([...item.keys()], ['__proto__', 'toString']);
    const wire = itemToWire(item);
    assert.deepEqual(Object.keys(wire), ['__proto__', 'toString']);
    assert.equal(Object.getPrototypeOf(wire), null);
  });

  it('refuses empty names, non-objects and items over 400 KB', () => {
    refused(() => parseItem({ '': { S: 'x' } }), 'ValidationException', /attribute name may not be empty/);
    refused(() => parseItem([]), 'SerializationException');
    refused(() => parseItem('x'), 'SerializationException');
    const fits = ITEM_BYTES_MAX - 1;
    assert.equal(itemSizeBytes(parseItem({ a: { S: 'x'.repeat(fits) } })), ITEM_BYTES_MAX);
    refused(() => parseItem({ a: { S: 'x'.repeat(fits + 1) } }), 'ValidationException', 'Item size has exceeded the maximum allowed size');
    refused(() => parseItem({ a: { S: 'x'.repeat(10 * ITEM_BYTES_MAX) } }), 'ValidationException', /Item size/);
  });
});

describe('itemSizeBytes', () => {
  it('follows DynamoDB\'s rules for each type', () => {
    const cases: [unknown, number][] = [
      [{ S: 'abc' }, 3], [{ S: 'é' }, 2], [{ N: '12345' }, 4], [{ N: '1' }, 2], [{ N: '0.00100' }, 2], [{ B: 'AQID' }, 3],
      [{ BOOL: true }, 1], [{ NULL: true }, 1], [{ L: [] }, 3], [{ M: {} }, 3], [{ L: [{ S: 'ab' }, { NULL: true }] }, 3 + (1 + 2) + (1 + 1)],
      [{ M: { ab: { S: 'c' } } }, 3 + 1 + 2 + 1], [{ SS: ['a', 'bc'] }, 3], [{ NS: ['1', '123'] }, 2 + 3], [{ BS: ['AQ==', 'AQI='] }, 3],
    ];
    for (const [wire, size] of cases) assert.equal(attributeValueSizeBytes(parseAttributeValue(wire)), size, JSON.stringify(wire));
    assert.equal(itemSizeBytes(new Map([['id', S('abc')], ['né', N('1')]])), 2 + 3 + 3 + 2);
  });
});

describe('attributeValuesEqual', () => {
  it('compares deeply, sets without order, numbers by value', () => {
    const eq = (a: unknown, b: unknown) => attributeValuesEqual(parseAttributeValue(a), parseAttributeValue(b));
    assert.ok(eq({ N: '1.0' }, { N: '1' }));
    assert.ok(eq({ SS: ['a', 'b'] }, { SS: ['b', 'a'] }));
    assert.ok(eq({ NS: ['1', '2'] }, { NS: ['2.0', '1'] }));
    assert.ok(eq({ BS: ['AQ==', 'Ag=='] }, { BS: ['Ag==', 'AQ=='] }));
    assert.ok(eq({ M: { a: { L: [{ S: 'x' }] } } }, { M: { a: { L: [{ S: 'x' }] } } }));
    assert.ok(!eq({ L: [{ S: 'a' }, { S: 'b' }] }, { L: [{ S: 'b' }, { S: 'a' }] }));
    assert.ok(!eq({ S: '1' }, { N: '1' }));
    assert.ok(!eq({ M: { a: { S: 'x' } } }, { M: { b: { S: 'x' } } }));
    assert.ok(attributeValuesEqual(NULL, NULL));
    assert.ok(!attributeValuesEqual(L([S('a')]), L([])));
  });

  it('round-trips arbitrary values through the wire (property)', () => {
    const leaf = fc.oneof(
      fc.string().filter((s) => !/[\uD800-\uDFFF]/.test(s)).map((s) => ({ S: s })),
      fc.integer().map((n) => ({ N: String(n) })),
      fc.boolean().map((b) => ({ BOOL: b })),
      fc.constant({ NULL: true }),
      fc.uniqueArray(fc.string({ minLength: 1 }).filter((s) => !/[\uD800-\uDFFF]/.test(s)), { minLength: 1, maxLength: 4 }).map((ss) => ({ SS: ss })),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }).map((l) => ({ L: l })), fc.dictionary(fc.string(), tie('v'), { maxKeys: 3 }).map((m) => ({ M: m }))),
    })).v;
    fc.assert(fc.property(value, (wire) => {
      const parsed = parseAttributeValue(wire);
      const again = parseAttributeValue(JSON.parse(JSON.stringify(toWire(parsed))));
      assert.ok(attributeValuesEqual(parsed, again));
    }));
  });
});
