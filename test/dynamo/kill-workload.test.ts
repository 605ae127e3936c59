// An orders workload in the style of aws-dynamodb-examples (orders by customer and date: place an
// order, update its status, list a customer's latest orders, read one), run with the AWS SDK v3
// against a secure 5-node cluster while one node is SIGKILLed and restarted. Clients talk to the
// four nodes that stay up (as behind a load balancer). Zero requests may fail, and afterwards
// every acknowledged order is there with its last acknowledged status, read through every node,
// the restarted one included.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mintAccessKey, type AccessKey } from '../../src/security/access-keys.ts';
import { LocalCluster } from '../support/local-cluster.ts';

const WORKERS = 8;
const CUSTOMERS = 12;
const RUN_MS = 9_000;
const KILL_AT_MS = 2_000;
const RESTART_AT_MS = 5_000;
const VICTIM = 'n5';

let cluster: LocalCluster | undefined;
let key: AccessKey;
let ca: Buffer;

function client(nodeId: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: cluster!.node(nodeId).url,
    region: 'dynakv',
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca, keepAlive: true }), requestTimeout: 10_000 }),
    maxAttempts: 5,
  });
}

const S = (s: string): AttributeValue => ({ S: s });

describe('DynamoDB orders workload while a node is killed and restarted', { timeout: 180_000 }, () => {
  before(async () => {
    cluster = await LocalCluster.start('dynamo-kill', 5);
    key = mintAccessKey(readFileSync(join(cluster.certsDir, 'cluster.secret')), 'admin', randomBytes);
    ca = readFileSync(join(cluster.certsDir, 'ca.crt'));
    await client('n1').send(new CreateTableCommand({
      TableName: 'Orders',
      KeySchema: [{ AttributeName: 'customer', KeyType: 'HASH' }, { AttributeName: 'placedAt', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'customer', AttributeType: 'S' }, { AttributeName: 'placedAt', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
  });

  after(async () => {
    await cluster?.stop();
  });

  it('fails no request and keeps every acknowledged order', async () => {
    const survivors = ['n1', 'n2', 'n3', 'n4'].map((id) => client(id));
    /** Acknowledged orders: customer/placedAt -> last acknowledged status. */
    const acknowledged = new Map<string, { customer: string; placedAt: string; status: string }>();
    const failures: string[] = [];
    let ops = 0;
    let retriedAndApplied = 0;
    const started = Date.now();
    const faults = (async () => {
      await new Promise((r) => setTimeout(r, KILL_AT_MS));
      await cluster!.kill(VICTIM);
      await new Promise((r) => setTimeout(r, RESTART_AT_MS - KILL_AT_MS));
      await cluster!.startNode(VICTIM);
    })();
    const worker = async (w: number) => {
      let n = 0;
      while (Date.now() - started < RUN_MS) {
        const ddb = survivors[(w + n) % survivors.length]!;
        const customer = `customer-${(w * 7 + n) % CUSTOMERS}`;
        const placedAt = `2026-12-02T00:00:${String(w).padStart(2, '0')}.${String(n).padStart(6, '0')}Z`;
        n++;
        try {
          const order = { customer: S(customer), placedAt: S(placedAt), status: S('PLACED'), total: { N: String(n * 3) } };
          try {
            await ddb.send(new PutItemCommand({ TableName: 'Orders', Item: order, ConditionExpression: 'attribute_not_exists(placedAt)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
          } catch (err) {
            // The SDK retries an attempt that failed ambiguously (a 500: the write may have
            // been applied). If the retry then finds exactly this order, the first attempt took
            // effect: the request succeeded, as an application that checks ALL_OLD concludes.
            const e = err as Error & { Item?: unknown; $metadata?: { attempts?: number } };
            if (e.name !== 'ConditionalCheckFailedException' || (e.$metadata?.attempts ?? 1) < 2) throw err;
            assert.deepEqual(e.Item, order, 'a retried conditional put found another order under its key');
            retriedAndApplied++;
          }
          ops++;
          acknowledged.set(`${customer}/${placedAt}`, { customer, placedAt, status: 'PLACED' });
          if (n % 2 === 0) {
            await ddb.send(new UpdateItemCommand({
              TableName: 'Orders', Key: { customer: S(customer), placedAt: S(placedAt) }, UpdateExpression: 'SET #s = :s', ConditionExpression: 'attribute_exists(placedAt)',
              ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': S('SHIPPED') },
            }));
            ops++;
            acknowledged.set(`${customer}/${placedAt}`, { customer, placedAt, status: 'SHIPPED' });
          }
          const latest = await ddb.send(new QueryCommand({
            TableName: 'Orders', KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S(customer) }, ScanIndexForward: false, Limit: 5, ConsistentRead: true,
          }));
          ops++;
          assert.ok((latest.Items ?? []).some((i) => i.placedAt?.S === placedAt) || (latest.Items ?? []).length === 5, 'a consistent query sees the order just placed (or five later ones)');
          const one = await ddb.send(new GetItemCommand({ TableName: 'Orders', Key: { customer: S(customer), placedAt: S(placedAt) }, ConsistentRead: true }));
          ops++;
          assert.equal(one.Item?.status?.S, acknowledged.get(`${customer}/${placedAt}`)!.status);
        } catch (err) {
          failures.push(`${customer}/${placedAt}: ${(err as Error).name}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all([faults, ...Array.from({ length: WORKERS }, (_, w) => worker(w))]);
    console.log(`# ${ops} requests acknowledged in ${RUN_MS} ms, ${acknowledged.size} orders, ${failures.length} failures, ${retriedAndApplied} conditional puts retried by the SDK after an ambiguous attempt that had applied them; ${VICTIM} killed at ${KILL_AT_MS} ms, restarted at ${RESTART_AT_MS} ms`);
    assert.deepEqual(failures, []);
    assert.ok(acknowledged.size > 50, `the workload ran (${acknowledged.size} orders)`);

    // Every acknowledged order, through every node (the restarted one too), by consistent queries.
    for (const id of ['n1', 'n2', 'n3', 'n4', VICTIM]) {
      const ddb = client(id);
      const found = new Map<string, string>();
      for (let c = 0; c < CUSTOMERS; c++) {
        let start: Record<string, AttributeValue> | undefined;
        do {
          const page = await ddb.send(new QueryCommand({
            TableName: 'Orders', KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': S(`customer-${c}`) }, ConsistentRead: true, Limit: 50,
            ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
          }));
          for (const item of page.Items ?? []) found.set(`${item.customer!.S}/${item.placedAt!.S}`, item.status!.S!);
          start = page.LastEvaluatedKey;
        } while (start !== undefined);
      }
      const missing = [...acknowledged.keys()].filter((k) => !found.has(k));
      const stale = [...acknowledged.entries()].filter(([k, v]) => found.has(k) && found.get(k) !== v.status).map(([k]) => k);
      assert.deepEqual(missing, [], `orders missing through ${id}`);
      assert.deepEqual(stale, [], `orders with an older status through ${id}`);
    }
  });
});
