// The front door end to end, bytes to operation: a valid body for every operation (shaped as
// @aws-sdk/client-dynamodb serialises its commands) parses into its member of the union, and
// hostile bodies (deep JSON, huge bodies, non-objects, numbers as strings, __proto__ keys,
// arrays where maps belong, random JSON from fast-check) end in a DynamoError: never a
// TypeError, never a crash, never a polluted prototype.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DynamoError } from '../../src/dynamo/errors.ts';
import { parseOperation, type DynamoOperation } from '../../src/dynamo/operations.ts';
import { OPERATION_NAMES, parseBody, parseTarget, type OperationName } from '../../src/dynamo/protocol.ts';

const enc = (x: unknown): Uint8Array => new TextEncoder().encode(typeof x === 'string' ? x : JSON.stringify(x));

/** What the HTTP front does with a request, minus the socket. */
function handle(target: string, body: Uint8Array): DynamoOperation {
  return parseOperation(parseTarget(target), parseBody(body));
}

const key = { Artist: { S: 'Acme' }, Song: { N: '1' } };
const VALID: { readonly [Op in OperationName]: object } = {
  CreateTable: {
    TableName: 'Music', BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'Artist', AttributeType: 'S' }, { AttributeName: 'Song', AttributeType: 'N' }],
    KeySchema: [{ AttributeName: 'Artist', KeyType: 'HASH' }, { AttributeName: 'Song', KeyType: 'RANGE' }],
  },
  DescribeTable: { TableName: 'Music' },
  DeleteTable: { TableName: 'Music' },
  ListTables: { Limit: 10 },
  PutItem: { TableName: 'Music', Item: { ...key, Tags: { SS: ['a', 'b'] } }, ConditionExpression: 'attribute_not_exists(Artist)' },
  GetItem: { TableName: 'Music', Key: key, ProjectionExpression: 'Title', ConsistentRead: true },
  DeleteItem: { TableName: 'Music', Key: key, ReturnValues: 'ALL_OLD' },
  UpdateItem: { TableName: 'Music', Key: key, UpdateExpression: 'ADD Plays :one', ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValues: 'UPDATED_NEW' },
  Query: { TableName: 'Music', KeyConditionExpression: 'Artist = :a', ExpressionAttributeValues: { ':a': { S: 'Acme' } }, Limit: 5 },
  Scan: { TableName: 'Music', Segment: 0, TotalSegments: 2, Select: 'COUNT' },
  BatchWriteItem: { RequestItems: { Music: [{ PutRequest: { Item: key } }, { DeleteRequest: { Key: { ...key, Song: { N: '2' } } } }] } },
  BatchGetItem: { RequestItems: { Music: { Keys: [key] } } },
};

