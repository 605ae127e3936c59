// Shows the replicated store end to end on 5 real node processes (TCP between them, LMDB on
// disk, HTTP in front): 1,000 keys land on exactly their 3 preference-list nodes; with one node
// SIGKILLed, gets and puts still succeed at R=W=2; the restarted node still holds its keys;
// blind concurrent writes become siblings and a write with the merged context resolves them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ring } from '../../src/ring/ring.ts';
import { LocalCluster } from '../support/local-cluster.ts';

const KEYS = 1_000;
const CONCURRENCY = 32;

async function inBatches<T>(items: readonly T[], fn: (item: T, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY) {
    await Promise.all(items.slice(i, i + CONCURRENCY).map((item, j) => fn(item, i + j)));
  }
}

describe('replicated store on 5 real nodes', () => {
  let cluster: LocalCluster;
  let ring: Ring;
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);

  before(async () => {
    cluster = await LocalCluster.start('store');
    ring = Ring.of(cluster.nodes.map((n) => n.id));
  });
  after(async () => {
    await cluster?.stop();
  });

  it('writes 1,000 keys and each lives on exactly its 3 preference-list nodes', async () => {
    await inBatches(keys, async (key, i) => {
      const via = cluster.nodes[i % cluster.nodes.length]!;
      await via.client.put(key, `v1-${key}`, { contentType: 'text/plain' });
    });
    let placements = 0;
    await inBatches(keys, async (key) => {
      const expected = ring.preferenceList(key, 3).sort();
      const holders: string[] = [];
      for (const node of cluster.nodes) {
        const local = await node.client.local(key);
        if (local !== undefined) {
          holders.push(node.id);
          assert.equal(Buffer.from(local.siblings[0]!.value!, 'base64').toString(), `v1-${key}`);
        }
      }
      assert.deepEqual(holders.sort(), expected, `placement of ${key}`);
      placements++;
    });
    assert.equal(placements, KEYS);
    const ringAnswer = await cluster.nodes[0]!.client.ring();
    assert.equal(ringAnswer.nodes.length, 5);
  });

  it('keeps serving gets and puts at R=W=2 with one node SIGKILLed, and the node keeps its data', async () => {
    await cluster.kill('n3');
    const alive = cluster.nodes.filter((n) => n.id !== 'n3');
    const homedOnN3 = keys.filter((k) => ring.homeOf(k) === 'n3');
    assert.ok(homedOnN3.length > 0);
    const sample = [...new Set([...homedOnN3.slice(0, 100), ...keys.slice(0, 100)])];
    await inBatches(sample, async (key, i) => {
      const via = alive[i % alive.length]!.client;
      const read = await via.get(key);
      assert.ok(read.found, `${key} readable with n3 down`);
      assert.equal(read.siblings[0]!.value.toString(), `v1-${key}`);
      await via.put(key, `v2-${key}`, { context: read.context, contentType: 'text/plain' });
    });
    await inBatches(sample, async (key, i) => {
      const read = await alive[(i + 1) % alive.length]!.client.get(key);
      assert.ok(read.found);
      assert.deepEqual(read.siblings.map((s) => s.value.toString()), [`v2-${key}`]);
    });

    const restartedAt = Date.now();
    await cluster.startNode('n3');
    const n3 = cluster.node('n3');
    const ownedByN3 = keys.filter((k) => ring.preferenceList(k, 3).includes('n3'));
    let held = 0;
    await inBatches(ownedByN3, async (key) => {
      if ((await n3.client.local(key)) !== undefined) held++;
    });
    assert.equal(held, ownedByN3.length, 'the restarted node holds every key it stored before the kill');
    // Peers reconnect after their backoff; the next test reads at R=3.
    await cluster.waitHeardByAll('n3', restartedAt);
  });

  it('turns blind concurrent writes into siblings and resolves them with the merged context', async () => {
    const key = 'conflict:cart';
    const [a, b, c] = cluster.nodes;
    await Promise.all([a!.client.put(key, 'apple', { contentType: 'text/plain' }), b!.client.put(key, 'banana', { contentType: 'text/plain' })]);
    const read = await c!.client.get(key, { r: 3 });
    assert.ok(read.found);
    assert.deepEqual(read.siblings.map((s) => s.value.toString()).sort(), ['apple', 'banana']);
    const raw = await cluster.fetch(`${c!.url}/kv/${encodeURIComponent(key)}`);
    assert.equal(raw.status, 300);
    await a!.client.put(key, 'apple+banana', { context: read.context, contentType: 'text/plain' });
    const resolved = await cluster.fetch(`${b!.url}/kv/${encodeURIComponent(key)}?r=3`);
    assert.equal(resolved.status, 200);
    assert.equal(await resolved.text(), 'apple+banana');
    assert.ok(resolved.headers.get('x-dynakv-context'));
  });

  it('deletes leave a tombstone: 404 carrying a context, and a later write with it revives the key', async () => {
    const key = 'doomed';
    const n1 = cluster.nodes[0]!;
    await n1.client.put(key, 'x', { contentType: 'text/plain' });
    const read = await n1.client.get(key);
    assert.ok(read.found);
    const del = await cluster.fetch(`${n1.url}/kv/${key}`, { method: 'DELETE', headers: { 'x-dynakv-context': read.context } });
    assert.equal(del.status, 204);
    const gone = await cluster.fetch(`${cluster.nodes[1]!.url}/kv/${key}`);
    assert.equal(gone.status, 404);
    assert.ok(gone.headers.get('x-dynakv-context'), 'a tombstone carries its context');
    assert.deepEqual(await gone.json(), { error: 'not found', context: gone.headers.get('x-dynakv-context') });
    await n1.client.put(key, 'back', { context: gone.headers.get('x-dynakv-context')!, contentType: 'text/plain' });
    const back = await cluster.nodes[2]!.client.get(key);
    assert.ok(back.found);
    assert.deepEqual(back.siblings.map((s) => s.value.toString()), ['back']);
  });

  it('answers bad input with the right status and a JSON error, and keeps serving', async () => {
    const url = cluster.nodes[1]!.url;
    const cases: Array<[string, RequestInit, number]> = [
      [`/kv/${'k'.repeat(1025)}`, { method: 'PUT', body: 'x' }, 400],
      [`/kv/${encodeURIComponent('é'.repeat(513))}`, {}, 400],
      ['/kv/', { method: 'PUT', body: 'x' }, 400],
      ['/kv/%E0%A4%A', {}, 400],
      ['/kv/q?r=2&r=3', {}, 400],
      ['/kv/x', { method: 'POST', body: 'x' }, 404],
      ['/kv/big', { method: 'PUT', body: Buffer.alloc(1024 * 1024 + 1) }, 413],
      ['/kv/ctx', { method: 'PUT', body: 'x', headers: { 'x-dynakv-context': 'not a context!' } }, 400],
      ['/kv/ctx', { method: 'PUT', body: 'x', headers: { 'x-dynakv-context': 'AAAA' } }, 400],
      ['/kv/q?r=0', {}, 400],
      ['/kv/q?r=4', {}, 400],
      ['/kv/q?w=abc', { method: 'PUT', body: 'x' }, 400],
      ['/nope', {}, 404],
      ['/kv/absent-key', {}, 404],
    ];
    for (const [path, init, status] of cases) {
      const res = await cluster.fetch(url + path, init);
      assert.equal(res.status, status, `${init.method ?? 'GET'} ${path.slice(0, 40)}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = (await res.json()) as { error?: unknown };
      assert.equal(typeof body.error, 'string');
    }
    const ok = await cluster.fetch(`${url}/kv/${'k'.repeat(1024)}`, { method: 'PUT', body: 'x' });
    assert.equal(ok.status, 200, 'a 1024-byte key is accepted');
    assert.equal((await cluster.fetch(`${url}/health`)).status, 200);
  });
});
