// Shows that the simulator's world has the faults the simulation relies on: its disks commit
// asynchronously, in order per node, fail whole batches on demand (nothing of a failed batch is
// applied) and lose in-flight commits in a crash; its network enforces TcpTransport's frame
// limit (OVERLOADED at the sender, REPLY_TOO_LARGE for a reply), refuses senders without a
// certificate before any handler runs, closes on malformed requests, and never duplicates a
// forwarded write. Each check drives the piece directly, with a fixed seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FencedStorage, healthyDisk } from '../../sim/fenced-storage.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { SeededRandom } from '../../sim/seeded-random.ts';
import { SimNetwork } from '../../sim/sim-network.ts';
import { TransportError } from '../../src/env/transport.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { RemoteError } from '../../src/transport/remote-error.ts';

const write = (key: string, value: string) => ({ space: 'data' as const, key, value: Buffer.from(value) });

function disk(seed = 1) {
  const scheduler = new Scheduler();
  const inner = new MemoryStorage();
  const faults = healthyDisk();
  const storage = new FencedStorage(inner, { scheduler, random: new SeededRandom(seed), faults });
  return { scheduler, inner, faults, storage };
}

describe('simulated disk', () => {
  it('commits asynchronously, after a delay, completing in the order they were made', async () => {
    const { scheduler, inner, storage } = disk();
    const order: string[] = [];
    const commits = Array.from({ length: 20 }, (_, i) => storage.commit([write(`k${i}`, `v${i}`)]).then(() => order.push(`k${i}`)));
    assert.equal(inner.get('data', 'k0'), undefined, 'nothing is durable at the call');
    assert.equal(storage.get('data', 'k0'), undefined, 'reads see committed state only');
    await scheduler.complete(Promise.all(commits));
    assert.ok(scheduler.nowMs > 0, 'commits took virtual time');
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => `k${i}`));
    assert.equal(Buffer.from(storage.get('data', 'k19')!).toString(), 'v19');
  });

  it('fails a whole batch on an fsync error or a full disk, applying nothing of it', async () => {
    const { scheduler, faults, storage } = disk();
    faults.full = true;
    await assert.rejects(scheduler.complete(storage.commit([write('a', '1'), write('b', '2')])), { code: 'STORAGE_FAILED' });
    assert.equal(storage.get('data', 'a'), undefined);
    assert.equal(storage.get('data', 'b'), undefined);
    faults.full = false;
    faults.failRate = 0.5;
    const outcomes = await scheduler.complete(Promise.allSettled(Array.from({ length: 40 }, (_, i) => storage.commit([write(`k${i}`, 'x'), write(`j${i}`, 'y')]))));
    const failed = outcomes.filter((o) => o.status === 'rejected').length;
    assert.ok(failed > 5 && failed < 35, `about half fail: ${failed} of 40`);
    outcomes.forEach((o, i) => {
      const applied = storage.get('data', `k${i}`) !== undefined;
      assert.equal(applied, o.status === 'fulfilled', `batch ${i}: applied iff it resolved`);
      assert.equal(storage.get('data', `j${i}`) !== undefined, applied, `batch ${i} is all or nothing`);
    });
    assert.equal(storage.commitsFailed, failed + 1, "the full-disk batch and the fsync errors");
  });

  it('loses the commits in flight when the process crashes, and never settles them', async () => {
    const { scheduler, inner, storage } = disk();
    await scheduler.complete(storage.commit([write('before', '1')]));
    let settled = false;
    void storage.commit([write('in-flight', '2')]).finally(() => (settled = true));
    storage.fence();
    void storage.commit([write('after', '3')]).finally(() => (settled = true));
    await scheduler.runUntil(scheduler.nowMs + 10_000);
    assert.equal(settled, false, 'a dead process runs no continuation');
    assert.ok(inner.get('data', 'before') !== undefined);
    assert.equal(inner.get('data', 'in-flight'), undefined);
    assert.equal(inner.get('data', 'after'), undefined);
    assert.equal(storage.commitsLost, 1);
  });
});

