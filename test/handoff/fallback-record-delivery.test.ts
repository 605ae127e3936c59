// Hint delivery hands out only what is committed. Found by review of 75e69cd: delivery read a
// fallback record while a write was still committing (ReplicaStore.readEncoded returns pending
// state). When that commit then failed (full disk) the client was told nothing had been sent
// anywhere, yet two replicas held the write, a version of the record's actor the record lacked;
// the actor was reused, its next version's clock claimed the leaked one, and the acknowledged
// value the leaked delete had seen was gone from the replicas after the heal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scheduler } from '../../sim/scheduler.ts';
import { SeededRandom } from '../../sim/seeded-random.ts';
import { SimClock } from '../../sim/sim-clock.ts';
import { silentLog } from '../../src/env/log.ts';
import type { StorageWrite } from '../../src/env/storage.ts';
import { TransportError, type NodeId, type Transport } from '../../src/env/transport.ts';
import { HintDelivery } from '../../src/handoff/hint-delivery.ts';
import type { PeerReply, PeerRequest } from '../../src/protocol/messages.ts';
import { Coordinator } from '../../src/replication/coordinator.ts';
import { DotCounter } from '../../src/replication/dot-counter.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import { Ring } from '../../src/ring/ring.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { Sibling } from '../../src/version/siblings.ts';

/** Commits to the hints space wait while `held`, then fail if `failing`. */
class GatedStorage extends MemoryStorage {
  held = false;
  failing = false;
  private waiting: Array<() => void> = [];
  override async commit(writes: readonly StorageWrite[]): Promise<void> {
    if (writes.some((w) => w.space === 'hints') && this.held) await new Promise<void>((r) => this.waiting.push(r));
    if (writes.some((w) => w.space === 'hints') && this.failing) throw new Error('ENOSPC: no space left on device');
    return super.commit(writes);
  }
  release(): void {
    this.held = false;
    for (const r of this.waiting.splice(0)) r();
  }
}

const values = (s: readonly Sibling[]) => s.filter((x) => x.value !== null).map((x) => Buffer.from(x.value!).toString()).sort();

describe('a fallback record is delivered only as committed', () => {
  it('a write whose commit fails never reaches a replica, and the acknowledged value it would have deleted survives the heal', async () => {
    const members = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const ring = Ring.of(members);
    const key = Array.from({ length: 100 }, (_, i) => `split-${i}`).find((k) => !ring.preferenceList(k, 3).includes('n1'))!;
    const owners = ring.preferenceList(key, 3);
    const other = members.find((id) => id !== 'n1' && !owners.includes(id))!;
    const scheduler = new Scheduler();
    const clock = new SimClock(scheduler);
    const disk = new GatedStorage();
    const stores = new Map(members.filter((id) => id !== 'n1').map((id) => [id, new ReplicaStore(new MemoryStorage())]));
    const down = new Set<NodeId>(owners); // n1's detector
    const hang = new Set<NodeId>();
    const transport: Transport<PeerRequest, PeerReply> = {
      async request(to, request, timeoutMs) {
        if (down.has(to)) throw new TransportError('UNREACHABLE', `${to} is across the split`);
        if (hang.has(to)) return new Promise<never>((_, reject) => clock.setTimer(timeoutMs, () => reject(new TransportError('TIMEOUT', `${to} did not answer`))));
        const store = stores.get(to)!;
        switch (request.kind) {
          case 'hint_put':
            await store.merge(`hint:${request.owner}:${request.key}`, request.record.siblings);
            return { kind: 'replica_put_ok' };
          case 'replica_put_batch':
            for (const e of request.entries) await store.merge(e.key, e.record);
            return { kind: 'replica_put_ok' };
          default:
            throw new Error(`unexpected ${request.kind}`);
        }
      },
      serve() {},
      close: async () => {},
    };
    const hints = new HintDelivery({
      self: 'n1',
      hints: new ReplicaStore(disk, 'hints'),
      replicas: new ReplicaStore(disk),
      transport,
      clock,
      log: silentLog,
      n: 3,
      ring: () => ring,
      statusOf: (id) => (down.has(id) ? 'down' : 'up'),
      intervalMs: 1_000,
      requestTimeoutMs: 1_000,
      siblingsMax: 64,
      storage: disk,
    });
    const coordinator = new Coordinator({
      self: 'n1',
      ring: () => ring,
      store: new ReplicaStore(disk),
      dots: await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(1)),
      transport,
      clock,
      log: silentLog,
      config: { n: 3, r: 2, w: 2, requestTimeoutMs: 1_000, clockEntriesMax: 10, siblingsMax: 64 },
      isDown: (id) => down.has(id),
      isSuspect: () => false,
      fallbackRecords: hints.fallbackRecords,
    });

    await scheduler.complete(hints.deliverAll()); // the start-up count (a running node did it at start)
    // 1. Split: v1 is coordinated as a fallback and acknowledged (record on n1, hint on `other`).
    const clock1 = await scheduler.complete(coordinator.put({ key, value: Buffer.from('v1'), contentType: 'text/plain', context: [] }));
    const actor = clock1[0]!.node;
    // 2. Just before the heal: v2, read-modify-write of v1, is committing on n1 (slow disk).
    disk.held = true;
    disk.failing = true;
    const v2 = coordinator.put({ key, value: null, contentType: '', context: clock1 });
    let v2Error: Error | undefined;
    v2.catch((err: Error) => (v2Error = err));
    await scheduler.runUntil(scheduler.nowMs + 10);
    assert.deepEqual(values(hints.fallbackRecords.read(key)), [], 'the delete is pending in the record');
    // 3. The heal: the detector sees the owners again; the third owner is slow to answer.
    down.clear();
    hang.add(owners[2]!);
    const round = hints.deliverAll();
    await scheduler.runUntil(scheduler.nowMs + 50);
    // 4. n1's disk fails the commit of v2: the client is told nothing was sent anywhere.
    disk.release();
    await scheduler.runUntil(scheduler.nowMs + 3_000);
    await scheduler.complete(round);
    assert.ok(v2Error !== undefined, 'v2 was acknowledged');
    assert.match(v2Error.message, /no other node was sent the write/);
    const v2Dot = stores.get(owners[0]!)!.read(key).find((s) => s.value === null)?.dot;
    assert.equal(v2Dot, undefined, `the replicas hold ${actor}:${v2Dot?.counter} of a write refused as unapplied, which n1's record of that actor lacks`);
    assert.deepEqual(values(hints.fallbackRecords.read(key)), ['v1']);
    // 5. A new split; n1's disk is fine again. The next fallback write reuses the record's actor.
    disk.failing = false;
    hang.clear();
    for (const id of owners) down.add(id);
    const clock3 = await scheduler.complete(coordinator.put({ key, value: Buffer.from('v3'), contentType: 'text/plain', context: [] }));
    assert.equal(clock3[0]!.node, actor, 'the record still holds v1, so its actor goes on');
    // 6. Heal for good: n1's record {v1, v3} reaches all three owners.
    down.clear();
    for (let i = 0; i < 10; i++) { await scheduler.complete(hints.deliverAll()); await scheduler.runUntil(scheduler.nowMs + 31_000); }
    for (const id of owners) assert.deepEqual(values(stores.get(id)!.read(key)), ['v1', 'v3'], `${id} after the heal`);
  });
});
