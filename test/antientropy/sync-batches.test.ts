// Anti-entropy between two real nodes over a transport that enforces the 32 MiB frame limit:
// one syncRange must make both replicas of a range equal when each holds 40 keys of 1 MiB the
// other lacks (pulls answered in byte-bounded parts, pushes cut by bytes), and a sync must push
// what the peer lacks, not only pull what we lack. A replica answering a pull cuts its reply by
// bytes and names the keys it left for another request, and those too large for any frame.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DynakvNode } from '../../src/node/node.ts';
import { BATCH_ENTRY_BYTES_MAX, batchEntryBytes, TRANSFER_BATCH_BYTES_MAX } from '../../src/protocol/messages.ts';
import { Ring } from '../../src/ring/ring.ts';
import type { Sibling } from '../../src/version/siblings.ts';
import { FrameLimitedCluster } from '../support/frame-limited-cluster.ts';
import { testSeed } from '../support/seed.ts';

const seed = testSeed();
const MiB = 1024 * 1024;
let counter = 0;

function sibling(node: string, value: Buffer): Sibling {
  return { dot: { node, counter: ++counter, timeMs: 1 }, context: [], value, contentType: 'application/octet-stream' };
}

/** Three nodes, N = 3: every node replicates every range, so any two nodes share all keys. */
async function threeNodes() {
  const cluster = await FrameLimitedCluster.start({ seed, nodes: 3, config: { antiEntropyIntervalMs: 3_600_000, requestTimeoutMs: 500 } });
  const { scheduler } = cluster;
  const [n1, n2] = [cluster.node('n1'), cluster.node('n2')];
  await scheduler.runWhile(() => n1.antiEntropy.status().state !== 'ready' || n2.antiEntropy.status().state !== 'ready', 60_000);
  return { cluster, scheduler, n1, n2 };
}

function valueOf(node: DynakvNode, key: string): Buffer | undefined {
  const held = node.store.read(key);
  return held.length === 1 ? Buffer.from(held[0]!.value!) : undefined;
}

describe('anti-entropy by bytes', () => {
  it('one sync moves 40 keys of 1 MiB each way (32 MiB frames)', async () => {
    const { cluster, scheduler, n1, n2 } = await threeNodes();
    const values = new Map<string, Buffer>();
    const writes: Array<Promise<void>> = [];
    // All in one range, so that one sync has to move 40 MiB each way.
    const ring = Ring.of(cluster.ids);
    const inRange = (prefix: string) => Array.from({ length: 1_000 }, (_, i) => `${prefix}-${i}`).filter((k) => ring.homeOf(k) === 'n1');
    const names = { 'ours-big': inRange('ours-big'), 'theirs-big': inRange('theirs-big'), 'ours-small': inRange('ours-small'), 'theirs-small': inRange('theirs-small') };
    for (let i = 0; i < 40; i++) {
      for (const [node, prefix] of [[n1, 'ours'], [n2, 'theirs']] as const) {
        const key = names[`${prefix}-big`][i]!;
        values.set(key, Buffer.alloc(MiB, i));
        writes.push(node.store.merge(key, [sibling(node.id, values.get(key)!)]));
      }
    }
    for (let i = 0; i < 100; i++) {
      for (const [node, prefix] of [[n1, 'ours'], [n2, 'theirs']] as const) {
        const key = names[`${prefix}-small`][i]!;
        values.set(key, Buffer.from(key));
        writes.push(node.store.merge(key, [sibling(node.id, values.get(key)!)]));
      }
    }
    await scheduler.complete(Promise.all(writes));
    const { pulled, pushed } = await scheduler.complete(n1.antiEntropy.syncRange('n1', 'n2'));
    for (const [key, value] of values) {
      assert.ok(valueOf(n1, key)?.equals(value), `${key} on n1`);
      assert.ok(valueOf(n2, key)?.equals(value), `${key} on n2`);
    }
    assert.equal(pulled, 140);
    assert.equal(pushed, 140);
  });

  it('pushes the keys the peer lacks in the same sync', async () => {
    const { cluster, scheduler, n1, n2 } = await threeNodes();
    const keys = Array.from({ length: 50 }, (_, i) => `push-${i}`);
    await scheduler.complete(Promise.all(keys.map((k) => n1.store.merge(k, [sibling('n1', Buffer.from(k))]))));
    let pushed = 0;
    for (const range of cluster.ids) pushed += (await scheduler.complete(n1.antiEntropy.syncRange(range, 'n2'))).pushed;
    for (const k of keys) assert.equal(valueOf(n2, k)?.toString(), k, `${k} reached the peer`);
    assert.equal(pushed, keys.length);
    assert.equal(n1.antiEntropy.totals.keysPushed, keys.length);
  });

  it('answers a pull with as much as fits a batch, in order, naming what it left and what fits no frame', async () => {
    const { scheduler, n1 } = await threeNodes();
    const keys = Array.from({ length: 30 }, (_, i) => `pull-${String(i).padStart(2, '0')}`);
    const writes = keys.map((k, i) => n1.store.merge(k, [sibling('n1', Buffer.alloc(i === 0 ? 10 * MiB : MiB, i))]));
    writes.push(n1.store.merge('pull-huge', [sibling('n1', Buffer.alloc(33 * MiB, 1))]));
    await scheduler.complete(Promise.all(writes));
    const ask = async (asked: readonly string[]) => {
      const reply = await n1.antiEntropy.handle({ kind: 'replica_get_batch', keys: asked });
      assert.ok(reply.kind === 'replica_get_batch_ok');
      return reply;
    };
    // A record larger than a batch goes alone.
    const first = await ask(keys);
    assert.deepEqual(first.entries.map((e) => e.key), ['pull-00']);
    assert.deepEqual(first.left, keys.slice(1));
    // Then as many as fit TRANSFER_BATCH_BYTES_MAX; a record too large for a frame is named, not sent.
    const second = await ask(['pull-huge', ...keys.slice(1), 'absent']);
    assert.deepEqual(second.tooLarge, ['pull-huge']);
    const bytes = second.entries.reduce((sum, e) => sum + batchEntryBytes(e.key, e.record), 0);
    assert.ok(bytes <= TRANSFER_BATCH_BYTES_MAX, `${bytes} bytes in one reply`);
    assert.ok(second.entries.length >= 7, `${second.entries.length} entries of 1 MiB`);
    assert.deepEqual([...second.entries.map((e) => e.key), ...second.left], [...keys.slice(1), 'absent']);
    assert.ok(batchEntryBytes('pull-huge', n1.store.readEncoded('pull-huge')) > BATCH_ENTRY_BYTES_MAX);
  });
});
