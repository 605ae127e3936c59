// Finding 1 of issue 13: a client may only hand back a context the cluster issued. A forged one
// (here: counters near 2^53 for every node) used to be accepted; the coordinator then leased dot
// counters past it, persisted a ceiling near 2^53 and answered 500 to every later write it
// coordinated. Shown on three in-process production nodes over HTTP: the forged PUT is a 400,
// and every later write through that node succeeds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { InProcessCluster } from '../support/in-process-cluster.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** What an attacker can build without the cluster's key: the unsigned wire form of a clock. */
function forgedContext(ids: readonly string[], counter: number): string {
  return Buffer.from(packr.pack(ids.map((id) => [id, counter, 1]))).toString('base64url');
}

describe('a forged context', () => {
  let cluster: InProcessCluster;
  const ids = ['n1', 'n2', 'n3'];
  before(async () => {
    cluster = await InProcessCluster.start('forged-context', ids);
  });
  after(() => cluster.stop());

  it('is refused with 400, and the node keeps coordinating writes', async () => {
    const url = cluster.nodes[0]!.httpUrl;
    const forged = await cluster.fetch(`${url}/kv/victim`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'x-dynakv-context': forgedContext(ids, 2 ** 53 - 200_002) },
      body: 'forged',
    });
    assert.equal(forged.status, 400, await forged.text());
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await cluster.fetch(`${url}/kv/victim-${i % 8}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: `v${i}` });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every later write succeeds');
  });

  it('is refused when it names a real context of another key', async () => {
    const url = cluster.nodes[0]!.httpUrl;
    const put = await cluster.fetch(`${url}/kv/one`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'a' });
    const context = put.headers.get('x-dynakv-context');
    assert.ok(context !== null && context !== '');
    const elsewhere = await cluster.fetch(`${url}/kv/two`, { method: 'PUT', headers: { 'content-type': 'text/plain', 'x-dynakv-context': context }, body: 'b' });
    assert.equal(elsewhere.status, 400, await elsewhere.text());
    const same = await cluster.fetch(`${url}/kv/one`, { method: 'PUT', headers: { 'content-type': 'text/plain', 'x-dynakv-context': context }, body: 'c' });
    assert.equal(same.status, 200, await same.text());
  });
});