type Msg = { kind: string; key?: string; blob?: Uint8Array };

function network(options: { frameBytesMax?: number } = {}) {
  const scheduler = new Scheduler();
  const parse = (x: unknown): Msg | undefined => (typeof x === 'object' && x !== null && typeof (x as Msg).kind === 'string' ? (x as Msg) : undefined);
  const net = new SimNetwork<Msg, Msg>(scheduler, new SeededRandom(7), parse, parse, {
    delayMinMs: 1,
    delayMaxMs: 5,
    ...options,
    duplicable: (r) => (r as Msg).kind !== 'forward_put',
  });
  return { scheduler, net };
}

describe('simulated network', () => {
  it('refuses a request over the frame limit at the sender (OVERLOADED), and a reply over it (REPLY_TOO_LARGE)', async () => {
    const { scheduler, net } = network({ frameBytesMax: 1024 });
    let handled = 0;
    net.transportFor('b').serve(async (_from, request) => {
      handled++;
      return request.kind === 'big-reply' ? { kind: 'ok', blob: new Uint8Array(2048) } : { kind: 'ok' };
    });
    const a = net.transportFor('a');
    await assert.rejects(scheduler.complete(a.request('b', { kind: 'put', blob: new Uint8Array(2048) }, 1_000)), (err: unknown) => err instanceof TransportError && err.code === 'OVERLOADED');
    assert.equal(handled, 0, 'the oversized request never reached the peer');
    await assert.rejects(scheduler.complete(a.request('b', { kind: 'big-reply' }, 1_000)), (err: unknown) => err instanceof RemoteError && err.remoteCode === 'REPLY_TOO_LARGE');
    assert.deepEqual(await scheduler.complete(a.request('b', { kind: 'small' }, 1_000)), { kind: 'ok' });
    assert.equal(net.oversized, 2);
  });

  it('refuses a sender without a certificate before any handler runs; a certified one gets through', async () => {
    const { scheduler, net } = network();
    net.certified = new Set(['a', 'b']);
    const seen: string[] = [];
    net.transportFor('b').serve(async (from) => {
      seen.push(from);
      return { kind: 'ok' };
    });
    await assert.rejects(scheduler.complete(net.sendRaw('a', 'b', { kind: 'gossip' }, 1_000, { certificate: false })), { code: 'UNREACHABLE' });
    await assert.rejects(scheduler.complete(net.sendRaw('intruder', 'b', { kind: 'gossip' }, 1_000, { certificate: false })), { code: 'UNREACHABLE' });
    assert.deepEqual(seen, [], 'claiming a member id is not enough');
    assert.deepEqual(await scheduler.complete(net.transportFor('a').request('b', { kind: 'ping' }, 1_000)), { kind: 'ok' });
    assert.deepEqual(seen, ['a']);
    assert.equal(net.refusedUnauthenticated, 2);
  });

  it('closes the connection on a malformed request (CLOSED) without calling the handler', async () => {
    const { scheduler, net } = network();
    let handled = 0;
    net.transportFor('b').serve(async () => {
      handled++;
      return { kind: 'ok' };
    });
    await assert.rejects(scheduler.complete(net.sendRaw('a', 'b', 42, 1_000, { certificate: true })), { code: 'CLOSED' });
    assert.equal(handled, 0);
    assert.equal(net.malformed, 1);
  });

  it('duplicates idempotent requests in a duplication burst, never a forwarded write', async () => {
    const { scheduler, net } = network();
    net.duplicateRate = 1;
    const kinds: string[] = [];
    net.transportFor('b').serve(async (_from, request) => {
      kinds.push(request.kind);
      return { kind: 'ok' };
    });
    const a = net.transportFor('a');
    await scheduler.complete(a.request('b', { kind: 'replica_put' }, 1_000));
    await scheduler.complete(a.request('b', { kind: 'forward_put' }, 1_000));
    await scheduler.runUntil(scheduler.nowMs + 100);
    assert.deepEqual(kinds.sort(), ['forward_put', 'replica_put', 'replica_put']);
  });
});
