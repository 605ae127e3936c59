// ClusterClient failover, shown against tiny HTTP servers on loopback that answer, refuse
// (a closed port), hang (accept and never answer) or answer an error: a request moves on to
// the next node on refusal or timeout only, the failed node becomes suspect (tried last) for
// suspectMs, and an error answer is returned to the caller untouched. Hedging: a read the first
// node has not answered within the hedge delay is sent to the next node too, and the first answer
// wins; writes hedge only when asked.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ClientError } from '../../src/client/http-client.ts';
import { ClusterClient, HEDGE_DELAY_MS_INITIAL, HEDGE_DELAY_MS_MIN, NoNodeAnswered, type Attempt } from '../../src/client/cluster-client.ts';
import { LATENCY_WINDOW_SAMPLES_MIN, SPECULATION_BURST } from '../../src/replication/latency-window.ts';
import { waitFor } from '../../src/launch/wait-for.ts';
import { freePort } from '../support/local-cluster.ts';

type Behaviour = 'answer' | 'hang' | 'unavailable';

/** A node that answers (after `delayMs`, settable), hangs (accepts, never answers) or answers 503. */
async function fakeNode(behaviour: Behaviour): Promise<{ url: string; server: Server; requests: () => number; setDelayMs: (ms: number) => void }> {
  let requests = 0;
  let delayMs = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    if (behaviour === 'hang') return; // accepted, never answered (like a SIGSTOPped node)
    const answer = () => {
      if (behaviour === 'unavailable') {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'write quorum not reached' }));
      } else if (req.method === 'PUT') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ context: 'ctx-from-node' }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', context: '' }));
      }
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server, requests: () => requests, setDelayMs: (ms) => (delayMs = ms) };
}

function closeNode(node: { server: Server }): void {
  node.server.closeAllConnections();
  node.server.close();
}

