// BatchWriteItem and BatchGetItem as a specification: bodies parse into per-table writes or
// keys; the 25-write and 100-key totals, the per-table bounds and duplicate keys are refused
// with DynamoDB's messages; checkBatchWrite / checkBatchGet judge keys against each table's
// schema; the outputs carry UnprocessedItems / UnprocessedKeys in a form a client can resend.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseItem } from '../../src/dynamo/attribute-value.ts';
import {
  batchGetOutput, batchWriteOutput, BATCH_GET_KEYS_MAX, BATCH_GET_TABLES_MAX, BATCH_WRITE_REQUESTS_MAX, BATCH_WRITE_TABLES_MAX, checkBatchGet, checkBatchWrite, parseBatchGetItem, parseBatchWriteItem,
} from '../../src/dynamo/batch-requests.ts';
import type { TableSchema } from '../../src/dynamo/table-schema.ts';
import { json, refused } from './support.ts';


const music: TableSchema = { name: 'Music', hashKey: { name: 'Artist', type: 'S' }, rangeKey: { name: 'Song', type: 'N' }, createdAtMs: 0, status: 'ACTIVE' };
const users: TableSchema = { name: 'Users', hashKey: { name: 'id', type: 'S' }, createdAtMs: 0, status: 'ACTIVE' };
const lookup = (name: string): TableSchema | undefined => (name === 'Music' ? music : name === 'Users' ? users : undefined);
const put = (artist: string, song: number, extra: object = {}) => ({ PutRequest: { Item: { Artist: { S: artist }, Song: { N: String(song) }, ...extra } } });
const del = (id: string) => ({ DeleteRequest: { Key: { id: { S: id } } } });

