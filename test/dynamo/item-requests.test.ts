// The single-item operations as a specification: PutItem, GetItem, DeleteItem and UpdateItem
// bodies (as @aws-sdk/client-dynamodb serialises them) parse into typed operations; invalid ones
// are refused with DynamoDB's exception and message; the schema checks (checkKey,
// checkItemKeys) enforce key presence, types, emptiness and DynamoDB's 2048/1024-byte limits;
// the outputs follow ReturnValues.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { N, S, parseItem, type Item } from '../../src/dynamo/attribute-value.ts';
import { applyUpdate } from '../../src/dynamo/expression-eval.ts';
import {
  getItemOutput, oldItemOutput, parseDeleteItem, parseGetItem, parsePutItem, parseUpdateItem, updateItemOutput,
} from '../../src/dynamo/item-requests.ts';
import { checkItemKeys, checkKey, HASH_KEY_BYTES_MAX, keyFingerprint, keyOf, RANGE_KEY_BYTES_MAX, type TableSchema } from '../../src/dynamo/table-schema.ts';
import { json, refused } from './support.ts';



const schema: TableSchema = { name: 'Music', hashKey: { name: 'Artist', type: 'S' }, rangeKey: { name: 'Song', type: 'N' }, createdAtMs: 0, status: 'ACTIVE' };
const key = { Artist: { S: 'Acme' }, Song: { N: '1' } };

describe('PutItem', () => {
  it('parses item, condition and ReturnValues', () => {
    const op = parsePutItem({
      TableName: 'Music', Item: { ...key, Title: { S: 'x' } }, ConditionExpression: 'attribute_not_exists(#a)',
      ExpressionAttributeNames: { '#a': 'Artist' }, ReturnValues: 'ALL_OLD', ReturnConsumedCapacity: 'TOTAL', ReturnItemCollectionMetrics: 'SIZE',
    });
    assert.equal(op.kind, 'PutItem');
    assert.equal(op.item.get('Title')?.type, 'S');
    assert.deepEqual(op.condition, { kind: 'attribute_not_exists', path: [{ kind: 'name', name: 'Artist' }] });
    assert.equal(op.returnValues, 'ALL_OLD');
    assert.equal(op.returnConsumedCapacity, 'TOTAL');
    assert.equal(op.returnValuesOnConditionCheckFailure, 'NONE');
    assert.equal(parsePutItem({ TableName: 'Music', Item: key }).returnValues, 'NONE');
  });

  it('allows only NONE and ALL_OLD', () => {
    refused(() => parsePutItem({ TableName: 'Music', Item: key, ReturnValues: 'ALL_NEW' }), 'ValidationException', 'ReturnValues can only be ALL_OLD or NONE');
    refused(() => parsePutItem({ TableName: 'Music', Item: key, ReturnValues: 'SOME' }), 'ValidationException',
      "1 validation error detected: Value 'SOME' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]");
  });

  it('refuses a missing item, legacy parameters and stray placeholders', () => {
    refused(() => parsePutItem({ TableName: 'Music' }), 'ValidationException', "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null");
    refused(() => parsePutItem({ TableName: 'Music', Item: key, Expected: { a: { Exists: false } } }), 'ValidationException', /^The legacy parameter Expected is not supported by dynakv; use ConditionExpression/);
    refused(() => parsePutItem({ TableName: 'Music', Item: key, ConditionalOperator: 'AND' }), 'ValidationException', /legacy parameter ConditionalOperator/);
    refused(() => parsePutItem({ TableName: 'Music', Item: key, ExpressionAttributeValues: { ':v': { S: 'x' } } }), 'ValidationException',
      'ExpressionAttributeValues can only be specified when using expressions');
    refused(() => parsePutItem({ TableName: 'Music', Item: key, ExpressionAttributeNames: { '#a': 'x' } }), 'ValidationException',
      'ExpressionAttributeNames can only be specified when using expressions');
    refused(() => parsePutItem({ TableName: 'Music', Item: key, ConditionExpression: 'a = :v', ExpressionAttributeValues: { ':v': { S: 'x' }, ':w': { S: 'y' } } }),
      'ValidationException', 'Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}');
  });

  it('refuses items DynamoDB refuses: bad values, over 400 KB', () => {
    refused(() => parsePutItem({ TableName: 'Music', Item: { ...key, a: { SS: [] } } }), 'ValidationException', /string set {2}may not be empty/);
    refused(() => parsePutItem({ TableName: 'Music', Item: { ...key, a: { S: 'x'.repeat(400 * 1024) } } }), 'ValidationException', 'Item size has exceeded the maximum allowed size');
    refused(() => parsePutItem({ TableName: 'Music', Item: { ...key, a: { N: 5 } } }), 'SerializationException', 'NUMBER_VALUE can not be converted to a String');
    refused(() => parsePutItem({ TableName: 'Music', Item: [key] }), 'SerializationException', 'Start of list found where not expected');
    refused(() => parsePutItem({ TableName: 'Music', Item: 'x' }), 'SerializationException');
  });

  it('keeps __proto__ and constructor as attribute names', () => {
    const body = JSON.parse('{"TableName":"Music","Item":{"Artist":{"S":"a"},"Song":{"N":"1"},"__proto__":{"S":"p"},"constructor":{"N":"2"}}}') as { [k: string]: unknown };
    const op = parsePutItem(body);
    assert.deepEqual(op.item.get('__proto__'), S('p'));
    assert.deepEqual(op.item.get('constructor'), N('2'));
  });

  it('answers ALL_OLD with the old item only when asked and present', () => {
    const op = parsePutItem({ TableName: 'Music', Item: key, ReturnValues: 'ALL_OLD' });
    const old = parseItem({ ...key, x: { S: 'old' } });
    assert.deepEqual(json(oldItemOutput(op, old)), { Attributes: { ...key, x: { S: 'old' } } });
    assert.deepEqual(json(oldItemOutput(op, undefined)), {});
    assert.deepEqual(json(oldItemOutput(parsePutItem({ TableName: 'Music', Item: key }), old)), {});
  });
});

