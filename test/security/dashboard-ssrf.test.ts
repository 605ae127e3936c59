// Shows that the dashboard's server side never fetches an address a member supplied (finding 6
// of issue 13, SSRF): a member whose gossiped HTTP address points at some other server (here a
// canary that records every request and answers like a node) gets no request from a key lookup
// or a dashboard snapshot. Replicas' versions and peers' activity come over the authenticated
// peer link instead (replica_get and activity requests), validated like every peer message.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Ring } from '../../src/ring/ring.ts';
import type { KeyLookup } from '../../src/ui/lookup.ts';
import type { DashboardSnapshot } from '../../src/ui/snapshot.ts';
import { freePort } from '../support/local-cluster.ts';
import { startOneNode, type OneNode } from './one-node.ts';

const FAKE = 'zz';

async function firstSnapshot(url: string, done: (s: DashboardSnapshot) => boolean): Promise<DashboardSnapshot> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 20_000);
  try {
    const res = await fetch(`${url}/ui/events`, { signal: abort.signal });
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body!) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const data = /^event: snapshot\ndata: (.*)$/s.exec(buffered.slice(0, end))?.[1];
        buffered = buffered.slice(end + 2);
        if (data !== undefined && done(JSON.parse(data) as DashboardSnapshot)) return JSON.parse(data) as DashboardSnapshot;
      }
    }
    throw new Error('event stream ended');
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

describe('the dashboard fetches no member-supplied address', { timeout: 60_000 }, () => {
  let node: OneNode | undefined;
  let canary: Server | undefined;
  const hits: string[] = [];

  before(async () => {
    canary = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ node: FAKE, keys: 666, hintsHeld: 0, sync: { state: 'ready', pairsDone: 0, pairsTotal: 0 }, transfer: { active: false, keysSent: 0, keysDropped: 0 }, opsPerSec: 0, latencyMs: [] }));
    });
    await new Promise<void>((resolve) => canary!.listen(0, '127.0.0.1', resolve));
    node = await startOneNode('ssrf');
    const deadPeer = await freePort();
    const res = await fetch(`${node.url}/cluster/members`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dynakv-request': '1' },
      body: JSON.stringify({ id: FAKE, peer: `127.0.0.1:${deadPeer}`, http: `127.0.0.1:${(canary.address() as AddressInfo).port}` }),
    });
    assert.equal(res.status, 200, await res.text());
  });
  after(async () => {
    await node?.stop();
    canary?.close();
  });

  it('a snapshot shows no activity from the member\'s HTTP address', async () => {
    const snapshot = await firstSnapshot(node!.url, (s) => s.members.some((m) => m.id === FAKE));
    assert.notEqual(snapshot.activity[FAKE]?.keys, 666, 'the canary\'s answer reached the dashboard');
    assert.deepEqual(hits, []);
  });

  it('a key lookup reads the member over the peer link, not its HTTP address', async () => {
    const ring = Ring.of(['s1', FAKE]);
    let key = '';
    for (let i = 0; key === ''; i++) if (ring.preferenceList(`k${i}`, 1)[0] === FAKE) key = `k${i}`;
    const res = await fetch(`${node!.url}/cluster/lookup/${key}`);
    assert.equal(res.status, 200);
    const lookup = (await res.json()) as KeyLookup;
    assert.deepEqual(lookup.preferenceList, [FAKE]);
    assert.equal(lookup.replicas[0]!.node, FAKE);
    assert.notEqual(lookup.replicas[0]!.error, null, 'the fake member cannot be read');
    assert.deepEqual(hits, []);
  });
});