describe('BatchWriteItem', () => {
  it('parses puts and deletes per table', () => {
    const op = parseBatchWriteItem({ RequestItems: { Music: [put('a', 1), put('a', 2)], Users: [del('u1')] }, ReturnConsumedCapacity: 'TOTAL' });
    assert.equal(op.kind, 'BatchWriteItem');
    assert.deepEqual(op.tables.map((t) => [t.tableName, t.requests.map((r) => r.kind)]), [['Music', ['put', 'put']], ['Users', ['delete']]]);
    assert.doesNotThrow(() => checkBatchWrite(lookup, op));
  });

  it('bounds the batch: 25 writes in total, 1 to 25 per table, at least one table', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => put('a', i));
    assert.doesNotThrow(() => parseBatchWriteItem({ RequestItems: { Music: many(BATCH_WRITE_REQUESTS_MAX) } }));
    refused(() => parseBatchWriteItem({ RequestItems: { Music: many(20), Users: Array.from({ length: 6 }, (_, i) => del(`u${i}`)) } }), 'ValidationException',
      'Too many items requested for the BatchWriteItem call');
    refused(() => parseBatchWriteItem({ RequestItems: { Music: many(26) } }), 'ValidationException', /Map value must satisfy constraint: \[Member must have length less than or equal to 25/);
    refused(() => parseBatchWriteItem({ RequestItems: { Music: [] } }), 'ValidationException', /Member must have length greater than or equal to 1\]/);
    refused(() => parseBatchWriteItem({ RequestItems: {} }), 'ValidationException', /at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1/);
    refused(() => parseBatchWriteItem({}), 'ValidationException', "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null");
    refused(() => parseBatchWriteItem({ RequestItems: { 'a;': [put('a', 1)] } }), 'ValidationException', /Map keys must satisfy constraint/);
    const oneEach = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`Tab${i}`, [put('a', i)]]));
    assert.doesNotThrow(() => parseBatchWriteItem({ RequestItems: oneEach(BATCH_WRITE_TABLES_MAX) }));
    refused(() => parseBatchWriteItem({ RequestItems: oneEach(BATCH_WRITE_TABLES_MAX + 1) }), 'ValidationException',
      /at 'requestItems' failed to satisfy constraint: Member must have length less than or equal to 25$/);
  });

  it('refuses malformed write requests', () => {
    refused(() => parseBatchWriteItem({ RequestItems: { Music: [{}] } }), 'ValidationException', /exactly one of PutRequest or DeleteRequest/);
    refused(() => parseBatchWriteItem({ RequestItems: { Music: [{ ...put('a', 1), ...del('x') }] } }), 'ValidationException', /exactly one of PutRequest or DeleteRequest/);
    refused(() => parseBatchWriteItem({ RequestItems: { Music: [{ PutRequest: {} }] } }), 'ValidationException', /Value null at 'requestItems.Music.1.member.putRequest.item'/);
    refused(() => parseBatchWriteItem({ RequestItems: { Music: [{ PutRequest: [] }] } }), 'SerializationException');
    refused(() => parseBatchWriteItem({ RequestItems: { Music: put('a', 1) } }), 'SerializationException', /Start of structure or map/);
    refused(() => parseBatchWriteItem({ RequestItems: [] }), 'SerializationException', /Start of list/);
  });

  it('refuses duplicate keys within a table, and keys that do not fit the schema', () => {
    refused(() => checkBatchWrite(lookup, parseBatchWriteItem({ RequestItems: { Music: [put('a', 1, { x: { S: '1' } }), put('a', 1.0, { x: { S: '2' } })] } })),
      'ValidationException', 'Provided list of item keys contains duplicates');
    refused(() => checkBatchWrite(lookup, parseBatchWriteItem({ RequestItems: { Users: [del('u'), { PutRequest: { Item: { id: { S: 'u' } } } }] } })),
      'ValidationException', 'Provided list of item keys contains duplicates');
    assert.doesNotThrow(() => checkBatchWrite(lookup, parseBatchWriteItem({ RequestItems: { Music: [put('a', 1)], Users: [{ PutRequest: { Item: { id: { S: 'a' } } } }] } })));
    refused(() => checkBatchWrite(lookup, parseBatchWriteItem({ RequestItems: { Music: [put('a', 1, { Song: { S: 'x' } })] } })), 'ValidationException', /Type mismatch for key Song/);
    refused(() => checkBatchWrite(lookup, parseBatchWriteItem({ RequestItems: { Users: [{ DeleteRequest: { Key: { id: { S: 'u' }, x: { S: 'y' } } } }] } })),
      'ValidationException', 'The provided key element does not match the schema');
    refused(() => checkBatchWrite(lookup, parseBatchWriteItem({ RequestItems: { Nope: [del('u')] } })), 'ResourceNotFoundException', 'Requested resource not found');
  });

  it('answers UnprocessedItems in the request\'s own form', () => {
    const op = parseBatchWriteItem({ RequestItems: { Music: [put('a', 1)], Users: [del('u1')] } });
    assert.deepEqual(json(batchWriteOutput(new Map())), { UnprocessedItems: {} });
    const left = new Map([['Music', op.tables[0]!.requests], ['Users', op.tables[1]!.requests]]);
    assert.deepEqual(json(batchWriteOutput(left)), { UnprocessedItems: { Music: [put('a', 1)], Users: [del('u1')] } });
  });
});

