// The coordinator's durability promises, shown with a storage whose commits wait to be released
// (or fail) and peers that answer, refuse or stay silent on cue (issue 13 section 4: mutants
// that acked the coordinator's own write before its local commit, answered after W-1 acks, or
// swallowed a failed commit survived every test). A 3-node ring, so there is no fallback node
// to hint to: every ack must come from a replica. Virtual time from the simulator's scheduler.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scheduler } from '../../sim/scheduler.ts';
import { SeededRandom } from '../../sim/seeded-random.ts';
import { SimClock } from '../../sim/sim-clock.ts';
import { silentLog } from '../../src/env/log.ts';
import { StorageError, type StorageWrite } from '../../src/env/storage.ts';
import { TransportError, type NodeId, type Transport } from '../../src/env/transport.ts';
import type { PeerReply, PeerRequest } from '../../src/protocol/messages.ts';
import { DEFAULT_CONFIG } from '../../src/node/config.ts';
import { DynakvNode } from '../../src/node/node.ts';
import { Coordinator, READ_SPECULATE_MS_MIN, type ReplicaLoad } from '../../src/replication/coordinator.ts';
import { LATENCY_WINDOW_SAMPLES_MIN, SPECULATION_BURST } from '../../src/replication/latency-window.ts';
import { DotCounter } from '../../src/replication/dot-counter.ts';
import { NO_LOAD } from '../../src/handoff/fallback-loads.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import { RemoteError } from '../../src/transport/remote-error.ts';
import { Ring } from '../../src/ring/ring.ts';
import { insecureClusterSecret } from '../../src/security/cluster-secret.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { EncodedRecord } from '../../src/version/record-codec.ts';
import { clockOf, covers, distinctValues, joinClocks } from '../../src/version/siblings.ts';

/** Commits of the data space wait until released, or fail when `failing` is set. */
class ControlledStorage extends MemoryStorage {
  hold = false;
  failing = false;
  readonly held: Array<() => void> = [];
  override commit(writes: readonly StorageWrite[]): Promise<void> {
    if (!writes.some((w) => w.space === 'data')) return super.commit(writes);
    if (this.failing) return Promise.reject(new StorageError('fsync failed: disk full'));
    if (!this.hold) return super.commit(writes);
    return new Promise((resolve, reject) => this.held.push(() => super.commit(writes).then(resolve, reject)));
  }
  release(): void {
    while (this.held.length > 0) this.held.shift()!();
  }
}

type PeerBehaviour = 'ok' | 'refuse' | 'silent' | 'timeout' | 'not-ready' | 'not-ready-code-only' | 'overloaded' | 'remote-failure';

function peers(behaviour: Record<NodeId, PeerBehaviour>, sent: PeerRequest[]): Transport<PeerRequest, PeerReply> {
  return {
    request(to, request) {
      sent.push(request);
      switch (behaviour[to]) {
        case 'ok':
          if (request.kind === 'forward_put') return Promise.resolve({ kind: 'forward_put_ok', context: [] });
          return Promise.resolve(request.kind === 'replica_get' ? ({ kind: 'replica_get_ok', record: undefined } as never) : { kind: 'replica_put_ok' });
        case 'not-ready':
          return Promise.reject(new RemoteError('NOT_READY', `${to} serves no data yet (waiting): ask again later`, true));
        case 'not-ready-code-only':
          // A handler error that reuses a door code, without the transport's refused-unread flag.
          return Promise.reject(new RemoteError('NOT_READY', `${to} failed half way`));
        case 'overloaded':
          return Promise.reject(new TransportError('OVERLOADED', `1024 requests already in flight to ${to}`));
        case 'remote-failure':
          return Promise.reject(new RemoteError('HANDLER_FAILED', `${to} failed while handling it`));
        case 'silent':
          return new Promise(() => {});
        case 'timeout':
          return Promise.reject(new TransportError('TIMEOUT', `${to} did not answer in time`));
        default:
          return Promise.reject(new TransportError('UNREACHABLE', `${to} refused`));
      }
    },
    serve() {},
    close: async () => {},
  };
}

async function coordinatorFor(behaviour: Record<NodeId, PeerBehaviour>, members: readonly NodeId[] = ['n1', 'n2', 'n3']) {
  const scheduler = new Scheduler();
  const storage = new ControlledStorage();
  const store = new ReplicaStore(storage);
  const sent: PeerRequest[] = [];
  const ring = Ring.of([...members]);
  const dots = await DotCounter.open(storage, 'n1', new SeededRandom(1));
  const coordinator = new Coordinator({
    self: 'n1',
    ring: () => ring,
    store,
    dots,
    transport: peers(behaviour, sent),
    clock: new SimClock(scheduler),
    log: silentLog,
    config: { n: 3, r: 2, w: 2, requestTimeoutMs: 1_000, clockEntriesMax: 10, siblingsMax: 64 },
    isDown: () => false,
    isSuspect: () => false,
    fallbackRecords: { read: () => [], replicaLoad: () => NO_LOAD, unmeasuredLoad: () => NO_LOAD, roomForRecord: () => true, replace: () => Promise.reject(new Error('no fallback records in this harness')) },
  });
  return { scheduler, storage, store, coordinator, sent };
}

/** Runs virtual time until `promise` settles or `ms` pass; reports which. */
async function settledWithin<T>(scheduler: Scheduler, promise: Promise<T>, ms: number): Promise<'resolved' | 'rejected' | 'pending'> {
  let state: 'resolved' | 'rejected' | 'pending' = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await scheduler.runWhile(() => state === 'pending' && scheduler.nowMs < ms, ms + 1).catch(() => {});
  await scheduler.runUntil(Math.min(scheduler.nowMs, ms));
  return state;
}