function refusedAsDynamoError(f: () => unknown, label: string): DynamoError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DynamoError, `${label}: expected a DynamoError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  return caught;
}

describe('parseOperation', () => {
  it('parses a valid body of every operation into its member of the union', () => {
    for (const name of OPERATION_NAMES) {
      const op = handle(`DynamoDB_20120810.${name}`, enc(VALID[name]));
      assert.equal(op.kind, name);
    }
  });

  it('ignores unknown top-level members, as DynamoDB does', () => {
    for (const name of OPERATION_NAMES) {
      assert.equal(handle(`DynamoDB_20120810.${name}`, enc({ ...VALID[name], SomethingNew: { deeply: [1, 2, 3] } })).kind, name);
    }
  });

  it('refuses an empty object with a ValidationException naming what is missing', () => {
    for (const name of OPERATION_NAMES) {
      if (name === 'ListTables') continue;
      const e = refusedAsDynamoError(() => handle(`DynamoDB_20120810.${name}`, enc({})), name);
      assert.equal(e.type, 'ValidationException', `${name}: ${e.message}`);
      assert.match(e.message, /TableName|requestItems/);
    }
  });
});

describe('hostile input', () => {
  const targets = OPERATION_NAMES.map((n) => `DynamoDB_20120810.${n}`);

  it('deep JSON (10,000 levels) in every member position is a DynamoError', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const deepMap = `${'{"M":'.repeat(10_000)}{}${'}'.repeat(10_000)}`;
    for (const target of targets) {
      for (const body of [deep, `{"TableName":${deep}}`, `{"TableName":"Music","Item":{"a":${deepMap}}}`, `{"RequestItems":{"Music":${deep}}}`]) {
        refusedAsDynamoError(() => handle(target, enc(body)), target);
      }
    }
  });

  it('attribute values nested past 32 levels, within the JSON bound, get DynamoDB\'s nesting message', () => {
    const nested = (levels: number): unknown => (levels === 1 ? { S: 'x' } : { M: { a: nested(levels - 1) } });
    const e = refusedAsDynamoError(() => handle('DynamoDB_20120810.PutItem', enc({ TableName: 'Music', Item: { ...key, deep: nested(33) } })), 'PutItem');
    assert.match(e.message, /^Nesting Levels have exceeded supported limits/);
    assert.doesNotThrow(() => handle('DynamoDB_20120810.PutItem', enc({ TableName: 'Music', Item: { ...key, deep: nested(32) } })));
  });

  it('a 20 MB body is a DynamoError', () => {
    const body = enc({ TableName: 'Music', Item: { ...key, big: { S: 'x'.repeat(20 * 1024 * 1024) } } });
    refusedAsDynamoError(() => handle('DynamoDB_20120810.PutItem', body), 'PutItem 20 MB');
  });

  it('non-object bodies are SerializationExceptions', () => {
    for (const body of ['[]', '"x"', '42', 'true', 'null', '', '{', '{"a":1,}']) {
      const e = refusedAsDynamoError(() => handle('DynamoDB_20120810.GetItem', enc(body)), body);
      assert.equal(e.type, 'SerializationException', body);
    }
  });

  it('numbers as strings, strings as numbers, arrays where maps belong are SerializationExceptions', () => {
    const cases: [OperationName, object][] = [
      ['ListTables', { Limit: '10' }],
      ['Query', { ...VALID.Query, Limit: '5' }],
      ['Scan', { TableName: 'Music', Segment: '0', TotalSegments: 2 }],
      ['GetItem', { TableName: 'Music', Key: [key] }],
      ['GetItem', { TableName: 'Music', Key: { Artist: ['S', 'x'] } }],
      ['PutItem', { TableName: 'Music', Item: { ...key, n: { N: 1 } } }],
      ['PutItem', { TableName: 'Music', Item: key, ExpressionAttributeValues: [] , ConditionExpression: 'a = :v' }],
      ['UpdateItem', { TableName: 'Music', Key: key, UpdateExpression: ['SET a = :v'] }],
      ['BatchWriteItem', { RequestItems: { Music: { PutRequest: { Item: key } } } }],
      ['BatchGetItem', { RequestItems: { Music: [key] } }],
      ['BatchGetItem', { RequestItems: [] }],
      ['CreateTable', { ...VALID.CreateTable, KeySchema: { AttributeName: 'Artist', KeyType: 'HASH' } }],
      ['DescribeTable', { TableName: 12 }],
    ];
    for (const [name, body] of cases) {
      const e = refusedAsDynamoError(() => handle(`DynamoDB_20120810.${name}`, enc(body)), `${name} ${JSON.stringify(body)}`);
      assert.equal(e.type, 'SerializationException', `${name} ${JSON.stringify(body)}: ${e.message}`);
    }
  });

  it('__proto__ and constructor keys are data everywhere, and pollute nothing', () => {
    const bodies: [OperationName, string][] = [
      ['PutItem', '{"TableName":"Music","Item":{"Artist":{"S":"a"},"Song":{"N":"1"},"__proto__":{"S":"x"}}}'],
      ['PutItem', '{"__proto__":{"TableName":"Music"},"Item":{}}'],
      ['GetItem', '{"TableName":"Music","Key":{"__proto__":{"S":"x"}}}'],
      ['UpdateItem', '{"TableName":"Music","Key":{"Artist":{"S":"a"}},"UpdateExpression":"SET #p = :v","ExpressionAttributeNames":{"#p":"__proto__"},"ExpressionAttributeValues":{":v":{"M":{"__proto__":{"S":"y"}}}}}'],
      ['BatchWriteItem', '{"RequestItems":{"__proto__":[{"PutRequest":{"Item":{}}}]}}'],
      ['BatchGetItem', '{"RequestItems":{"constructor":{"Keys":[{"__proto__":{"S":"x"}}]}}}'],
      ['CreateTable', '{"TableName":"Music","AttributeDefinitions":[{"AttributeName":"__proto__","AttributeType":"S"}],"KeySchema":[{"AttributeName":"__proto__","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}'],
    ];
    for (const [name, body] of bodies) {
      try {
        handle(`DynamoDB_20120810.${name}`, enc(body));
      } catch (e) {
        assert.ok(e instanceof DynamoError, `${name} ${body}: ${String(e)}`);
      }
    }
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'S'), false);
    assert.equal(({} as { TableName?: unknown }).TableName, undefined);
    const proto = handle('DynamoDB_20120810.CreateTable', enc(bodies[6]![1]));
    assert.ok(proto.kind === 'CreateTable' && proto.hashKey.name === '__proto__');
    // `__proto__` is a valid table name ([a-zA-Z0-9_.-]): it parses as that name, not as a prototype.
    const batch = handle('DynamoDB_20120810.BatchWriteItem', enc(bodies[4]![1]));
    assert.ok(batch.kind === 'BatchWriteItem' && batch.tables[0]!.tableName === '__proto__');
  });

  it('random JSON of any shape, in every operation, is parsed or refused with a DynamoError (fast-check)', () => {
    const anyJson = fc.jsonValue({ maxDepth: 6 });
    const member = fc.constantFrom('TableName', 'Key', 'Item', 'RequestItems', 'KeyConditionExpression', 'ExpressionAttributeValues', 'ExpressionAttributeNames',
      'UpdateExpression', 'ProjectionExpression', 'Limit', 'Segment', 'TotalSegments', 'Select', 'ReturnValues', 'AttributeDefinitions', 'KeySchema',
      'ExclusiveStartKey', '__proto__', 'BillingMode', 'ProvisionedThroughput', 'ConsistentRead', 'ScanIndexForward');
    const body = fc.dictionary(member, anyJson, { maxKeys: 6 });
    fc.assert(fc.property(fc.constantFrom(...OPERATION_NAMES), body, (name, raw) => {
      const text = JSON.stringify({ ...VALID[name], ...raw });
      try {
        handle(`DynamoDB_20120810.${name}`, enc(text));
      } catch (e) {
        assert.ok(e instanceof DynamoError, `${name} ${text}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }), { numRuns: 3000 });
  });
});

describe('messages stay bounded', () => {
  it('a 100,000-element list in a constraint message is clipped', () => {
    const keySchema = Array.from({ length: 100_000 }, () => ({ AttributeName: 'a', KeyType: 'HASH' }));
    const e = refusedAsDynamoError(() => handle('DynamoDB_20120810.CreateTable', enc({ ...VALID.CreateTable, KeySchema: keySchema })), 'CreateTable');
    assert.ok(e.message.length < 2000, `message of ${e.message.length} chars`);
    assert.match(e.message, /Member must have length less than or equal to 2/);
  });
});
