// Query and Scan as a specification: bodies parse into operations (key condition unbound until
// the schema is known), Select / ProjectionExpression / Limit / Segment rules refuse with
// DynamoDB's messages, checkQuery binds the key condition and judges ExclusiveStartKey, and
// readOutput shapes a page (COUNT has no Items, projection applies to each item).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseItem, S, N } from '../../src/dynamo/attribute-value.ts';
import { checkQuery, checkScan, parseQuery, parseScan, readOutput, sortKeyConditionHolds } from '../../src/dynamo/query-requests.ts';
import type { TableSchema } from '../../src/dynamo/table-schema.ts';
import { json, refused } from './support.ts';


const schema: TableSchema = { name: 'Music', hashKey: { name: 'Artist', type: 'S' }, rangeKey: { name: 'Song', type: 'N' }, createdAtMs: 0, status: 'ACTIVE' };
const query = (extra: object = {}) => ({
  TableName: 'Music', KeyConditionExpression: 'Artist = :a AND Song BETWEEN :lo AND :hi',
  ExpressionAttributeValues: { ':a': { S: 'Acme' }, ':lo': { N: '1' }, ':hi': { N: '9' } }, ...extra,
});

describe('Query sort-key condition values', () => {
  const events: TableSchema = { name: 'Events', hashKey: { name: 'pk', type: 'S' }, rangeKey: { name: 'sk', type: 'S' }, createdAtMs: 0, status: 'ACTIVE' };
  const files: TableSchema = { name: 'Files', hashKey: { name: 'pk', type: 'S' }, rangeKey: { name: 'sk', type: 'B' }, createdAtMs: 0, status: 'ACTIVE' };
  const bind = (table: TableSchema, condition: string, values: Record<string, unknown>) =>
    checkQuery(table, parseQuery({ TableName: table.name, KeyConditionExpression: `pk = :p AND ${condition}`, ExpressionAttributeValues: { ':p': { S: 'p' }, ...values } }));
  const long = 'x'.repeat(1_025);

  it('are held to the sort key limits (non-empty, at most 1,024 bytes) with a ValidationException, not a key-codec error', () => {
    for (const condition of ['sk = :v', 'sk < :v', 'sk >= :v', 'begins_with(sk, :v)', 'sk BETWEEN :v AND :w', 'sk BETWEEN :w AND :v']) {
      // The other BETWEEN bound is valid and in order, so only :v is wrong.
      const w = (low: string, high: string) => (condition.includes(':v AND :w') ? { ':w': { S: high } } : condition.includes(':w') ? { ':w': { S: low } } : {});
      refused(() => bind(events, condition, { ':v': { S: '' }, ...w('', 'm') }), 'ValidationException', /cannot contain an empty string value. Key: sk$/);
      refused(() => bind(events, condition, { ':v': { S: long }, ...w('a', 'y') }), 'ValidationException', /exceeded the size limit of 1024 bytes$/);
    }
    refused(() => bind(files, 'sk = :v', { ':v': { B: '' } }), 'ValidationException', /cannot contain an empty binary value/);
    refused(() => bind(files, 'begins_with(sk, :v)', { ':v': { B: Buffer.alloc(1_025).toString('base64') } }), 'ValidationException', /size limit of 1024 bytes$/);
    assert.doesNotThrow(() => bind(events, 'sk BETWEEN :v AND :w', { ':v': { S: 'a' }, ':w': { S: long.slice(1) } }));
    assert.doesNotThrow(() => bind(files, 'begins_with(sk, :v)', { ':v': { B: Buffer.alloc(1_024).toString('base64') } }));
  });
});