const write = (key: string, value: string) => ({ key, value: Buffer.from(value), contentType: 'text/plain', context: [] });

describe('coordinator durability', () => {
  it('counts its own replica only once the local commit is durable', async () => {
    const { scheduler, storage, coordinator } = await coordinatorFor({ n2: 'ok', n3: 'refuse' });
    storage.hold = true;
    const put = coordinator.put(write('k', 'v'));
    assert.equal(await settledWithin(scheduler, put, 500), 'pending', 'acked with the local commit still pending');
    storage.release();
    assert.equal(await settledWithin(scheduler, put, 1_000), 'resolved');
  });

  it('needs W acks, not W-1', async () => {
    const { scheduler, storage, coordinator } = await coordinatorFor({ n2: 'silent', n3: 'silent' });
    storage.hold = true;
    const put = coordinator.put(write('k', 'v'));
    storage.release();
    // Only the local replica is durable: 1 of W=2.
    await assert.rejects(scheduler.complete(put), { code: 'QUORUM_FAILED' });
  });

  it('does not acknowledge a write whose local commit failed', async () => {
    const { scheduler, storage, coordinator } = await coordinatorFor({ n2: 'ok', n3: 'refuse' });
    storage.failing = true;
    await assert.rejects(scheduler.complete(coordinator.put(write('k', 'v'))), { code: 'QUORUM_FAILED' });
  });

  it('does not acknowledge a write whose local commit failed, even when W peers took it', async () => {
    // The coordinator's own replica must hold every dot it issued: a version vector entry a:6
    // promises a:1..a:6, so a later version from this node, read alone, would cover (and drop)
    // the dot its disk lost (simulator harsh seed 20073).
    const { scheduler, storage, coordinator } = await coordinatorFor({ n2: 'ok', n3: 'ok' });
    storage.failing = true;
    await assert.rejects(scheduler.complete(coordinator.put({ ...write('k', 'v'), w: 2 })), { code: 'QUORUM_FAILED' });
  });

  it('sends the version to no replica before its own commit is durable, and to none if it fails', async () => {
    // A version on another replica but not on the coordinator's disk carries the acknowledged
    // writes it superseded there, and the coordinator's next version of the key covers it unseen
    // (its clock claims every earlier dot of this actor): they were lost (simulator harsh seed 4).
    const { scheduler, storage, coordinator, sent } = await coordinatorFor({ n2: 'ok', n3: 'ok' });
    storage.hold = true;
    const put = coordinator.put(write('k', 'v'));
    assert.equal(await settledWithin(scheduler, put, 300), 'pending');
    assert.deepEqual(sent.map((r) => r.kind), [], 'replicas were sent the version before the local commit was durable');
    storage.release();
    assert.equal(await settledWithin(scheduler, put, 1_000), 'resolved');
    assert.deepEqual(sent.map((r) => r.kind), ['replica_put', 'replica_put']);

    sent.length = 0;
    storage.failing = true;
    await assert.rejects(scheduler.complete(coordinator.put(write('k', 'w'))), { code: 'QUORUM_FAILED', message: /no other replica was sent the write/ });
    assert.deepEqual(sent, [], 'a version whose local commit failed reached other replicas');
  });

  it('keeps two concurrent blind writes through one node as two siblings', async () => {
    const { scheduler, store, coordinator } = await coordinatorFor({ n2: 'ok', n3: 'ok' });
    await scheduler.complete(Promise.all([coordinator.put(write('k', 'a')), coordinator.put(write('k', 'b'))]));
    const values = distinctValues(store.read('k')).map((s) => Buffer.from(s.value!).toString()).sort();
    assert.deepEqual(values, ['a', 'b']);
  });

  it('refuses a blind delete or put that would only add a version past siblingsMax, tombstones counted; a delete with the context passes (simulator harsh seed 58966)', async () => {
    const { scheduler, store, coordinator } = await coordinatorFor({ n2: 'ok', n3: 'ok' });
    for (let i = 0; i < 64; i++) await scheduler.complete(coordinator.put({ key: 'k', value: null, contentType: '', context: [] }));
    assert.equal(store.read('k').length, 64);
    await assert.rejects(scheduler.complete(coordinator.put({ key: 'k', value: null, contentType: '', context: [] })), { code: 'TOO_MANY_SIBLINGS', message: /delete covers none of them/ });
    // Nor a blind put beside the 64 tombstones (live siblings alone would let 64 more in).
    await assert.rejects(scheduler.complete(coordinator.put(write('k', 'v'))), { code: 'TOO_MANY_SIBLINGS', message: /write covers none of them/ });
    assert.equal(store.read('k').length, 64);
    await scheduler.complete(coordinator.put({ key: 'k', value: null, contentType: '', context: joinClocks(store.read('k')) }));
    assert.equal(store.read('k').length, 1);
  });

  it('refuses a write whose versions would exceed the record bound, but never a delete', async () => {
    const { scheduler, coordinator } = await coordinatorFor({ n2: 'ok', n3: 'ok' });
    const mib = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < 3; i++) await scheduler.complete(coordinator.put({ key: 'big', value: mib, contentType: 'x', context: [] }));
    await assert.rejects(scheduler.complete(coordinator.put({ key: 'big', value: mib, contentType: 'x', context: [] })), { code: 'RECORD_TOO_LARGE' });
    await scheduler.complete(coordinator.put({ key: 'big', value: null, contentType: '', context: [] }));
  });
});