describe('GetItem', () => {
  it('parses key, projection and ConsistentRead', () => {
    const op = parseGetItem({ TableName: 'Music', Key: key, ProjectionExpression: '#t, Song', ExpressionAttributeNames: { '#t': 'Title' }, ConsistentRead: true });
    assert.equal(op.consistentRead, true);
    assert.deepEqual(op.projection, [[{ kind: 'name', name: 'Title' }], [{ kind: 'name', name: 'Song' }]]);
    assert.equal(parseGetItem({ TableName: 'Music', Key: key }).consistentRead, false);
  });

  it('refuses a missing key, AttributesToGet and wrong types', () => {
    refused(() => parseGetItem({ TableName: 'Music' }), 'ValidationException', "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null");
    refused(() => parseGetItem({ TableName: 'Music', Key: key, AttributesToGet: ['a'] }), 'ValidationException', /legacy parameter AttributesToGet.*ProjectionExpression/);
    refused(() => parseGetItem({ TableName: 'Music', Key: key, ConsistentRead: 'true' }), 'SerializationException', 'STRING_VALUE can not be converted to a Boolean');
    refused(() => parseGetItem({ TableName: 'Music', Key: [] }), 'SerializationException');
    refused(() => parseGetItem({ TableName: 'Music', Key: key, ProjectionExpression: '' }), 'ValidationException', /ProjectionExpression/);
  });

  it('answers the item projected, or nothing', () => {
    const op = parseGetItem({ TableName: 'Music', Key: key, ProjectionExpression: 'Title' });
    assert.deepEqual(json(getItemOutput(op, parseItem({ ...key, Title: { S: 't' }, Other: { S: 'o' } }))), { Item: { Title: { S: 't' } } });
    assert.deepEqual(json(getItemOutput(op, undefined)), {});
  });
});

describe('DeleteItem', () => {
  it('parses key, condition, ReturnValues NONE/ALL_OLD', () => {
    const op = parseDeleteItem({ TableName: 'Music', Key: key, ConditionExpression: 'Plays > :n', ExpressionAttributeValues: { ':n': { N: '3' } }, ReturnValues: 'ALL_OLD' });
    assert.equal(op.condition?.kind, 'compare');
    assert.equal(op.returnValues, 'ALL_OLD');
    refused(() => parseDeleteItem({ TableName: 'Music', Key: key, ReturnValues: 'UPDATED_NEW' }), 'ValidationException', 'ReturnValues can only be ALL_OLD or NONE');
    refused(() => parseDeleteItem({ TableName: 'Music', Key: key, ReturnValuesOnConditionCheckFailure: 'ALL_NEW' }), 'ValidationException', /returnValuesOnConditionCheckFailure/);
  });
});

describe('UpdateItem', () => {
  it('parses update, condition and every ReturnValues', () => {
    for (const rv of ['NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW']) {
      const op = parseUpdateItem({
        TableName: 'Music', Key: key, UpdateExpression: 'SET Plays = Plays + :one REMOVE Old', ConditionExpression: 'attribute_exists(Plays)',
        ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValues: rv,
      });
      assert.equal(op.returnValues, rv);
      assert.equal(op.update?.actions.length, 2);
    }
    const bare = parseUpdateItem({ TableName: 'Music', Key: key });
    assert.equal(bare.update, undefined);
  });

  it('refuses AttributeUpdates and bad expressions', () => {
    refused(() => parseUpdateItem({ TableName: 'Music', Key: key, AttributeUpdates: { a: { Action: 'PUT', Value: { S: 'x' } } } }), 'ValidationException', /legacy parameter AttributeUpdates.*UpdateExpression/);
    refused(() => parseUpdateItem({ TableName: 'Music', Key: key, UpdateExpression: 'SET' }), 'ValidationException', /Invalid UpdateExpression: Syntax error/);
    refused(() => parseUpdateItem({ TableName: 'Music', Key: key, UpdateExpression: 5 }), 'SerializationException');
  });

  it('answers each ReturnValues from applyUpdate\'s result', () => {
    const old = parseItem({ ...key, Plays: { N: '1' }, Old: { S: 'o' } });
    const make = (rv: string) => parseUpdateItem({ TableName: 'Music', Key: key, UpdateExpression: 'SET Plays = Plays + :one REMOVE Old', ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValues: rv });
    const result = applyUpdate(old, make('NONE').update!, ['Artist', 'Song']);
    assert.deepEqual(json(updateItemOutput(make('NONE'), old, result)), {});
    assert.deepEqual(json(updateItemOutput(make('ALL_OLD'), old, result)), { Attributes: { ...key, Plays: { N: '1' }, Old: { S: 'o' } } });
    assert.deepEqual(json(updateItemOutput(make('ALL_NEW'), old, result)), { Attributes: { ...key, Plays: { N: '2' } } });
    assert.deepEqual(json(updateItemOutput(make('UPDATED_OLD'), old, result)), { Attributes: { Plays: { N: '1' }, Old: { S: 'o' } } });
    assert.deepEqual(json(updateItemOutput(make('UPDATED_NEW'), old, result)), { Attributes: { Plays: { N: '2' } } });
    const fresh = parseUpdateItem({ TableName: 'Music', Key: key, UpdateExpression: 'SET Plays = :one', ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValues: 'ALL_OLD' });
    assert.deepEqual(json(updateItemOutput(fresh, undefined, applyUpdate(undefined, fresh.update!, ['Artist', 'Song']))), {});
  });
});

