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
import { ClusterClient, HEDGE_DELAY_MS_INITIAL, HEDGE_DELAY_MS_MIN, HEDGE_LATENCY_SAMPLES_MIN, NoNodeAnswered, type Attempt } from '../../src/client/cluster-client.ts';
import { waitFor } from '../../src/launch/wait-for.ts';
import { freePort } from '../support/local-cluster.ts';

type Behaviour = 'answer' | 'hang' | 'unavailable' | 'slow';
/** How long a 'slow' node takes to answer. */
const SLOW_ANSWER_MS = 300;


async function fakeNode(behaviour: Behaviour): Promise<{ url: string; server: Server; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    if (behaviour === 'hang') return; // accepted, never answered (like a SIGSTOPped node)
    if (behaviour === 'slow') {
      setTimeout(() => res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', context: '' })), SLOW_ANSWER_MS);
      return;
    }
    if (behaviour === 'unavailable') {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'write quorum not reached' }));
      return;
    }
    if (req.method === 'PUT') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ context: 'ctx-from-node' }));
    else res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', context: '' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server, requests: () => requests };
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
    for (const n of [healthy, hanging, unavailable]) n.server.closeAllConnections();
    for (const n of [healthy, hanging, unavailable]) n.server.close();
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
    for (let i = 0; i < HEDGE_LATENCY_SAMPLES_MIN; i++) await client.get('k');
    const delay = client.hedgeDelayMs();
    assert.ok(delay >= HEDGE_DELAY_MS_MIN && delay < HEDGE_DELAY_MS_INITIAL, `loopback answers make a short delay (got ${delay} ms)`);
    const short = new ClusterClient([healthy.url], { timeoutMs: 100 });
    assert.equal(short.hedgeDelayMs(), 50, 'never more than half the attempt timeout');
  });

  it('does not count the answers of attempts a hedge overtook in the p99 (a stall would raise the delay)', async () => {
    const slow = await fakeNode('slow');
    try {
      const attempts: Attempt[] = [];
      const client = new ClusterClient([slow.url, healthy.url], { timeoutMs: 2_000, onAttempt: (a) => attempts.push(a) });
      for (let i = 0; i < 2 * HEDGE_LATENCY_SAMPLES_MIN; i++) await client.get('k');
      await waitFor('every slow attempt to end', () => attempts.length === 2 * HEDGE_LATENCY_SAMPLES_MIN + client.hedged, 5_000, 10);
      assert.ok(client.hedged >= HEDGE_LATENCY_SAMPLES_MIN - 1, `round robin starts every other request at the slow node, and each was hedged (${client.hedged})`);
      assert.ok(attempts.filter((a) => a.endpoint === slow.url && a.endMs - a.startMs >= SLOW_ANSWER_MS - 10).length >= HEDGE_LATENCY_SAMPLES_MIN - 1, 'the slow node did answer, late');
      const delay = client.hedgeDelayMs();
      assert.ok(delay < SLOW_ANSWER_MS - 50, `the delay follows the answers that won, not the ${SLOW_ANSWER_MS} ms ones that came late (got ${delay} ms)`);
    } finally {
      slow.server.closeAllConnections();
      slow.server.close();
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