/** Replicas with their own stores; each answers replica_get/replica_put/hint_put, or not. */
function replicaPeers(
  stores: Map<NodeId, ReplicaStore>,
  silent: Set<NodeId>,
  sent: Array<{ to: NodeId; request: PeerRequest }>,
  held: Array<() => void> = [],
): Transport<PeerRequest, PeerReply> {
  const transport: Transport<PeerRequest, PeerReply> = {
    async request(to, request) {
      sent.push({ to, request });
      // A silent replica's requests wait in `held`; releasing them answers late (a paused node resuming).
      if (silent.has(to)) return new Promise((resolve, reject) => held.push(() => answer(to, request).then(resolve, reject)));
      return answer(to, request);
    },
    serve() {},
    close: async () => {},
  };
  const answer = async (to: NodeId, request: PeerRequest): Promise<PeerReply> => {
    const store = stores.get(to);
    if (store === undefined) throw new TransportError('UNREACHABLE', `${to} refused`);
    switch (request.kind) {
      case 'replica_get':
        return { kind: 'replica_get_ok', record: EncodedRecord.of(store.read(request.key)) };
      case 'replica_put':
      case 'hint_put':
        await store.merge(request.key, request.record.siblings);
        return { kind: 'replica_put_ok' };
      default:
        throw new Error(`unexpected ${request.kind}`);
    }
  };
  return transport;
}

async function readCluster(members: readonly NodeId[], options: { silent?: NodeId[]; down?: NodeId[] } = {}) {
  const scheduler = new Scheduler();
  const ring = Ring.of([...members]);
  const stores = new Map(members.map((id) => [id, new ReplicaStore(new MemoryStorage())]));
  const sent: Array<{ to: NodeId; request: PeerRequest }> = [];
  const down = new Set(options.down ?? []);
  const silent = new Set(options.silent ?? []);
  const held: Array<() => void> = [];
  // n1's fallback records (HintDelivery keeps them in its hint space).
  const own = new ReplicaStore(new MemoryStorage(), 'hints');
  // What the key's replicas held when n1 last handed them a record (HintDelivery's fallback loads).
  const loads = new Map<string, ReplicaLoad>();
  // ...of which n1's own records handed to them since it last measured them, and whether a new record may start.
  const unmeasured = new Map<string, ReplicaLoad>();
  const room = { forRecord: true };
  const coordinator = new Coordinator({
    self: 'n1',
    ring: () => ring,
    store: stores.get('n1')!,
    dots: await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(1)),
    transport: replicaPeers(stores, silent, sent, held),
    clock: new SimClock(scheduler),
    log: silentLog,
    config: { n: 3, r: 2, w: 2, requestTimeoutMs: 1_000, clockEntriesMax: 10, siblingsMax: 64 },
    isDown: (id) => down.has(id),
    isSuspect: () => false,
    fallbackRecords: {
      read: (key) => own.read(key),
      replicaLoad: (key) => loads.get(key) ?? NO_LOAD,
      unmeasuredLoad: (key) => unmeasured.get(key) ?? NO_LOAD,
      roomForRecord: () => room.forRecord,
      replace: (key, siblings, bytes) => own.replace(key, siblings, bytes),
    },
  });
  return { scheduler, ring, stores, sent, coordinator, silent, held, own, loads, unmeasured, room };
}

const v = (node: string, counter: number, value: string) => ({ dot: { node, counter, timeMs: 1 }, context: [], value: Buffer.from(value), contentType: 'text/plain' });
const valuesOf = (siblings: readonly { value: Uint8Array | null }[]) => siblings.map((x) => Buffer.from(x.value!).toString()).sort();