describe('checkKey and checkItemKeys', () => {
  const item = (o: object): Item => parseItem(o);

  it('accept exactly the key, with the declared types', () => {
    assert.doesNotThrow(() => checkKey(schema, item(key)));
    assert.doesNotThrow(() => checkItemKeys(schema, item({ ...key, other: { BOOL: true } })));
  });

  it('refuse a key that does not match the schema', () => {
    const mismatch = 'The provided key element does not match the schema';
    refused(() => checkKey(schema, item({ Artist: { S: 'a' } })), 'ValidationException', mismatch);
    refused(() => checkKey(schema, item({ ...key, extra: { S: 'x' } })), 'ValidationException', mismatch);
    refused(() => checkKey(schema, item({ Artist: { S: 'a' }, Song: { S: '1' } })), 'ValidationException', mismatch);
    refused(() => checkKey(schema, item({ Artist: { S: 'a' }, Other: { N: '1' } })), 'ValidationException', mismatch);
    refused(() => checkKey(schema, new Map()), 'ValidationException', mismatch);
    refused(() => checkKey(schema, item({ Artist: { S: 'a' } }), 'The provided starting key is invalid: '), 'ValidationException', `The provided starting key is invalid: ${mismatch}`);
  });

  it('refuse an item missing a key or with the wrong type', () => {
    refused(() => checkItemKeys(schema, item({ Artist: { S: 'a' } })), 'ValidationException', 'One or more parameter values were invalid: Missing the key Song in the item');
    refused(() => checkItemKeys(schema, item({ Artist: { N: '1' }, Song: { N: '1' } })), 'ValidationException',
      'One or more parameter values were invalid: Type mismatch for key Artist expected: S actual: N');
  });

  it('refuse empty string and binary keys', () => {
    refused(() => checkKey(schema, item({ Artist: { S: '' }, Song: { N: '1' } })), 'ValidationException',
      'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: Artist');
    const binary: TableSchema = { name: 'Bin', hashKey: { name: 'id', type: 'B' }, createdAtMs: 0, status: 'ACTIVE' };
    refused(() => checkItemKeys(binary, item({ id: { B: '' } })), 'ValidationException', /empty binary value. Key: id$/);
  });

  it('enforce 2048 bytes for the hash key and 1024 for the range key, in UTF-8 bytes', () => {
    const strings: TableSchema = { name: 'Str', hashKey: { name: 'h', type: 'S' }, rangeKey: { name: 'r', type: 'S' }, createdAtMs: 0, status: 'ACTIVE' };
    assert.doesNotThrow(() => checkKey(strings, item({ h: { S: 'x'.repeat(HASH_KEY_BYTES_MAX) }, r: { S: 'y'.repeat(RANGE_KEY_BYTES_MAX) } })));
    refused(() => checkKey(strings, item({ h: { S: 'x'.repeat(HASH_KEY_BYTES_MAX + 1) }, r: { S: 'y' } })), 'ValidationException',
      'One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes');
    refused(() => checkItemKeys(strings, item({ h: { S: 'x' }, r: { S: 'é'.repeat(RANGE_KEY_BYTES_MAX / 2 + 1) } })), 'ValidationException',
      'One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes');
  });

  it('keyOf and keyFingerprint see only the key, numbers by value', () => {
    const a = item({ Artist: { S: 'a' }, Song: { N: '1.0' }, x: { S: '1' } });
    const b = item({ Artist: { S: 'a' }, Song: { N: '1' }, x: { S: '2' } });
    assert.deepEqual([...keyOf(schema, a).keys()], ['Artist', 'Song']);
    assert.equal(keyFingerprint(schema, a), keyFingerprint(schema, b));
    assert.notEqual(keyFingerprint(schema, a), keyFingerprint(schema, item({ Artist: { S: 'a' }, Song: { N: '2' } })));
  });
});