describe('ClusterClient', () => {
  let healthy: Awaited<ReturnType<typeof fakeNode>>;
  let hanging: Awaited<ReturnType<typeof fakeNode>>;
  let unavailable: Awaited<ReturnType<typeof fakeNode>>;
  let closedUrl: string;

  before(async () => {
    healthy = await fakeNode('answer');
    hanging = await fakeNode('hang');
    unavailable = await fakeNode('unavailable');
    closedUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens: connection refused
  });
  after(() => {
    for (const n of [healthy, hanging, unavailable]) closeNode(n);
  });

  it('fails over from a refusing node and tries it last while it is suspect', async () => {
    const attempts: Attempt[] = [];
    const client = new ClusterClient([closedUrl, healthy.url], { onAttempt: (a) => attempts.push(a), suspectMs: 60_000 });
    assert.equal(await client.put('k', 'v', { context: 'c' }), 'ctx-from-node');
    assert.deepEqual(attempts.map((a) => [a.endpoint, a.outcome]), [[closedUrl, 'unreachable'], [healthy.url, 'ok']]);
    assert.equal(client.isSuspect(closedUrl), true);
    // Round robin would start at the refusing node for every other request; suspect, it goes last.
    for (let i = 0; i < 4; i++) assert.equal(client.order()[0]!.baseUrl, healthy.url);
  });

  it('gives up on a silent node after the timeout and answers from the next one', async () => {
    const attempts: Attempt[] = [];
    const client = new ClusterClient([hanging.url, healthy.url], { timeoutMs: 300, onAttempt: (a) => attempts.push(a), hedge: 'off' });
    const read = await client.get('k');
    assert.equal(read.found, false);
    assert.deepEqual(attempts.map((a) => a.outcome), ['timeout', 'ok']);
    assert.ok(attempts[0]!.endMs - attempts[0]!.startMs >= 250, 'the silent node had its full timeout');
    assert.equal(client.isSuspect(hanging.url), true);
  });

  it('returns an error answer without retrying elsewhere', async () => {
    const before = healthy.requests();
    const attempts: Attempt[] = [];
    const client = new ClusterClient([unavailable.url, healthy.url], { onAttempt: (a) => attempts.push(a) });
    await assert.rejects(client.put('k', 'v'), (err: unknown) => err instanceof ClientError && err.status === 503);
    assert.deepEqual(attempts.map((a) => [a.outcome, a.status]), [['error-answer', 503]]);
    assert.equal(healthy.requests(), before);
    assert.equal(client.isSuspect(unavailable.url), false);
  });

  it('reports every attempt when no node answers', async () => {
    const client = new ClusterClient([closedUrl, hanging.url], { timeoutMs: 200 });
    await assert.rejects(client.get('k'), (err: unknown) => {
      assert.ok(err instanceof NoNodeAnswered);
      assert.deepEqual(err.attempts.map((a) => a.outcome).sort(), ['timeout', 'unreachable']);
      return true;
    });
  });

  it('hedges a read: a node slower than the hedge delay is joined by the next one, and the first answer wins', async () => {
    const attempts: Attempt[] = [];
    const client = new ClusterClient([hanging.url, healthy.url], { timeoutMs: 2_000, hedgeAfterMs: 50, onAttempt: (a) => attempts.push(a) });
    const startedMs = Date.now();
    const read = await client.get('k');
    const tookMs = Date.now() - startedMs;
    assert.equal(read.found, false);
    assert.ok(tookMs >= 45 && tookMs < 1_000, `answered after the hedge delay, long before the 2 s timeout (took ${tookMs} ms)`);
    assert.equal(client.hedged, 1);
    assert.deepEqual(attempts.map((a) => [a.endpoint, a.outcome]), [[healthy.url, 'ok']], 'the slow attempt has not ended yet');
    // The slow attempt still ends (at its timeout) and is reported; its node becomes suspect.
    await waitFor('the slow attempt to be reported', () => attempts.length === 2, 5_000, 10);
    assert.deepEqual(attempts[1], { ...attempts[1]!, endpoint: hanging.url, outcome: 'timeout' });
    assert.equal(client.isSuspect(hanging.url), true);
  });

  it('does not hedge writes unless asked: a hedged write is a retry (at-least-once)', async () => {
    const attempts: Attempt[] = [];
    const plain = new ClusterClient([hanging.url, healthy.url], { timeoutMs: 300, hedgeAfterMs: 20, onAttempt: (a) => attempts.push(a) });
    assert.equal(await plain.put('k', 'v'), 'ctx-from-node');
    assert.equal(plain.hedged, 0);
    assert.deepEqual(attempts.map((a) => a.outcome), ['timeout', 'ok'], 'the write waited for the timeout, then failed over');
    const hedging = new ClusterClient([hanging.url, healthy.url], { timeoutMs: 2_000, hedgeAfterMs: 20, hedge: 'all' });
    const startedMs = Date.now();
    assert.equal(await hedging.put('k', 'v'), 'ctx-from-node');
    assert.ok(Date.now() - startedMs < 1_000);
    assert.equal(hedging.hedged, 1);
  });

  it('sets the hedge delay from the p99 of recent answers, within its bounds', async () => {
    const client = new ClusterClient([healthy.url], { timeoutMs: 10_000 });
    assert.equal(client.hedgeDelayMs(), HEDGE_DELAY_MS_INITIAL, 'too few answers for a p99 yet');
    for (let i = 0; i < LATENCY_WINDOW_SAMPLES_MIN; i++) await client.get('k');
    const delay = client.hedgeDelayMs();
    assert.ok(delay >= HEDGE_DELAY_MS_MIN && delay < HEDGE_DELAY_MS_INITIAL, `loopback answers make a short delay (got ${delay} ms)`);
    const short = new ClusterClient([healthy.url], { timeoutMs: 100 });
    assert.equal(short.hedgeDelayMs(), 50, 'never more than half the attempt timeout');
  });

  it('does not sample the late answer of an attempt a hedge overtook (a stall would raise the delay)', async () => {
    const stalling = await fakeNode('answer');
    try {
      const attempts: Attempt[] = [];
      const client = new ClusterClient([stalling.url, healthy.url], { timeoutMs: 5_000, onAttempt: (a) => attempts.push(a) });
      for (let i = 0; i < LATENCY_WINDOW_SAMPLES_MIN; i++) await client.get('k');
      const warmDelay = client.hedgeDelayMs();
      assert.ok(warmDelay < 100, `fast answers, a short delay (${warmDelay} ms)`);
      // The node stalls for 1 s (a pause): requests that start there are hedged and answered by the other.
      stalling.setDelayMs(1_000);
      const before = attempts.length;
      for (let i = 0; i < 6; i++) await client.get('k');
      assert.ok(client.hedged >= 3, `every other request started at the stalled node and was hedged (${client.hedged})`);
      await waitFor('the stalled attempts to end', () => attempts.length === before + 6 + client.hedged, 10_000, 10);
      assert.ok(attempts.slice(before).some((a) => a.endpoint === stalling.url && a.endMs - a.startMs >= 900), 'the stalled node did answer, late');
      const delay = client.hedgeDelayMs();
      assert.ok(delay < 500, `the 1 s late answers are not samples: the delay stays near the hedge delay (${delay} ms)`);
    } finally {
      closeNode(stalling);
    }
  });

  it('does not let an error answer beat an attempt still running: the success wins', async () => {
    const slowOk = await fakeNode('answer');
    try {
      slowOk.setDelayMs(150);
      const attempts: Attempt[] = [];
      const client = new ClusterClient([slowOk.url, unavailable.url], { hedge: 'all', hedgeAfterMs: 20, onAttempt: (a) => attempts.push(a) });
      assert.equal(await client.put('k', 'v'), 'ctx-from-node');
      assert.deepEqual(attempts.map((a) => [a.endpoint, a.outcome]), [[unavailable.url, 'error-answer'], [slowOk.url, 'ok']]);
      // With nothing else running, the error answer is the verdict.
      const alone = new ClusterClient([unavailable.url, healthy.url], { hedge: 'all', hedgeAfterMs: 20 });
      await assert.rejects(alone.put('k', 'v'), (err: unknown) => err instanceof ClientError && err.status === 503);
    } finally {
      closeNode(slowOk);
    }
  });

  it('fails a request whose onAttempt throws with that error, without hanging', async () => {
    const client = new ClusterClient([healthy.url], {
      onAttempt: () => {
        throw new Error('observer broke');
      },
    });
    await assert.rejects(client.get('k'), /observer broke/);
  });

  it('hedges at most a share of requests: a burst of SPECULATION_BURST, then about one in ten', async () => {
    const client = new ClusterClient([hanging.url, healthy.url], { timeoutMs: 400, hedgeAfterMs: 5, suspectMs: 0 });
    const requests = 40;
    for (let i = 0; i < requests; i++) await client.get('k');
    // Every other request starts at the hanging node; without a budget all 20 would be hedged.
    assert.ok(client.hedged <= SPECULATION_BURST + Math.ceil(requests * 0.1) && client.hedged >= SPECULATION_BURST, `hedged ${client.hedged} of ${requests / 2}`);
  });

  it("tells a call its own attempts, including the hedged write's slower twin (at-least-once)", async () => {
    const slowOk = await fakeNode('answer');
    try {
      slowOk.setDelayMs(200);
      const mine: Attempt[] = [];
      const client = new ClusterClient([slowOk.url, healthy.url], { hedge: 'all', hedgeAfterMs: 20 });
      const before = slowOk.requests();
      assert.equal(await client.put('k', 'v', { onAttempt: (a) => mine.push(a) }), 'ctx-from-node');
      assert.deepEqual(mine.map((a) => a.endpoint), [healthy.url]);
      await waitFor('the slower twin to end', () => mine.length === 2, 5_000, 10);
      assert.deepEqual(mine[1], { ...mine[1]!, endpoint: slowOk.url, outcome: 'ok' });
      assert.equal(slowOk.requests(), before + 1, 'the first node got the write too: a hedged write is at-least-once');
    } finally {
      closeNode(slowOk);
    }
  });

  it('forgets a suspicion after suspectMs', async () => {
    let now = 1_000;
    const client = new ClusterClient([closedUrl, healthy.url], { suspectMs: 500, nowMs: () => now });
    await client.get('k');
    assert.equal(client.isSuspect(closedUrl), true);
    now += 499;
    assert.equal(client.isSuspect(closedUrl), true);
    now += 2;
    assert.equal(client.isSuspect(closedUrl), false);
  });
});