describe('coordinated reads', () => {
  const key = 'read-key';

  it('reads R replicas, own first; equal answers end the read without asking the third', async () => {
    const { scheduler, ring, stores, sent, coordinator } = await readCluster(['n1', 'n2', 'n3']);
    for (const id of ring.preferenceList(key, 3)) await stores.get(id)!.merge(key, [v('w#aaaaaaaaaa', 1, 'same')]);
    const read = await scheduler.complete(coordinator.get(key));
    assert.deepEqual(valuesOf(read.siblings), ['same']);
    assert.equal(sent.length, 1, `asked ${sent.map((x) => x.to).join(',')}`);
    assert.equal(coordinator.readRepairs, 0);
  });

  it('asks the others when R answers disagree, merges every answer and repairs the stale replicas', async () => {
    const { scheduler, stores, sent, coordinator } = await readCluster(['n1', 'n2', 'n3']);
    await stores.get('n1')!.merge(key, [v('w#aaaaaaaaaa', 1, 'a')]);
    for (const id of ['n2', 'n3']) await stores.get(id)!.merge(key, [v('w#bbbbbbbbbb', 1, 'b')]);
    const read = await scheduler.complete(coordinator.get(key));
    assert.deepEqual(valuesOf(read.siblings), ['a', 'b']);
    assert.deepEqual(sent.filter((x) => x.request.kind === 'replica_get').map((x) => x.to).sort(), ['n2', 'n3'], 'the third replica was not asked');
    await scheduler.runUntil(scheduler.nowMs + 2_000);
    for (const id of ['n1', 'n2', 'n3']) assert.deepEqual(valuesOf(stores.get(id)!.read(key)), ['a', 'b'], `${id} was not repaired`);
    assert.equal(coordinator.readRepairs, 3);
  });

  it('asks the third replica after the p99 of recent replica reads once there is one, not a quarter of the timeout', async () => {
    const { scheduler, ring, stores, coordinator, silent } = await readCluster(['n1', 'n2', 'n3']);
    for (const id of ring.preferenceList(key, 3)) await stores.get(id)!.merge(key, [v('w#aaaaaaaaaa', 1, 'same')]);
    const firstPeer = ring.preferenceList(key, 3).find((id) => id !== 'n1')!;
    const timedRead = async () => {
      const startedMs = scheduler.nowMs;
      assert.deepEqual(valuesOf((await scheduler.complete(coordinator.get(key))).siblings), ['same']);
      return scheduler.nowMs - startedMs;
    };
    // No p99 yet: a silent replica (paused, or cut off before the detector says so) costs 250 ms.
    silent.add(firstPeer);
    assert.equal(await timedRead(), 1_000 / 4);
    silent.delete(firstPeer);
    for (let i = 0; i < LATENCY_WINDOW_SAMPLES_MIN; i++) await timedRead();
    // Replicas that answer at once make a p99 of 0, so the retry comes at the floor.
    silent.add(firstPeer);
    assert.equal(await timedRead(), READ_SPECULATE_MS_MIN);
  });

  it('speculates early on at most a share of reads: past the budget, a stalled replica costs the old quarter timeout', async () => {
    const { scheduler, ring, stores, coordinator, silent } = await readCluster(['n1', 'n2', 'n3']);
    for (const id of ring.preferenceList(key, 3)) await stores.get(id)!.merge(key, [v('w#aaaaaaaaaa', 1, 'same')]);
    const firstPeer = ring.preferenceList(key, 3).find((id) => id !== 'n1')!;
    for (let i = 0; i < 2 * LATENCY_WINDOW_SAMPLES_MIN; i++) await scheduler.complete(coordinator.get(key));
    silent.add(firstPeer);
    const took: number[] = [];
    for (let i = 0; i < SPECULATION_BURST + 20; i++) {
      const startedMs = scheduler.nowMs;
      await scheduler.complete(coordinator.get(key));
      took.push(scheduler.nowMs - startedMs);
    }
    const early = took.filter((ms) => ms < 1_000 / 4).length;
    assert.ok(early >= SPECULATION_BURST && early <= SPECULATION_BURST + 3, `early speculations: ${early} of ${took.length} (${took.join(',')})`);
    assert.equal(took.at(-1), 1_000 / 4, 'with the budget spent, the read waits the old quarter of the timeout');
  });

  it('does not count replies that come after the read was answered: a resumed replica does not raise the retry delay', async () => {
    const { scheduler, ring, stores, coordinator, silent, held } = await readCluster(['n1', 'n2', 'n3']);
    for (const id of ring.preferenceList(key, 3)) await stores.get(id)!.merge(key, [v('w#aaaaaaaaaa', 1, 'same')]);
    const firstPeer = ring.preferenceList(key, 3).find((id) => id !== 'n1')!;
    for (let i = 0; i < LATENCY_WINDOW_SAMPLES_MIN; i++) await scheduler.complete(coordinator.get(key));
    // Rounds of: the replica stalls, the read goes around it, then the replica answers 200 ms late.
    silent.add(firstPeer);
    // Within the speculation budget (a burst of SPECULATION_BURST), so every round speculates early.
    for (let i = 0; i < SPECULATION_BURST - 2; i++) {
      await scheduler.complete(coordinator.get(key));
      await scheduler.runUntil(scheduler.nowMs + 200);
      while (held.length > 0) held.shift()!();
      await scheduler.runUntil(scheduler.nowMs + 1);
    }
    const startedMs = scheduler.nowMs;
    await scheduler.complete(coordinator.get(key));
    assert.equal(scheduler.nowMs - startedMs, READ_SPECULATE_MS_MIN, 'the late answers did not make a p99 of 200 ms');
  });

  it('fails with QUORUM_FAILED when fewer than R replicas answer in time, and says how many', async () => {
    const { scheduler, coordinator } = await readCluster(['n1', 'n2', 'n3'], { silent: ['n2', 'n3'] });
    await assert.rejects(scheduler.complete(coordinator.get(key)), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'QUORUM_FAILED');
      assert.deepEqual((err as { replies?: unknown }).replies, { ok: 1, needed: 2 });
      return true;
    });
  });

  it('refuses R outside 1..N', async () => {
    const { scheduler, coordinator } = await readCluster(['n1', 'n2', 'n3']);
    for (const r of [0, 4, 1.5]) await assert.rejects(scheduler.complete(coordinator.get(key, r)), { code: 'BAD_QUORUM' });
  });
});

/**
 * n1's coordinator over `transport` in `ring`, whose detector marks `down` (a predicate) down; it
 * holds no replica and no fallback record (a fallback write through it fails the test).
 */
async function nonReplicaCoordinator(ring: Ring, transport: Transport<PeerRequest, PeerReply>, isDown: (id: NodeId) => boolean) {
  const scheduler = new Scheduler();
  const coordinator = new Coordinator({
    self: 'n1',
    ring: () => ring,
    store: new ReplicaStore(new MemoryStorage()),
    dots: await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(1)),
    transport,
    clock: new SimClock(scheduler),
    log: silentLog,
    config: { n: 3, r: 2, w: 2, requestTimeoutMs: 1_000, clockEntriesMax: 10, siblingsMax: 64 },
    isDown,
    isSuspect: () => false,
    fallbackRecords: { read: () => [], replicaLoad: () => NO_LOAD, unmeasuredLoad: () => NO_LOAD, roomForRecord: () => true, replace: () => Promise.reject(new Error('no fallback write expected')) },
  });
  return { scheduler, coordinator };
}

describe('sloppy quorum', () => {
  it("hands a down replica's copy to the next node past the preference list, as a hint for that owner", async () => {
    const members = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const ring = Ring.of(members);
    const key = Array.from({ length: 200 }, (_, i) => `hk-${i}`).find((k) => ring.preferenceList(k, 3).includes('n1'))!;
    const owner = ring.preferenceList(key, 3).find((id) => id !== 'n1')!;
    const { scheduler, sent, coordinator, stores } = await readCluster(members, { down: [owner] });
    await scheduler.complete(coordinator.put({ key, value: Buffer.from('v'), contentType: 'text/plain', context: [], w: 3 }));
    const hints = sent.filter((x) => x.request.kind === 'hint_put');
    assert.equal(hints.length, 1);
    const hint = hints[0]!.request as Extract<PeerRequest, { kind: 'hint_put' }>;
    assert.equal(hint.owner, owner);
    assert.ok(!ring.preferenceList(key, 3).includes(hints[0]!.to), 'the hint went to a replica of the key');
    assert.equal(sent.filter((x) => x.to === owner).length, 0, 'a replica marked down got a primary request');
    assert.equal(coordinator.hintedWrites, 1);
    assert.deepEqual(valuesOf(stores.get(hints[0]!.to)!.read(key)), ['v']);
  });
});

