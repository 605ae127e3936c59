// The table operations as a specification: which CreateTable, DescribeTable, DeleteTable and
// ListTables bodies parse into which operations (shaped as @aws-sdk/client-dynamodb serialises
// its commands), which are refused with which exception and message (DynamoDB's, as recorded by
// dynalite against the live service, where known), and the outputs: DescribeTable's shape and
// ListTables' paging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoError } from '../../src/dynamo/errors.ts';
import {
  createTableOutput, deleteTableOutput, describeTableOutput, listTablesPage, parseCreateTable, parseDescribeTable, parseListTables,
  schemaOfCreateTable, tableNotFoundMessage, type ListTablesOperation,
} from '../../src/dynamo/table-requests.ts';
import { tableDescription, type TableSchema } from '../../src/dynamo/table-schema.ts';
import { refused } from './support.ts';


const onDemand = (extra: object = {}) => ({
  TableName: 'Music',
  AttributeDefinitions: [{ AttributeName: 'Artist', AttributeType: 'S' }, { AttributeName: 'Song', AttributeType: 'N' }],
  KeySchema: [{ AttributeName: 'Artist', KeyType: 'HASH' }, { AttributeName: 'Song', KeyType: 'RANGE' }],
  BillingMode: 'PAY_PER_REQUEST',
  ...extra,
});

