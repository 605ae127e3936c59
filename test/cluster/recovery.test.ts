// Shows Dynamo's "always writeable" machinery on 5 real processes: with n3 SIGKILLed, 10,000
// writes (including keys homed on n3) and 100 deletes are all acknowledged at W=2 through
// sloppy quorum; the other nodes hold hints for n3; after n3 restarts, hinted handoff and Merkle
// anti-entropy give it every key of its ranges at the newest version within a stated bound, the
// hints drain, and deleted keys stay deleted. Catch-up time and transfer figures are printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ring } from '../../src/ring/ring.ts';
import { LocalCluster, waitFor } from '../support/local-cluster.ts';

const KEYS = 10_000;
const CONCURRENCY = 64;
const CATCH_UP_BOUND_MS = 60_000;

interface Stats {
  keys: number;
  hints: Record<string, number>;
  hintsDelivered: number;
  hintedWrites: number;
  sync: { state: string; keysPulled: number; keysPushed: number; bytesSent: number; bytesReceived: number };
}

describe('recovery of a killed node on 5 real nodes', () => {
  let cluster: LocalCluster;
  before(async () => {
    cluster = await LocalCluster.start('recovery');
  });
  after(async () => {
    await cluster?.stop();
  });

  it('acknowledges every write with n3 down and brings n3 up to date when it returns', async () => {
    const ring = Ring.of(cluster.nodes.map((n) => n.id));
    const alive = cluster.nodes.filter((n) => n.id !== 'n3');
    await cluster.kill('n3');
    const keys = Array.from({ length: KEYS }, (_, i) => `r${i}`);
    const deleted = keys.filter((k) => ring.preferenceList(k, 3).includes('n3')).slice(0, 100);
    // Deleted keys exist before the kill, so n3 holds the old value that must not come back.
    await cluster.startNode('n3');
    await cluster.waitHeardByAll('n3', Date.now() - 1);
    await Promise.all(deleted.map((k) => cluster.node('n1').client.put(k, 'doomed', { w: 3 })));
    await cluster.kill('n3');

    let homedOnN3 = 0;
    for (let i = 0; i < keys.length; i += CONCURRENCY) {
      await Promise.all(
        keys.slice(i, i + CONCURRENCY).map(async (k, j) => {
          await alive[(i + j) % alive.length]!.client.put(k, `v-${k}`); // throws unless acknowledged at W=2
          if (ring.homeOf(k) === 'n3') homedOnN3++;
        }),
      );
    }
    for (const k of deleted) {
      const read = await alive[0]!.client.get(k);
      assert.ok(read.found);
      await alive[1]!.client.delete(k, { context: read.context });
    }
    console.log(`wrote ${KEYS} keys (${homedOnN3} homed on n3) and deleted ${deleted.length} with n3 down: all acknowledged`);
    const hintsHeld = (await Promise.all(alive.map(async (n) => ((await (await cluster.fetch(`${n.url}/local/stats`)).json()) as Stats).hints.n3 ?? 0))).reduce((a, b) => a + b, 0);
    console.log(`hints held for n3: ${hintsHeld}`);
    assert.ok(hintsHeld > 0);

    const restartedAt = Date.now();
    await cluster.startNode('n3');
    const n3 = cluster.node('n3');
    const owned = new Set(keys.filter((k) => ring.preferenceList(k, 3).includes('n3')));
    await waitFor('n3 to hold every key of its ranges', async () => {
      let present = 0;
      let start: string | undefined;
      for (;;) {
        const page = await n3.client.localKeys(start, 10_000);
        for (const k of page.keys) if (owned.has(k)) present++;
        if (page.next === null) break;
        start = page.next;
      }
      return present === owned.size;
    }, CATCH_UP_BOUND_MS, 200);
    const caughtUpMs = Date.now() - restartedAt;
    await waitFor('hints for n3 to drain', async () => {
      for (const n of alive) if (((await (await cluster.fetch(`${n.url}/local/stats`)).json()) as Stats).hints.n3 !== undefined) return false;
      return true;
    }, CATCH_UP_BOUND_MS, 200);
    // Newest versions: every sampled key carries the value written while n3 was down.
    for (const k of [...owned].filter((k) => !deleted.includes(k)).slice(0, 300)) {
      const local = await n3.client.local(k);
      assert.ok(local, k);
      assert.deepEqual(local.siblings.map((s) => Buffer.from(s.value!, 'base64').toString()), [`v-${k}`], k);
    }
    for (const k of deleted) {
      const local = await n3.client.local(k);
      assert.ok(local && local.siblings.every((s) => s.deleted), `${k} is a tombstone on n3`);
      assert.equal((await n3.client.get(k, { r: 3 })).found, false, `${k} stays deleted`);
    }
    const stats = (await Promise.all(cluster.nodes.map(async (n) => (await (await cluster.fetch(`${n.url}/local/stats`)).json()) as Stats)));
    const delivered = stats.reduce((s, x) => s + x.hintsDelivered, 0);
    const aeKeys = stats.reduce((s, x) => s + x.sync.keysPulled + x.sync.keysPushed, 0);
    const aeBytes = stats.reduce((s, x) => s + x.sync.bytesSent + x.sync.bytesReceived, 0);
    console.log(`n3 caught up (${owned.size} keys) ${caughtUpMs} ms after restart began: ${delivered} hints delivered, anti-entropy moved ${aeKeys} keys in ${aeBytes} bytes`);
    assert.ok(caughtUpMs < CATCH_UP_BOUND_MS);
  });
});