describe('forwarded writes', () => {
  // n1 is not a replica of the key in a 4-node ring, so it forwards the write to one that is.
  const members = ['n1', 'n2', 'n3', 'n4'];
  const key = Array.from({ length: 100 }, (_, i) => `fwd-${i}`).find((k) => !Ring.of(members).preferenceList(k, 3).includes('n1'))!;

  it('are not retried on another replica after a timeout (the first may have applied it)', async () => {
    const { scheduler, coordinator, sent } = await coordinatorFor({ n2: 'timeout', n3: 'timeout', n4: 'timeout' }, members);
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'v'))), { code: 'QUORUM_FAILED', message: /may or may not have been applied/ });
    assert.deepEqual(sent.map((r) => r.kind), ['forward_put'], 'a timed-out forward was sent again elsewhere');
    assert.equal(coordinator.fallbackWrites, 0, 'a timed-out forward was coordinated here too');
  });

  it('go to the next replica when one refused unread (NOT_READY: it restarted and has not heard the table yet)', async () => {
    // DYNAKV_SEED=247242830 of removed-node-returns.test.ts: a setup write right after the
    // cluster started was forwarded to a replica still waiting for the table, and the client got
    // "did not answer in time" although that replica had refused it unread.
    const [first, ...rest] = Ring.of(members).preferenceList(key, 3);
    const { scheduler, coordinator, sent } = await coordinatorFor({ [first!]: 'not-ready', [rest[0]!]: 'ok', [rest[1]!]: 'ok' }, members);
    await scheduler.complete(coordinator.put(write(key, 'v')));
    assert.deepEqual(sent.map((r) => r.kind), ['forward_put', 'forward_put']);
  });

  it('are not retried after a remote error that only reuses a refusal code: the refused-unread flag decides, not the code', async () => {
    const { scheduler, coordinator, sent } = await coordinatorFor({ n2: 'not-ready-code-only', n3: 'not-ready-code-only', n4: 'not-ready-code-only' }, members);
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'v'))), { code: 'QUORUM_FAILED', message: /failed \(NOT_READY\); the write may or may not have been applied/ });
    assert.deepEqual(sent.map((r) => r.kind), ['forward_put']);
  });

  it('are not retried after any other remote failure (the handler may have applied it), and say it failed, not that it timed out', async () => {
    const { scheduler, coordinator, sent } = await coordinatorFor({ n2: 'remote-failure', n3: 'remote-failure', n4: 'remote-failure' }, members);
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'v'))), { code: 'QUORUM_FAILED', message: /failed \(HANDLER_FAILED\); the write may or may not have been applied/ });
    assert.deepEqual(sent.map((r) => r.kind), ['forward_put']);
  });

  it('go to the next replica when one is unreachable (it applied nothing)', async () => {
    const { scheduler, coordinator, sent } = await coordinatorFor({ n2: 'refuse', n3: 'refuse', n4: 'refuse' }, members);
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'v'))), { code: 'COORDINATOR_UNREACHABLE' });
    assert.deepEqual(sent.map((r) => r.kind), ['forward_put', 'forward_put', 'forward_put']);
  });
});