describe('CreateTable', () => {
  it('parses hash and range keys with their types', () => {
    assert.deepEqual(parseCreateTable(onDemand()), {
      kind: 'CreateTable', tableName: 'Music', hashKey: { name: 'Artist', type: 'S' }, rangeKey: { name: 'Song', type: 'N' },
    });
    const hashOnly = parseCreateTable({
      TableName: 'a.b-c_1', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'B' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
    });
    assert.deepEqual(hashOnly, { kind: 'CreateTable', tableName: 'a.b-c_1', hashKey: { name: 'id', type: 'B' } });
  });

  it('accepts and ignores BillingMode and ProvisionedThroughput, with DynamoDB\'s rules for them', () => {
    assert.doesNotThrow(() => parseCreateTable(onDemand({ BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } })));
    refused(() => parseCreateTable(onDemand({ BillingMode: undefined })), 'ValidationException',
      'One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED');
    refused(() => parseCreateTable(onDemand({ ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } })), 'ValidationException',
      'One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST');
    refused(() => parseCreateTable(onDemand({ BillingMode: 'A' })), 'ValidationException',
      "1 validation error detected: Value 'A' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]");
    refused(() => parseCreateTable(onDemand({ BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 1000000000001, WriteCapacityUnits: 1 } })),
      'ValidationException', 'Given value 1000000000001 for ReadCapacityUnits is out of bounds');
    refused(() => parseCreateTable(onDemand({ BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 0 } })), 'ValidationException',
      /^2 validation errors detected: Value null at 'provisionedThroughput.writeCapacityUnits' .*Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1$/);
  });

  it('checks the table name as DynamoDB does', () => {
    refused(() => parseCreateTable({}), 'ValidationException', "The parameter 'TableName' is required but was not present in the request");
    for (const name of ['', 'ab', 'x'.repeat(256)]) {
      refused(() => parseCreateTable(onDemand({ TableName: name })), 'ValidationException', 'TableName must be at least 3 characters long and at most 255 characters long');
    }
    refused(() => parseCreateTable(onDemand({ TableName: 'abc;' })), 'ValidationException',
      "1 validation error detected: Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    refused(() => parseCreateTable(onDemand({ TableName: 5 })), 'SerializationException', 'NUMBER_VALUE can not be converted to a String');
  });

  it('collects shape failures into one message, paths as DynamoDB writes them', () => {
    // DynamoDB lists them in its model's member order; we list them in the order we read them.
    assert.throws(() => parseCreateTable({ TableName: 'abc;' }), (e: unknown) => {
      assert.ok(e instanceof DynamoError && e.type === 'ValidationException');
      assert.match(e.message, /^3 validation errors detected: /);
      for (const part of [
        "Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null",
        "Value null at 'keySchema' failed to satisfy constraint: Member must not be null",
        "Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      ]) assert.ok(e.message.includes(part), part);
      return true;
    });
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [{ AttributeName: 'b', AttributeType: 'SS' }] })), 'ValidationException',
      "1 validation error detected: Value 'SS' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]");
    refused(() => parseCreateTable(onDemand({ KeySchema: [] })), 'ValidationException', /Value '\[\]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1/);
    refused(() => parseCreateTable(onDemand({ KeySchema: [{ KeyType: 'HASH' }, { AttributeName: 'a' }, { AttributeName: 'a', KeyType: 'Woop' }] })), 'ValidationException',
      /at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2; Value null at 'keySchema.1.member.attributeName'.*'keySchema.2.member.keyType'.*Value 'Woop' at 'keySchema.3.member.keyType'/);
  });

  it('checks the key schema against the definitions with DynamoDB\'s messages', () => {
    const S = (n: string) => ({ AttributeName: n, AttributeType: 'S' });
    const K = (n: string, t: string) => ({ AttributeName: n, KeyType: t });
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [S('b')], KeySchema: [K('a', 'HASH')] })), 'ValidationException',
      'One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [a], AttributeDefinitions: [b]');
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [S('b')], KeySchema: [K('a', 'HASH'), K('b', 'RANGE')] })), 'ValidationException',
      'Invalid KeySchema: Some index key attribute have no definition');
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [S('a'), S('b')], KeySchema: [K('a', 'HASH'), K('a', 'HASH')] })), 'ValidationException',
      'Both the Hash Key and the Range Key element in the KeySchema have the same name');
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [S('a'), S('b')], KeySchema: [K('a', 'RANGE'), K('b', 'HASH')] })), 'ValidationException',
      'Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [S('a'), S('b')], KeySchema: [K('a', 'HASH'), K('b', 'HASH')] })), 'ValidationException',
      'Invalid KeySchema: The second KeySchemaElement is not a RANGE key type');
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [S('a'), S('b')], KeySchema: [K('a', 'HASH')] })), 'ValidationException',
      'One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions');
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [S('a'), S('a')], KeySchema: [K('a', 'HASH')] })), 'ValidationException', /Duplicate AttributeName/);
    refused(() => parseCreateTable(onDemand({ AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'BOOL' }], KeySchema: [K('a', 'HASH')] })), 'ValidationException', /enum value set: \[B, N, S\]/);
  });

  it('refuses what dynakv lacks by name, and lets the default-equivalent forms through', () => {
    const gsi = [{ IndexName: 'i', KeySchema: [{ AttributeName: 'Artist', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }];
    refused(() => parseCreateTable(onDemand({ GlobalSecondaryIndexes: gsi })), 'ValidationException', /^GlobalSecondaryIndexes is not supported by dynakv/);
    refused(() => parseCreateTable(onDemand({ LocalSecondaryIndexes: gsi })), 'ValidationException', /^LocalSecondaryIndexes is not supported/);
    refused(() => parseCreateTable(onDemand({ StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' } })), 'ValidationException', /^StreamSpecification is not supported/);
    refused(() => parseCreateTable(onDemand({ SSESpecification: { Enabled: true } })), 'ValidationException', /^SSESpecification is not supported/);
    refused(() => parseCreateTable(onDemand({ Tags: [{ Key: 'k', Value: 'v' }] })), 'ValidationException', /^Tags is not supported/);
    refused(() => parseCreateTable(onDemand({ DeletionProtectionEnabled: true })), 'ValidationException', /^DeletionProtectionEnabled is not supported/);
    assert.doesNotThrow(() => parseCreateTable(onDemand({ StreamSpecification: { StreamEnabled: false }, SSESpecification: { Enabled: false }, Tags: [], TableClass: 'STANDARD', DeletionProtectionEnabled: false })));
  });

  it('ignores unknown members and null members, as DynamoDB\'s deserialiser does', () => {
    assert.equal(parseCreateTable(onDemand({ NoSuchMember: { x: 1 }, GlobalSecondaryIndexes: null, __proto__: null })).tableName, 'Music');
    const withProtoKey = JSON.parse('{"TableName":"Music","__proto__":{"BillingMode":"PROVISIONED"},"AttributeDefinitions":[{"AttributeName":"a","AttributeType":"S"}],"KeySchema":[{"AttributeName":"a","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}') as object;
    assert.equal(parseCreateTable(withProtoKey as never).tableName, 'Music');
  });

  it('turns wrong JSON types into SerializationException, never a TypeError', () => {
    const cases: [object, RegExp][] = [
      [onDemand({ AttributeDefinitions: {} }), /Start of structure or map found where not expected/],
      [onDemand({ AttributeDefinitions: 'x' }), /Expected list or null/],
      [onDemand({ AttributeDefinitions: [5] }), /NUMBER_VALUE|Expected null/],
      [onDemand({ AttributeDefinitions: [[]] }), /Start of list/],
      [onDemand({ KeySchema: [{ AttributeName: 1, KeyType: 'HASH' }] }), /NUMBER_VALUE can not be converted to a String/],
      [onDemand({ BillingMode: true }), /TRUE_VALUE can not be converted to a String/],
      [onDemand({ BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: '5', WriteCapacityUnits: 5 } }), /STRING_VALUE can not be converted to a Long/],
      [onDemand({ ProvisionedThroughput: [] }), /Start of list/],
    ];
    for (const [body, message] of cases) refused(() => parseCreateTable(body as never), 'SerializationException', message);
  });
});

describe('DescribeTable and DeleteTable', () => {
  it('parse a table name', () => {
    assert.deepEqual(parseDescribeTable({ TableName: 'Music' }), { kind: 'DescribeTable', tableName: 'Music' });
    refused(() => parseDescribeTable({}), 'ValidationException', "The parameter 'TableName' is required but was not present in the request");
    refused(() => parseDescribeTable({ TableName: ['Music'] }), 'SerializationException');
  });
});

const schema: TableSchema = { name: 'Music', hashKey: { name: 'Artist', type: 'S' }, rangeKey: { name: 'Song', type: 'N' }, createdAtMs: 1_700_000_000_250, status: 'ACTIVE' };

describe('tableDescription', () => {
  it('has DescribeTable\'s fields, on-demand, epoch seconds', () => {
    assert.deepEqual(tableDescription(schema, { itemCount: 3, sizeBytes: 120 }), {
      TableName: 'Music',
      TableArn: 'arn:aws:dynamodb:dynakv:000000000000:table/Music',
      TableStatus: 'ACTIVE',
      CreationDateTime: 1_700_000_000.25,
      KeySchema: [{ AttributeName: 'Artist', KeyType: 'HASH' }, { AttributeName: 'Song', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'Artist', AttributeType: 'S' }, { AttributeName: 'Song', AttributeType: 'N' }],
      ItemCount: 3,
      TableSizeBytes: 120,
      ProvisionedThroughput: { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST', LastUpdateToPayPerRequestDateTime: 1_700_000_000.25 },
      DeletionProtectionEnabled: false,
    });
  });

  it('wraps it as each operation answers', () => {
    const made = schemaOfCreateTable(parseCreateTable(onDemand()), 1_000, 'CREATING');
    assert.equal(createTableOutput(made).TableDescription.TableStatus, 'CREATING');
    assert.equal(createTableOutput(made).TableDescription.CreationDateTime, 1);
    assert.equal(describeTableOutput(schema).Table.ItemCount, 0);
    assert.equal(deleteTableOutput(schema).TableDescription.TableStatus, 'DELETING');
    assert.equal(tableNotFoundMessage('Music', 'table'), 'Requested resource not found: Table: Music not found');
  });
});

describe('ListTables', () => {
  it('parses Limit and ExclusiveStartTableName with DynamoDB\'s bounds', () => {
    assert.deepEqual(parseListTables({}), { kind: 'ListTables', limit: 100 });
    assert.deepEqual(parseListTables({ Limit: 5, ExclusiveStartTableName: 'abc' }), { kind: 'ListTables', limit: 5, exclusiveStartTableName: 'abc' });
    refused(() => parseListTables({ Limit: 0 }), 'ValidationException', "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
    refused(() => parseListTables({ Limit: 2147483647, ExclusiveStartTableName: '89hls;;f;d' }), 'ValidationException',
      /^2 validation errors detected: Value '2147483647' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100; Value '89hls;;f;d' at 'exclusiveStartTableName'/);
    refused(() => parseListTables({ Limit: '5' }), 'SerializationException', /STRING_VALUE can not be converted to an Integer/);
    refused(() => parseListTables({ Limit: 1e400 }), 'SerializationException');
  });

  it('pages names in order', () => {
    const names = ['c', 'a', 'e', 'b', 'd'].map((n) => `${n}${n}${n}`);
    const op = (limit: number, start?: string): ListTablesOperation => (start === undefined ? { kind: 'ListTables', limit } : { kind: 'ListTables', limit, exclusiveStartTableName: start });
    assert.deepEqual(listTablesPage(names, op(2)), { TableNames: ['aaa', 'bbb'], LastEvaluatedTableName: 'bbb' });
    assert.deepEqual(listTablesPage(names, op(2, 'bbb')), { TableNames: ['ccc', 'ddd'], LastEvaluatedTableName: 'ddd' });
    assert.deepEqual(listTablesPage(names, op(2, 'ddd')), { TableNames: ['eee'] });
    assert.deepEqual(listTablesPage(names, op(5)), { TableNames: ['aaa', 'bbb', 'ccc', 'ddd', 'eee'] });
    assert.deepEqual(listTablesPage(names, op(100, 'bz')), { TableNames: ['ccc', 'ddd', 'eee'] });
  });
});
