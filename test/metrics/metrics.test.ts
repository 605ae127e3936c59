// Shows that GET /metrics is valid Prometheus text and counts what happened: three production
// nodes (LMDB, TCP, fastify) run in this process; a known mix of puts, gets, misses and bad
// requests moves the request counters and latency histograms by exactly that mix; every metric
// the operator's issue lists is exposed; and after two nodes stop, the third's failure detector
// transitions and a write's quorum failure are counted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningNode } from '../../src/node/production.ts';
import { InProcessCluster } from '../support/in-process-cluster.ts';
import { waitFor } from '../support/local-cluster.ts';
import { parsePrometheusText, sampleValue, type Family } from '../support/prometheus-text.ts';

let clusterFetch: InProcessCluster['fetch'] = (url, init) => fetch(url, init);

async function scrape(node: RunningNode): Promise<Map<string, Family>> {
  const res = await clusterFetch(`${node.httpUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

describe('/metrics on three in-process nodes', { timeout: 120_000 }, () => {
  let cluster: InProcessCluster | undefined;
  let nodes: RunningNode[] = [];

  before(async () => {
    cluster = await InProcessCluster.start('metrics-test', ['m1', 'm2', 'm3']);
    clusterFetch = cluster.fetch;
    nodes = cluster.nodes;
  });

  after(async () => {
    await cluster?.stop();
  });

  it('parses, and request counters and histograms move by exactly the requests made', async () => {
    const url = nodes[0]!.httpUrl;
    await waitFor('a first write to succeed', async () => (await clusterFetch(`${url}/kv/warm-up`, { method: 'PUT', body: 'x' })).ok);
    const before = await scrape(nodes[0]!);
    const puts = 7;
    for (let i = 0; i < puts; i++) assert.equal((await clusterFetch(`${url}/kv/k${i}`, { method: 'PUT', body: `v${i}` })).status, 200);
    for (const key of ['k0', 'k1']) assert.equal((await clusterFetch(`${url}/kv/${key}`)).status, 200);
    for (const key of ['absent-a', 'absent-b', 'absent-c']) assert.equal((await clusterFetch(`${url}/kv/${key}`)).status, 404);
    assert.equal((await clusterFetch(`${url}/kv/k1`, { method: 'HEAD' })).status, 200);
    assert.equal((await clusterFetch(`${url}/kv/${'x'.repeat(1025)}`, { method: 'PUT', body: 'v' })).status, 400);
    assert.equal((await clusterFetch(`${url}/kv/k0`, { method: 'DELETE' })).status, 204);
    const afterScrape = await scrape(nodes[0]!);

    const delta = (name: string, labels: Record<string, string>) => sampleValue(afterScrape, name, labels) - sampleValue(before, name, labels);
    const expected: Array<[op: string, status: string, count: number]> = [
      ['put', '200', puts],
      ['get', '200', 2],
      ['get', '404', 3],
      ['head', '200', 1],
      ['put', '400', 1],
      ['delete', '204', 1],
    ];
    for (const [op, status, count] of expected) {
      assert.equal(delta('dynakv_http_requests_total', { op, status }), count, `requests ${op} ${status}`);
      assert.equal(delta('dynakv_http_request_duration_seconds_count', { op, status }), count, `latency samples ${op} ${status}`);
      assert.equal(delta('dynakv_http_request_duration_seconds_bucket', { op, status, le: '+Inf' }), count, `+Inf bucket ${op} ${status}`);
    }
    assert.ok(delta('dynakv_http_request_duration_seconds_sum', { op: 'put', status: '200' }) > 0);
    assert.equal(delta('dynakv_http_requests_total', { op: 'GET /metrics', status: '200' }), 1, 'the first scrape itself');
    for (const family of afterScrape.values()) {
      for (const sample of family.samples) assert.equal(sample.labels.node, 'm1', `${sample.name} carries the node label`);
    }
  });

  it('exposes every metric the operator needs', async () => {
    await waitFor('a first gossip round', async () => sampleValue(await scrape(nodes[0]!), 'dynakv_gossip_rounds_total') > 0);
    const families = await scrape(nodes[0]!);
    const wanted: Array<[string, Family['type']]> = [
      ['dynakv_http_requests_total', 'counter'],
      ['dynakv_http_request_duration_seconds', 'histogram'],
      ['dynakv_quorum_failures_total', 'counter'],
      ['dynakv_hints_stored_total', 'counter'],
      ['dynakv_hints_delivered_total', 'counter'],
      ['dynakv_hints_held', 'gauge'],
      ['dynakv_antientropy_bytes_total', 'counter'],
      ['dynakv_gossip_rounds_total', 'counter'],
      ['dynakv_failure_detector_transitions_total', 'counter'],
      ['dynakv_lmdb_size_bytes', 'gauge'],
      ['dynakv_keys', 'gauge'],
      ['dynakv_members', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
    ];
    for (const [name, type] of wanted) assert.equal(families.get(name)?.type, type, `${name} is a ${type}`);
    assert.ok(sampleValue(families, 'dynakv_lmdb_size_bytes') > 0, 'LMDB files have a size');
    assert.ok(sampleValue(families, 'dynakv_antientropy_bytes_total', { direction: 'sent' }) > 0, 'recovery sync ran at start');
    // Members count by status as this node sees them: each is `syncing` during its start-up recovery.
    const statuses = ['up', 'syncing', 'down', 'removed'].map((status) => sampleValue(families, 'dynakv_members', { status }));
    assert.equal(statuses.reduce((a, b) => a + b, 0), 3, `members by status: ${statuses}`);
    await waitFor('all three members up', async () => sampleValue(await scrape(nodes[0]!), 'dynakv_members', { status: 'up' }) === 3);
  });

  it('counts failure-detector transitions and quorum failures when two of three nodes stop', async () => {
    const [m1, m2, m3] = nodes as [RunningNode, RunningNode, RunningNode];
    // From a state where m1 holds neither down, stopping both is exactly two transitions to down.
    await waitFor('m1 to hold no peer down', () => !m1.node.membership.isLocallyDown('m2') && !m1.node.membership.isLocallyDown('m3'));
    const before = await scrape(m1);
    await Promise.all([m2.close(), m3.close()]);
    await waitFor('m1 to hold both peers down', () => m1.node.membership.isLocallyDown('m2') && m1.node.membership.isLocallyDown('m3'), 20_000);
    const res = await clusterFetch(`${m1.httpUrl}/kv/lonely`, { method: 'PUT', body: 'v' });
    assert.equal(res.status, 503, 'W=2 cannot be met by one node');
    const after = await scrape(m1);
    const delta = (name: string, labels: Record<string, string>) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    assert.equal(delta('dynakv_failure_detector_transitions_total', { to: 'down' }), 2);
    assert.equal(delta('dynakv_quorum_failures_total', { op: 'put' }), 1);
    assert.equal(delta('dynakv_http_requests_total', { op: 'put', status: '503' }), 1);
    assert.equal(sampleValue(after, 'dynakv_members', { status: 'down' }), 2);
  });
});
