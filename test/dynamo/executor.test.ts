// The executor on real nodes in this process (3 insecure production nodes), looking underneath
// the API at what the replicas store: a deleted table's items are deleted in the background; a
// write after concurrent writes leaves one version on every replica (siblings do not pile up);
// items of one partition sit on one preference list.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DynamoExecutor } from '../../src/dynamo/executor.ts';
import { itemKey } from '../../src/dynamo/item-keys.ts';
import { parseOperation } from '../../src/dynamo/operations.ts';
import type { OperationName } from '../../src/dynamo/protocol.ts';
import { S } from '../../src/dynamo/attribute-value.ts';
import { RECREATE_AFTER_DELETE_MS, TableCatalog } from '../../src/dynamo/table-catalog.ts';
import { InProcessCluster } from '../support/in-process-cluster.ts';

let cluster: InProcessCluster | undefined;
let executors: DynamoExecutor[] = [];
/** Added to every executor's wall clock: moves time past the re-creation delay without waiting. */
let skewMs = 0;

function run(i: number, name: OperationName, body: object): Promise<unknown> {
  return executors[i]!.execute(parseOperation(name, body as Record<string, unknown>));
}

const table = (name: string) => ({
  TableName: name, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }], BillingMode: 'PAY_PER_REQUEST',
});

describe('DynamoDB executor on in-process nodes', { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await InProcessCluster.start('dynamo-exec', ['a', 'b', 'c'], { insecure: true });
    executors = cluster.nodes.map((n) => new DynamoExecutor({ front: n.node, nowMs: () => Date.now() + skewMs, monotonicMs: () => performance.now(), randomBytes }));
  });

  after(async () => {
    await cluster?.stop();
  });

  it('DeleteTable deletes the table\'s items on every replica in the background', async () => {
    await run(0, 'CreateTable', table('Doomed'));
    const id = (await new TableCatalog(cluster!.nodes[0]!.node, () => performance.now(), () => Date.now() + skewMs).find('Doomed'))!.id;
    const keys: string[] = [];
    for (let i = 0; i < 40; i++) {
      await run(i % 3, 'PutItem', { TableName: 'Doomed', Item: { pk: { S: `p${i % 4}` }, sk: { N: String(i) } } });
      keys.push(itemKey(id, S(`p${i % 4}`), { type: 'N', value: String(i) }));
    }
    const live = (key: string) => cluster!.nodes.filter((n) => n.node.readLocal(key).siblings.some((s) => s.value !== null)).length;
    assert.ok(keys.every((k) => live(k) >= 2), 'every item is on at least W replicas');
    await run(1, 'DeleteTable', { TableName: 'Doomed' });
    await executors[1]!.purgesSettled();
    assert.deepEqual(keys.filter((k) => live(k) >= 2), [], 'no item is left live on W replicas');
    // Not again under the name until every node's cached definition has expired...
    await assert.rejects(run(2, 'CreateTable', table('Doomed')), { name: 'DynamoError', type: 'ResourceInUseException' });
    // ...then it is a new table, and empty.
    skewMs += RECREATE_AFTER_DELETE_MS;
    await run(2, 'CreateTable', table('Doomed'));
    const scan = (await run(0, 'Scan', { TableName: 'Doomed', ConsistentRead: true })) as { Count: number };
    assert.equal(scan.Count, 0);
  });

  it('BatchGetItem answers at most 16 MB of items and returns the other keys unprocessed', async () => {
    await run(0, 'CreateTable', table('Wide'));
    const blob = 'x'.repeat(390 * 1024);
    const keys = Array.from({ length: 45 }, (_, i) => ({ pk: { S: 'w' }, sk: { N: String(i) } }));
    for (const key of keys) await run(0, 'PutItem', { TableName: 'Wide', Item: { ...key, blob: { S: blob } } });
    const out = (await run(1, 'BatchGetItem', { RequestItems: { Wide: { Keys: keys } } })) as {
      Responses: { Wide: { sk: { N: string } }[] }; UnprocessedKeys: { Wide?: { Keys: { sk: { N: string } }[] } };
    };
    const got = out.Responses.Wide.map((i) => i.sk.N);
    const left = (out.UnprocessedKeys.Wide?.Keys ?? []).map((k) => k.sk.N);
    assert.ok(got.length * 390 * 1024 <= 16 * 1024 * 1024, `${got.length} items answered`);
    assert.ok(left.length > 0, 'some keys left unprocessed');
    assert.deepEqual([...got, ...left].map(Number).sort((a, b) => a - b), keys.map((_, i) => i));
  });

  it('a Query, Scan or batch whose client went away stops instead of reading on', async () => {
    await run(0, 'CreateTable', table('Gone'));
    await run(0, 'PutItem', { TableName: 'Gone', Item: { pk: { S: 'g' }, sk: { N: '1' } } });
    const gone = () => true;
    for (const [name, body] of [
      ['Scan', { TableName: 'Gone' }],
      ['Query', { TableName: 'Gone', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'g' } } }],
      ['BatchGetItem', { RequestItems: { Gone: { Keys: [{ pk: { S: 'g' }, sk: { N: '1' } }] } } }],
    ] as const) {
      await assert.rejects(executors[1]!.execute(parseOperation(name, body as Record<string, unknown>), gone), /cancelled/, name);
    }
    const still = (await run(1, 'Scan', { TableName: 'Gone', ConsistentRead: true })) as { Count: number };
    assert.equal(still.Count, 1, 'a client still there gets its answer');
  });

  it('a write after concurrent writes leaves one version on every replica', async () => {
    await run(0, 'CreateTable', table('Racy'));
    const id = (await new TableCatalog(cluster!.nodes[0]!.node, () => performance.now(), () => Date.now() + skewMs).find('Racy'))!.id;
    const key = itemKey(id, S('x'), { type: 'N', value: '1' });
    await Promise.all([0, 1, 2].map((i) => run(i, 'PutItem', { TableName: 'Racy', Item: { pk: { S: 'x' }, sk: { N: '1' }, by: { N: String(i) } } })));
    await run(0, 'PutItem', { TableName: 'Racy', Item: { pk: { S: 'x' }, sk: { N: '1' }, by: { S: 'last' } } });
    const got = (await run(2, 'GetItem', { TableName: 'Racy', Key: { pk: { S: 'x' }, sk: { N: '1' } }, ConsistentRead: true })) as { Item: Record<string, unknown> };
    assert.deepEqual(got.Item.by, { S: 'last' });
    const versions = cluster!.nodes.map((n) => n.node.readLocal(key).siblings.length);
    assert.ok(versions.filter((v) => v === 1).length >= 2, `one version on at least W replicas: ${versions.join(', ')}`);
  });
});