describe('Query', () => {
  it('parses with defaults and binds to the schema', () => {
    const op = parseQuery(query());
    assert.equal(op.kind, 'Query');
    assert.equal(op.scanIndexForward, true);
    assert.equal(op.select, 'ALL_ATTRIBUTES');
    assert.equal(op.consistentRead, false);
    assert.equal(op.limit, undefined);
    const bound = checkQuery(schema, op);
    assert.deepEqual(bound.keyCondition.hashValue, S('Acme'));
    assert.deepEqual(bound.keyCondition.sort, { name: 'Song', condition: { kind: 'between', low: N('1'), high: N('9') } });
  });

  it('parses every option', () => {
    const op = parseQuery(query({
      FilterExpression: 'Plays > :lo', ProjectionExpression: 'Title', ScanIndexForward: false, Limit: 10, ConsistentRead: true,
      ExclusiveStartKey: { Artist: { S: 'Acme' }, Song: { N: '3' } }, ReturnConsumedCapacity: 'INDEXES',
    }));
    assert.equal(op.scanIndexForward, false);
    assert.equal(op.limit, 10);
    assert.equal(op.select, 'SPECIFIC_ATTRIBUTES');
    assert.equal(op.filter?.kind, 'compare');
    assert.doesNotThrow(() => checkQuery(schema, op));
  });

  it('refuses what DynamoDB refuses', () => {
    refused(() => parseQuery({ TableName: 'Music' }), 'ValidationException', 'Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
    refused(() => parseQuery(query({ KeyConditions: {} })), 'ValidationException', /legacy parameter KeyConditions.*KeyConditionExpression/);
    refused(() => parseQuery(query({ QueryFilter: {} })), 'ValidationException', /legacy parameter QueryFilter/);
    refused(() => parseQuery(query({ IndexName: 'byTitle' })), 'ValidationException', 'The table does not have the specified index: byTitle');
    refused(() => parseQuery(query({ Limit: 0 })), 'ValidationException', "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
    refused(() => parseQuery(query({ Limit: '10' })), 'SerializationException', 'STRING_VALUE can not be converted to an Integer');
    refused(() => parseQuery(query({ ScanIndexForward: 'false' })), 'SerializationException');
    refused(() => parseQuery(query({ Select: 'COUNT', ProjectionExpression: 'Title' })), 'ValidationException', 'Cannot specify the ProjectionExpression when choosing to get only the Count');
    refused(() => parseQuery(query({ Select: 'ALL_ATTRIBUTES', ProjectionExpression: 'Title' })), 'ValidationException', 'Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES');
    refused(() => parseQuery(query({ Select: 'ALL_PROJECTED_ATTRIBUTES' })), 'ValidationException', 'ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName');
    refused(() => parseQuery(query({ Select: 'SPECIFIC_ATTRIBUTES' })), 'ValidationException', /SPECIFIC_ATTRIBUTES/);
    refused(() => parseQuery(query({ Select: 'ALL' })), 'ValidationException', /enum value set: \[ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES, SPECIFIC_ATTRIBUTES, COUNT\]/);
    refused(() => parseQuery(query({ KeyConditionExpression: 'Artist = :a OR Song = :lo' })), 'ValidationException', 'Invalid operator used in KeyConditionExpression: OR');
    refused(() => parseQuery(query({ ExclusiveStartKey: { Artist: { S: 'a', N: '1' } } })), 'ValidationException', /^The provided starting key is invalid: Supplied AttributeValue has more than one datatypes set/);
  });

  it('refuses against the schema: other attributes, wrong types, start keys out of range', () => {
    refused(() => checkQuery(schema, parseQuery(query({ KeyConditionExpression: 'Title = :a', ExpressionAttributeValues: { ':a': { S: 'x' } } }))), 'ValidationException', /Query condition missed key schema element/);
    refused(() => checkQuery(schema, parseQuery(query({ KeyConditionExpression: 'Song = :lo', ExpressionAttributeValues: { ':lo': { N: '1' } } }))), 'ValidationException', 'Query condition missed key schema element: Artist');
    refused(() => checkQuery(schema, parseQuery(query({ ExpressionAttributeValues: { ':a': { N: '1' }, ':lo': { N: '1' }, ':hi': { N: '9' } } }))), 'ValidationException',
      'One or more parameter values were invalid: Condition parameter type does not match schema type');
    refused(() => checkQuery(schema, parseQuery(query({ ExpressionAttributeValues: { ':a': { S: '' }, ':lo': { N: '1' }, ':hi': { N: '9' } } }))), 'ValidationException', /cannot contain an empty string value/);
    refused(() => checkQuery(schema, parseQuery(query({ KeyConditionExpression: 'Artist = :a AND begins_with(Song, :p)', ExpressionAttributeValues: { ':a': { S: 'x' }, ':p': { S: '1' } } }))),
      'ValidationException', /Condition parameter type does not match schema type/);
    refused(() => checkQuery(schema, parseQuery(query({ ExclusiveStartKey: { Artist: { S: 'Acme' } } }))), 'ValidationException',
      'The provided starting key is invalid: The provided key element does not match the schema');
    refused(() => checkQuery(schema, parseQuery(query({ ExclusiveStartKey: { Artist: { S: 'Other' }, Song: { N: '3' } } }))), 'ValidationException', /^The provided starting key is invalid: The partition key/);
    refused(() => checkQuery(schema, parseQuery(query({ ExclusiveStartKey: { Artist: { S: 'Acme' }, Song: { N: '30' } } }))), 'ValidationException', 'The provided starting key does not match the range key predicate');
  });
});

describe('sortKeyConditionHolds', () => {
  it('follows the comparison of the key type', () => {
    assert.ok(sortKeyConditionHolds({ kind: 'compare', op: '<', value: N('10') }, N('9')));
    assert.ok(!sortKeyConditionHolds({ kind: 'compare', op: '<', value: S('10') }, S('9')));
    assert.ok(sortKeyConditionHolds({ kind: 'between', low: N('1'), high: N('1') }, N('1.0')));
    assert.ok(sortKeyConditionHolds({ kind: 'begins_with', prefix: S('ab') }, S('abc')));
    assert.ok(!sortKeyConditionHolds({ kind: 'begins_with', prefix: S('abcd') }, S('abc')));
    assert.ok(sortKeyConditionHolds({ kind: 'begins_with', prefix: { type: 'B', value: new Uint8Array([1]) } }, { type: 'B', value: new Uint8Array([1, 2]) }));
    assert.ok(!sortKeyConditionHolds({ kind: 'compare', op: '=', value: S('1') }, N('1')));
  });
});

describe('Scan', () => {
  it('parses segments and options', () => {
    const op = parseScan({ TableName: 'Music', Segment: 3, TotalSegments: 4, Limit: 2, Select: 'COUNT', FilterExpression: 'attribute_exists(x)' });
    assert.deepEqual(op.segment, { segment: 3, totalSegments: 4 });
    assert.equal(op.select, 'COUNT');
    assert.equal(parseScan({ TableName: 'Music' }).segment, undefined);
    assert.doesNotThrow(() => checkScan(schema, parseScan({ TableName: 'Music', ExclusiveStartKey: { Artist: { S: 'a' }, Song: { N: '1' } } })));
    refused(() => checkScan(schema, parseScan({ TableName: 'Music', ExclusiveStartKey: { Artist: { S: 'a' } } })), 'ValidationException', /starting key is invalid/);
  });

  it('enforces DynamoDB\'s Segment/TotalSegments rules', () => {
    refused(() => parseScan({ TableName: 'Music', Segment: 1 }), 'ValidationException', 'The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
    refused(() => parseScan({ TableName: 'Music', TotalSegments: 2 }), 'ValidationException', 'The Segment parameter is required but was not present in the request when parameter TotalSegments is present');
    refused(() => parseScan({ TableName: 'Music', Segment: 5, TotalSegments: 5 }), 'ValidationException',
      'The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 5 is not less than TotalSegments: 5');
    refused(() => parseScan({ TableName: 'Music', Segment: -1, TotalSegments: 5 }), 'ValidationException', /Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0/);
    refused(() => parseScan({ TableName: 'Music', Segment: 0, TotalSegments: 1_000_001 }), 'ValidationException', /at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000/);
    refused(() => parseScan({ TableName: 'Music', ScanFilter: {} }), 'ValidationException', /legacy parameter ScanFilter/);
  });
});

describe('readOutput', () => {
  const items = [parseItem({ Artist: { S: 'a' }, Song: { N: '1' }, Title: { S: 't1' } }), parseItem({ Artist: { S: 'a' }, Song: { N: '2' }, Title: { S: 't2' } })];

  it('projects items and carries counts and LastEvaluatedKey', () => {
    const op = parseQuery(query({ ProjectionExpression: 'Title' }));
    assert.deepEqual(json(readOutput(op, { matched: items, scannedCount: 5, lastEvaluatedKey: parseItem({ Artist: { S: 'a' }, Song: { N: '2' } }) })), {
      Items: [{ Title: { S: 't1' } }, { Title: { S: 't2' } }], Count: 2, ScannedCount: 5, LastEvaluatedKey: { Artist: { S: 'a' }, Song: { N: '2' } },
    });
  });

  it('leaves Items out for COUNT', () => {
    assert.deepEqual(json(readOutput(parseScan({ TableName: 'Music', Select: 'COUNT' }), { matched: items, scannedCount: 2 })), { Count: 2, ScannedCount: 2 });
  });
});