describe('fallback coordination (sloppy quorum across a split)', () => {
  // n1 is not a replica of the key in a 5-node ring; the key's three replicas are down (the far
  // side of a split), so no replica can coordinate: n1 coordinates and hints (Dynamo 4.6).
  const members = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const ring = Ring.of(members);
  const key = Array.from({ length: 100 }, (_, i) => `split-${i}`).find((k) => !ring.preferenceList(k, 3).includes('n1'))!;
  const owners = ring.preferenceList(key, 3);
  const other = members.find((id) => id !== 'n1' && !owners.includes(id))!;

  it('takes the write on a side with W nodes and none of its replicas: its fallback record and a hint on the other node, none sent to a replica', async () => {
    const { scheduler, sent, coordinator, stores, own } = await readCluster(members, { down: owners });
    const clock = await scheduler.complete(coordinator.put(write(key, 'v')));
    assert.deepEqual(sent.filter((x) => owners.includes(x.to)), [], 'a replica marked down was sent the write');
    assert.deepEqual(sent.map((x) => `${x.request.kind}:${x.to}`), [`hint_put:${other}`]);
    assert.deepEqual(valuesOf(own.read(key)), ['v']);
    assert.deepEqual(stores.get('n1')!.read(key), [], 'a fallback write went into the replicas of a node that is none');
    assert.deepEqual(valuesOf(stores.get(other)!.read(key)), ['v']);
    assert.equal(coordinator.fallbackWrites, 1);
    assert.equal(clock.length, 1);
    assert.match(clock[0]!.node, /^n1#/);
    assert.notEqual(clock[0]!.node, (await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(1))).actor, "the node's own actor wrote a key it holds no replica of");
  });

  it('writes a side\'s versions of a key as one actor while its record holds them: 200 chained writes leave a one-entry context', async () => {
    const { scheduler, coordinator, own } = await readCluster(members, { down: owners });
    let context = await scheduler.complete(coordinator.put(write(key, 'v0')));
    for (let i = 1; i < 200; i++) context = await scheduler.complete(coordinator.put({ ...write(key, `v${i}`), context }));
    // One-shot actors grew the context by an entry per write, past what a client may send back.
    assert.equal(context.length, 1, JSON.stringify(context));
    assert.deepEqual(valuesOf(own.read(key)), ['v199']);
    // Blind writes through the same record: siblings of one actor, each kept beside the others.
    await scheduler.complete(coordinator.put(write(key, 'blind-a')));
    const last = await scheduler.complete(coordinator.put(write(key, 'blind-b')));
    assert.deepEqual(valuesOf(own.read(key)), ['blind-a', 'blind-b', 'v199']);
    assert.equal(new Set(own.read(key).map((x) => x.dot.node)).size, 1);
    assert.equal(last[0]!.node, context[0]!.node);
  });

  it('ships every version of its actor with each one: a reader of the second blind write also sees the first (fails with a version shipped alone)', async () => {
    const { scheduler, coordinator, stores } = await readCluster(members, { down: owners });
    await scheduler.complete(coordinator.put(write(key, 'a')));
    await scheduler.complete(coordinator.put(write(key, 'b')));
    // The copy on the other node, delivered to an owner, holds both: a reader's context covers what it saw.
    assert.deepEqual(valuesOf(stores.get(other)!.read(key)), ['a', 'b']);
  });

  it('starts a new actor once its record was handed to the replicas and removed: a reader of the next version does not cover the delivered one (fails with the old actor)', async () => {
    const { scheduler, coordinator, stores, own } = await readCluster(members, { down: owners });
    const owner = new ReplicaStore(new MemoryStorage());
    const first = await scheduler.complete(coordinator.put(write(key, 'a')));
    // Delivery: the owner gets 'a'; n1's record and the other node's hint are removed.
    await owner.merge(key, own.read(key));
    await own.replace(key, []);
    await stores.get(other)!.replace(key, []);
    const second = await scheduler.complete(coordinator.put(write(key, 'b')));
    assert.notEqual(second[0]!.node, first[0]!.node, 'the actor of a delivered record was used again');
    // A client reads 'b' alone (only its copy has arrived) and overwrites it with that context.
    const b = own.read(key);
    assert.deepEqual(valuesOf(b), ['b']);
    const c = { dot: { node: 'n3#0000000001', counter: 1, timeMs: 2 }, context: clockOf(b[0]!), value: Buffer.from('c'), contentType: 'text/plain' };
    await owner.merge(key, [...b, c]);
    assert.deepEqual(valuesOf(distinctValues(owner.read(key))), ['a', 'c'], 'the overwrite of b took a, which its reader never saw');
  });

  it("bounds its record of a key by its share of a replica's bounds (any of the 2 nodes past the list may be a fallback): TOO_MANY_SIBLINGS (tombstones counted for a write that covers none), RECORD_TOO_LARGE; a delete with a context passes", async () => {
    const { scheduler, coordinator, own } = await readCluster(members, { down: owners });
    // 5 nodes, N=3: two may coordinate as a fallback, so each record holds at most half of 64.
    for (let i = 0; i < 32; i++) await scheduler.complete(coordinator.put(write(key, `v${i}`)));
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'one-too-many'))), { code: 'TOO_MANY_SIBLINGS', message: /and 32 from one node past the replicas/ });
    await assert.rejects(scheduler.complete(coordinator.put({ key, value: null, contentType: '', context: [] })), { code: 'TOO_MANY_SIBLINGS', message: /covers none of those held here/ });
    assert.equal(own.read(key).length, 32);
    await scheduler.complete(coordinator.put({ key, value: null, contentType: '', context: joinClocks(own.read(key)) }));
    assert.equal(own.read(key).length, 1, 'the delete with the context of what was held did not resolve the key');
    const mib = Buffer.alloc(1024 * 1024, 7);
    const bigKey = Array.from({ length: 200 }, (_, i) => `big-${i}`).find((k) => ring.preferenceList(k, 3).join() === owners.join())!;
    await scheduler.complete(coordinator.put({ key: bigKey, value: mib, contentType: 'x', context: [] }));
    await assert.rejects(scheduler.complete(coordinator.put({ key: bigKey, value: mib, contentType: 'x', context: [] })), { code: 'RECORD_TOO_LARGE', message: /and 2097152 from one node past the replicas/ });
  });

  it("counts what the key's replicas held when last seen: a record cannot add a record's worth at every split (review of 75e69cd)", async () => {
    const { scheduler, coordinator, own, loads } = await readCluster(members, { down: owners });
    loads.set(key, { live: 60, versions: 62, bytes: 0 });
    for (let i = 0; i < 2; i++) await scheduler.complete(coordinator.put(write(key, `v${i}`)));
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'past-the-versions'))), { code: 'TOO_MANY_SIBLINGS', message: /65 versions, tombstones included, 3 of them held here and 0 handed from here since its replicas were last measured small, counting 62/ });
    loads.set(key, { live: 63, versions: 0, bytes: 0 });
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'past-the-siblings'))), { code: 'TOO_MANY_SIBLINGS', message: /66 siblings, 3 of them held here and 0 handed from here since its replicas were last measured small, counting 63/ });
    assert.deepEqual(valuesOf(own.read(key)), ['v0', 'v1']);
    // A write with the context of what is held here replaces it: it adds nothing, so it passes.
    loads.set(key, { live: 62, versions: 62, bytes: 3.5 * 1024 * 1024 });
    await scheduler.complete(coordinator.put({ ...write(key, 'resolved'), context: joinClocks(own.read(key)) }));
    assert.deepEqual(valuesOf(own.read(key)), ['resolved']);
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'x'.repeat(600 * 1024)))), { code: 'RECORD_TOO_LARGE', message: /counting 3670016/ });
  });

  it("keeps what it hands the replicas between two measurements within its share, however many records (review of 4151fc6: fallback nodes taking turns each added a whole bound)", async () => {
    const { scheduler, coordinator, own, loads, unmeasured } = await readCluster(members, { down: owners });
    loads.set(key, { live: 30, versions: 30, bytes: 1_000 });
    unmeasured.set(key, { live: 30, versions: 30, bytes: 1_000 });
    for (let i = 0; i < 2; i++) await scheduler.complete(coordinator.put(write(key, `v${i}`)));
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'past-the-share'))), { code: 'TOO_MANY_SIBLINGS', message: /3 of them held here and 30 handed from here since its replicas were last measured small.*and 32 from one node past the replicas/ });
    assert.deepEqual(valuesOf(own.read(key)), ['v0', 'v1']);
  });

  it('starts no new record when it keeps as many records and loads as it may; a record already started goes on', async () => {
    const { scheduler, coordinator, own, room } = await readCluster(members, { down: owners });
    await scheduler.complete(coordinator.put(write(key, 'first')));
    room.forRecord = false;
    await scheduler.complete(coordinator.put(write(key, 'second')));
    assert.deepEqual(valuesOf(own.read(key)), ['first', 'second']);
    const otherKey = Array.from({ length: 200 }, (_, i) => `room-${i}`).find((k) => ring.preferenceList(k, 3).join() === owners.join())!;
    await assert.rejects(scheduler.complete(coordinator.put(write(otherKey, 'v'))), { code: 'COORDINATOR_UNREACHABLE', message: /keeps as many fallback records and loads as it may.*it was not applied/ });
    assert.deepEqual(own.read(otherKey), []);
  });

  it('answers a value larger than its share with a 503 to write again later, not a 413 (review of 4151fc6)', async () => {
    const { scheduler, coordinator, own } = await readCluster(members, { down: owners });
    await assert.rejects(scheduler.complete(coordinator.put({ ...write(key, 'x'), value: Buffer.alloc(2 * 1024 * 1024 + 1) })), { code: 'COORDINATOR_UNREACHABLE', message: /a value of 2097153 bytes is more than a node past the replicas may hold for them \(2097152\); write it again once a replica answers; it was not applied/ });
    assert.deepEqual(own.read(key), []);
  });

  it('keeps the whole context (a delete removes every version its reader saw), so refuses one with no room for its dot, unapplied', async () => {
    const { scheduler, coordinator, own } = await readCluster(members, { down: owners });
    // clockEntriesMax is 10 here; the oldest entry is the dot of a long-standing version.
    const context = Array.from({ length: 9 }, (_, i) => ({ node: `n${(i % 5) + 1}#00000000${String(10 + i)}`, counter: 1, timeMs: i }));
    const clock = await scheduler.complete(coordinator.put({ key, value: null, contentType: '', context }));
    assert.ok(covers(clock, { node: context[0]!.node, counter: 1, timeMs: 0 }), 'the delete does not cover the oldest version its reader saw');
    assert.equal(clock.length, 10);
    await assert.rejects(scheduler.complete(coordinator.put({ ...write(key, 'v'), context: [...clock, { node: 'n5#0000000099', counter: 1, timeMs: 1 }] })), { code: 'COORDINATOR_UNREACHABLE', message: /context already has 11 entries.*it was not applied/ });
    assert.equal(own.read(key).length, 1);
  });

  it('still tries a replica marked down, last, when the others refused unread and no fallback may take it', async () => {
    // Review of 75e69cd: with a replica marked down (a missed ping, a flap) forwards skipped it,
    // so when the other two were restarting (NOT_READY) the write failed though it was fine.
    const [a] = ring.preferenceList(key, 3) as [NodeId];
    const sent: string[] = [];
    const transport: Transport<PeerRequest, PeerReply> = {
      request(to, request) {
        sent.push(`${request.kind}:${to}`);
        if (to === a && request.kind === 'forward_put') return Promise.resolve({ kind: 'forward_put_ok', context: [] });
        return Promise.reject(new RemoteError('NOT_READY', `${to} serves no data yet (restarting): ask again later`, true));
      },
      serve() {},
      close: async () => {},
    };
    const { scheduler, coordinator } = await nonReplicaCoordinator(ring, transport, (id) => id === a);
    await scheduler.complete(coordinator.put(write(key, 'v')));
    assert.equal(sent.at(-1), `forward_put:${a}`, sent.join(', '));
    assert.equal(sent.length, 3, sent.join(', '));
    assert.equal(coordinator.fallbackWrites, 0);
  });

  it('sends a write its fallback node refuses unapplied to the replicas this node marks down (its detector lags a heal), and succeeds', async () => {
    // Review of 259026c: such a write failed though every replica would have taken it.
    const six = Ring.of(['n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
    // n1 is neither a replica nor the first node past the list: it funnels.
    const lagKey = Array.from({ length: 400 }, (_, i) => `lag-${i}`).find((k) => six.preferenceList(k, 6).indexOf('n1') === 4)!;
    const order = six.preferenceList(lagKey, 6);
    const lagOwners = order.slice(0, 3);
    const funnel = order[3]!;
    const sent: string[] = [];
    const transport: Transport<PeerRequest, PeerReply> = {
      request(to, request) {
        sent.push(`${request.kind}${request.kind === 'forward_put' && request.fallback ? '(fallback)' : ''}:${to}`);
        if (request.kind !== 'forward_put') return Promise.reject(new Error('unexpected'));
        // The replicas are back and take the write.
        if (lagOwners.includes(to)) return Promise.resolve({ kind: 'forward_put_ok', context: [] });
        // The funnel's detector already sees the replicas up (putForwarded's answer).
        return Promise.resolve({ kind: 'forward_put_failed', code: 'COORDINATOR_UNREACHABLE', message: `node ${to} holds replicas of this key up: it takes no fallback write of it; it was not applied` });
      },
      serve() {},
      close: async () => {},
    };
    // n1's detector has not seen the heal yet.
    const { scheduler, coordinator } = await nonReplicaCoordinator(six, transport, (id) => lagOwners.includes(id));
    const result = await scheduler.complete(coordinator.put(write(lagKey, 'v'))).catch((err: Error) => err);
    assert.ok(!(result instanceof Error), `write failed: ${(result as Error).message}; sent ${sent.join(', ')} (funnel ${funnel})`);
    assert.equal(sent[0], `forward_put(fallback):${funnel}`);
    assert.ok(lagOwners.includes(sent.at(-1)!.split(':')[1]!), sent.join(', '));
  });

  it('is not used when a replica is reachable but busy or not ready: the write fails unapplied', async () => {
    for (const behaviour of ['not-ready', 'overloaded'] as const) {
      // The node past the preference list could hold a hint: only the replicas' state stops it.
      const peersOf = Object.fromEntries([...owners.map((id) => [id, behaviour]), [other, 'ok']]) as Record<NodeId, PeerBehaviour>;
      const { scheduler, coordinator, sent } = await coordinatorFor(peersOf, members);
      await assert.rejects(scheduler.complete(coordinator.put(write(key, 'v'))), { code: 'COORDINATOR_UNREACHABLE', message: /it was not applied/ });
      assert.deepEqual(sent.map((r) => r.kind), ['forward_put', 'forward_put', 'forward_put'], behaviour);
      assert.equal(coordinator.fallbackWrites, 0, behaviour);
    }
  });

  it('stores nothing on a node that is cut off from all (fewer than W nodes up): the write fails unapplied', async () => {
    const { scheduler, coordinator, stores, sent, own } = await readCluster(members, { down: members.filter((id) => id !== 'n1') });
    for (const id of members.filter((x) => x !== 'n1')) stores.delete(id); // and they refuse connections
    await assert.rejects(scheduler.complete(coordinator.put(write(key, 'v'))), { code: 'COORDINATOR_UNREACHABLE', message: /too few other nodes are up .*it was not applied/ });
    assert.deepEqual(own.read(key), []);
    // With no fallback possible, the replicas marked down are still tried (a detector lagging a heal).
    assert.deepEqual(sent.map((x) => x.request.kind), ['forward_put', 'forward_put', 'forward_put']);
  });

  it('refuses a write that cannot reach W nodes: W=3 with two nodes on this side', async () => {
    const { scheduler, coordinator, stores } = await readCluster(members, { down: owners });
    for (const id of owners) stores.delete(id);
    await assert.rejects(scheduler.complete(coordinator.put({ ...write(key, 'v'), w: 3 })), { code: 'COORDINATOR_UNREACHABLE', message: /too few other nodes are up to hold it for them \(2 of W=3\)/ });
    assert.equal(coordinator.fallbackWrites, 0);
  });
});