describe('ClusterClient with ring routing', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.closeAllConnections();
    for (const s of servers) s.close();
  });

  it("learns the ring from /cluster/members and tries a key's replicas first, rotating among them", async () => {
    // Four fake nodes that list each other as members and record which keys reach them.
    const ids = ['n1', 'n2', 'n3', 'n4'];
    const ports = await Promise.all(ids.map(() => freePort()));
    const members = ids.map((id, i) => ({ id, http: `127.0.0.1:${ports[i]}`, status: 'up' }));
    const hits = new Map<string, string[]>();
    for (const [i, id] of ids.entries()) {
      const server = createServer((req, res) => {
        req.resume();
        if (req.url === '/cluster/members') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ members }));
          return;
        }
        hits.set(id, [...(hits.get(id) ?? []), decodeURIComponent(req.url!.slice('/kv/'.length))]);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ context: 'c' }));
      });
      await new Promise<void>((r) => server.listen(ports[i], '127.0.0.1', r));
      servers.push(server);
    }
    const client = new ClusterClient(members.map((m) => `http://${m.http}`), { routing: 'ring' });
    const { Ring } = await import('../../src/ring/ring.ts');
    const ring = Ring.of(ids);
    for (let i = 0; i < 30; i++) await client.put(`key-${i}`, 'v');
    for (const [id, keys] of hits) {
      for (const key of keys) assert.ok(ring.preferenceList(key, 3).includes(id), `${key} went to ${id}, not one of its replicas`);
    }
    // Repeated requests for one key spread over its 3 replicas.
    hits.clear();
    for (let i = 0; i < 6; i++) await client.put('hot', 'v');
    assert.deepEqual([...hits.keys()].sort(), ring.preferenceList('hot', 3).sort());
  });
});
