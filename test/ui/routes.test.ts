// Shows the dashboard's HTTP side without a browser, on three in-process nodes: the static
// page and its assets; /ui/events streams snapshots whose ring, members and per-node activity
// match the cluster; /cluster/lookup gives a key's position, preference list and the versions
// each replica holds, and answers bad keys with a 400 JSON error; /local/activity counts this
// node's key-value requests.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { positionHex, Ring, ringPosition } from '../../src/ring/ring.ts';
import type { NodeActivity } from '../../src/ui/activity.ts';
import type { KeyLookup } from '../../src/ui/lookup.ts';
import type { DashboardSnapshot } from '../../src/ui/snapshot.ts';
import { InProcessCluster } from '../support/in-process-cluster.ts';
import { waitFor } from '../support/local-cluster.ts';

const IDS = ['u1', 'u2', 'u3'];

/** Reads snapshots from /ui/events until `done` accepts one (or the wait times out). */
async function awaitSnapshot(fetch: InProcessCluster['fetch'], url: string, done: (s: DashboardSnapshot) => boolean, timeoutMs = 20_000): Promise<DashboardSnapshot> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(`${url}/ui/events`, { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body!) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = /^event: snapshot\ndata: (.*)$/s.exec(event)?.[1];
        if (data === undefined) continue;
        const snapshot = JSON.parse(data) as DashboardSnapshot;
        if (done(snapshot)) return snapshot;
      }
    }
    throw new Error('event stream ended');
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

describe('dashboard routes on three in-process nodes', { timeout: 120_000 }, () => {
  let cluster: InProcessCluster | undefined;
  let url = '';

  before(async () => {
    cluster = await InProcessCluster.start('ui-routes', IDS);
    url = cluster.nodes[0]!.httpUrl;
  });

  after(async () => {
    await cluster?.stop();
  });

  it('serves the page, its script and its styles', async () => {
    for (const [path, type, content] of [
      ['/ui', 'text/html', '<svg id="ring"'],
      ['/ui/dashboard.js', 'text/javascript', "api('/ui/events'"],
      ['/ui/dashboard.css', 'text/css', '--down'],
    ] as const) {
      const res = await cluster!.fetch(`${url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(`^${type}`), path);
      assert.ok((await res.text()).includes(content), `${path} holds ${content}`);
    }
  });

  it('streams snapshots of the ring, the members and every node\'s activity', async () => {
    // Each node is `syncing` while its start-up recovery runs, then `ready` through gossip.
    const snapshot = await awaitSnapshot(cluster!.fetch, url, (s) => s.members.every((m) => m.seen === 'up') && IDS.every((id) => s.activity[id] != null));
    assert.equal(snapshot.self, 'u1');
    assert.deepEqual(snapshot.ring?.nodes.map((n) => n.id), Ring.of(IDS).nodes.map((n) => n.id));
    assert.deepEqual(snapshot.members.map((m) => [m.id, m.seen, m.position]), IDS.map((id) => [id, 'up', positionHex(ringPosition(id))]));
    assert.ok(snapshot.log.length >= IDS.length, 'the change log came along');
    for (const id of IDS) assert.equal(snapshot.activity[id]!.node, id);
  });

  it('looks a key up on every replica, and answers bad keys with a JSON 400', async () => {
    const key = 'lookup/me';
    await waitFor('a write to succeed', async () => (await cluster!.fetch(`${url}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: 'hello' })).ok);
    let lookup: KeyLookup | undefined;
    await waitFor('every replica to hold the write', async () => {
      const res = await cluster!.fetch(`${url}/cluster/lookup/${encodeURIComponent(key)}`);
      lookup = (await res.json()) as KeyLookup;
      return lookup.replicas.every((r) => r.siblings.length === 1);
    });
    assert.equal(lookup!.position, positionHex(ringPosition(key)));
    assert.deepEqual(lookup!.preferenceList, Ring.of(IDS).preferenceList(key, 3));
    for (const r of lookup!.replicas) assert.equal(Buffer.from(r.siblings[0]!.value!, 'base64').toString(), 'hello', r.node);

    for (const bad of ['', 'x'.repeat(1025)]) {
      const res = await cluster!.fetch(`${url}/cluster/lookup/${bad}`);
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /key/);
    }
  });

  it('counts this node\'s key-value requests in its activity', async () => {
    const node = cluster!.nodes[1]!;
    for (let i = 0; i < 5; i++) assert.equal((await cluster!.fetch(`${node.httpUrl}/kv/absent-${i}`)).status, 404);
    // Once their second is complete, the 5 reads average to 1 op/s over the 5-second rate window.
    let activity: NodeActivity | undefined;
    await waitFor('the reads to show in u2\'s activity', async () => {
      activity = (await (await cluster!.fetch(`${node.httpUrl}/local/activity`)).json()) as NodeActivity;
      return activity.opsPerSec === 1;
    }, 10_000);
    assert.equal(activity!.node, 'u2');
    assert.equal(activity!.latencyMs.length, 60);
    assert.ok(activity!.latencyMs.some((ms) => ms > 0), 'a busy second has a latency');
  });
});