describe('replica store durability', () => {
  it('rejects a merge whose commit failed, and keeps nothing of it', async () => {
    const storage = new ControlledStorage();
    const store = new ReplicaStore(storage);
    storage.failing = true;
    const sibling = { dot: { node: 'n2#0000000000', counter: 1, timeMs: 0 }, context: [], value: Buffer.from('v'), contentType: 'text/plain' };
    await assert.rejects(store.merge('k', [sibling]), /fsync failed/);
    assert.equal(storage.get('data', 'k'), undefined);
  });

  it('resolves a merge only once its commit is durable', async () => {
    const storage = new ControlledStorage();
    const store = new ReplicaStore(storage);
    storage.hold = true;
    let done = false;
    const sibling = { dot: { node: 'n2#0000000000', counter: 1, timeMs: 0 }, context: [], value: Buffer.from('v'), contentType: 'text/plain' };
    const merge = store.merge('k', [sibling]).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    storage.release();
    await merge;
    assert.ok(storage.get('data', 'k') !== undefined);
  });
});

describe('a replica answering replica_put', () => {
  it('acknowledges only once the merged version is durable, and never after a failed commit', async () => {
    const scheduler = new Scheduler();
    const storage = new ControlledStorage();
    const config = {
      ...DEFAULT_CONFIG,
      id: 'n1',
      clusterSecret: insecureClusterSecret('test'),
      peers: ['n1', 'n2', 'n3'].map((id, i) => ({ id, host: 'sim', port: i + 1 })),
      advertisePeer: 'sim:1',
      advertiseHttp: '',
    };
    const node = await scheduler.complete(
      DynakvNode.open(config, { clock: new SimClock(scheduler), random: new SeededRandom(1), storage, transport: peers({ n2: 'refuse', n3: 'refuse' }, []), log: silentLog }),
    );
    // A node serves data once it has heard the table from a member (src/membership/admission.ts).
    await scheduler.complete(node.handle('n2', { kind: 'gossip', records: node.membership.table() }));
    await scheduler.runWhile(() => !node.admission.serving(), 1_000);
    const record = (counter: number) => EncodedRecord.of([{ dot: { node: 'n2#0000000000', counter, timeMs: 0 }, context: [], value: Buffer.from('v'), contentType: 'text/plain' }]);
    storage.hold = true;
    const answer = node.handle('n2', { kind: 'replica_put', key: 'k', record: record(1) });
    assert.equal(await settledWithin(scheduler, answer, 200), 'pending', 'answered before its commit');
    storage.release();
    assert.deepEqual(await scheduler.complete(answer), { kind: 'replica_put_ok' });
    storage.hold = false;
    storage.failing = true;
    await assert.rejects(scheduler.complete(node.handle('n2', { kind: 'replica_put', key: 'k', record: record(2) })), /fsync failed/);
    node.stop();
  });
});