describe('BatchGetItem', () => {
  const keys = (n: number) => Array.from({ length: n }, (_, i) => ({ Artist: { S: 'a' }, Song: { N: String(i) } }));

  it('parses keys with per-table projection and ConsistentRead', () => {
    const op = parseBatchGetItem({
      RequestItems: {
        Music: { Keys: keys(2), ProjectionExpression: '#t', ExpressionAttributeNames: { '#t': 'Title' }, ConsistentRead: true },
        Users: { Keys: [{ id: { S: 'u' } }] },
      },
    });
    assert.equal(op.tables.length, 2);
    assert.equal(op.tables[0]!.consistentRead, true);
    assert.deepEqual(op.tables[0]!.projection, [[{ kind: 'name', name: 'Title' }]]);
    assert.equal(op.tables[1]!.consistentRead, false);
    assert.doesNotThrow(() => checkBatchGet(lookup, op));
  });

  it('bounds keys to 100 in total and refuses duplicates', () => {
    assert.doesNotThrow(() => parseBatchGetItem({ RequestItems: { Music: { Keys: keys(BATCH_GET_KEYS_MAX) } } }));
    refused(() => parseBatchGetItem({ RequestItems: { Music: { Keys: keys(60) }, Users: { Keys: Array.from({ length: 41 }, (_, i) => ({ id: { S: `${i}` } })) } } }),
      'ValidationException', 'Too many items requested for the BatchGetItem call');
    refused(() => parseBatchGetItem({ RequestItems: { Music: { Keys: [...keys(2), ...keys(1)] } } }), 'ValidationException', 'Provided list of item keys contains duplicates');
    refused(() => parseBatchGetItem({ RequestItems: { Music: { Keys: [{ Artist: { S: 'a' }, Song: { N: '1' } }, { Song: { N: '1.0' }, Artist: { S: 'a' } }] } } }),
      'ValidationException', 'Provided list of item keys contains duplicates');
    refused(() => parseBatchGetItem({ RequestItems: { Music: { Keys: [] } } }), 'ValidationException', /at 'requestItems.Music.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1/);
    refused(() => parseBatchGetItem({ RequestItems: { Music: {} } }), 'ValidationException', /Value null at 'requestItems.Music.member.keys'/);
    refused(() => parseBatchGetItem({ RequestItems: { Music: { Keys: keys(1), AttributesToGet: ['Title'] } } }), 'ValidationException', /legacy parameter AttributesToGet/);
    refused(() => checkBatchGet(lookup, parseBatchGetItem({ RequestItems: { Users: { Keys: [{ id: { N: '1' } }] } } })), 'ValidationException', 'The provided key element does not match the schema');
    refused(() => checkBatchGet(lookup, parseBatchGetItem({ RequestItems: { Gone: { Keys: [{ id: { S: '1' } }] } } })), 'ResourceNotFoundException');
  });

  it('bounds RequestItems to 100 tables and judges every Keys constraint before parsing any spec, quickly', () => {
    // A 4 KB projection of ~1,000 distinct paths: each took ~280 ms to check pairwise.
    const paths: string[] = [];
    for (let i = 0, text = ''; ; i++) {
      const next = `${text}${text === '' ? '' : ','}x${i.toString(36)}`;
      if (next.length > 4_000) break;
      text = next;
      paths.push(`x${i.toString(36)}`);
    }
    const projection = paths.join(',');
    const heavy = { Keys: [] as unknown[], ProjectionExpression: projection };
    const tables = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`Tab${i}`, heavy]));
    assert.equal(parseBatchGetItem({ RequestItems: { Music: { ...heavy, Keys: keys(1) } } }).tables[0]!.projection!.length, paths.length);
    assert.doesNotThrow(() => parseBatchGetItem({ RequestItems: Object.fromEntries(Array.from({ length: BATCH_GET_TABLES_MAX }, (_, i) => [`Tab${i}`, { Keys: keys(1) }])) }));
    const started = performance.now();
    refused(() => parseBatchGetItem({ RequestItems: tables(200) }), 'ValidationException',
      /at 'requestItems' failed to satisfy constraint: Member must have length less than or equal to 100$/);
    refused(() => parseBatchGetItem({ RequestItems: tables(BATCH_GET_TABLES_MAX) }), 'ValidationException',
      /^\d+ validation errors detected: Value '\[\]' at 'requestItems.Tab0.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1/);
    const elapsed = performance.now() - started;
    // A guard, not a benchmark: 200 such tables took 48 s, each projection parsed before the Keys constraints were thrown.
    assert.ok(elapsed < 5_000, `took ${elapsed.toFixed(0)} ms`);
  });

  it('answers Responses for every table and UnprocessedKeys a client can resend', () => {
    const op = parseBatchGetItem({ RequestItems: { Music: { Keys: keys(2), ProjectionExpression: 'Title', ConsistentRead: true }, Users: { Keys: [{ id: { S: 'u' } }] } } });
    const found = new Map([['Music', [parseItem({ Artist: { S: 'a' }, Song: { N: '0' }, Title: { S: 't' }, Other: { S: 'o' } })]]]);
    const unprocessed = new Map([['Music', [parseItem(keys(2)[1]!)]]]);
    assert.deepEqual(json(batchGetOutput(op, found, unprocessed)), {
      Responses: { Music: [{ Title: { S: 't' } }], Users: [] },
      UnprocessedKeys: { Music: { ProjectionExpression: 'Title', ConsistentRead: true, Keys: [keys(2)[1]] } },
    });
    // The echo re-parses as a request.
    const again = parseBatchGetItem(json({ RequestItems: batchGetOutput(op, found, unprocessed).UnprocessedKeys }) as never);
    assert.equal(again.tables[0]!.keys.length, 1);
  });
});
