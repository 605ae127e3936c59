// A non-replica whose detector still marks all three replicas down (it lags a heal) funnels the
// write to the key's first node past the list, which already sees the replicas and refuses it,
// unapplied: the replicas are then tried after all. Found by review of 259026c, where such a
// write failed though every replica would have taken it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scheduler } from '../../sim/scheduler.ts';
import { SeededRandom } from '../../sim/seeded-random.ts';
import { SimClock } from '../../sim/sim-clock.ts';
import { silentLog } from '../../src/env/log.ts';
import type { NodeId, Transport } from '../../src/env/transport.ts';
import { NO_LOAD } from '../../src/handoff/fallback-loads.ts';
import type { PeerReply, PeerRequest } from '../../src/protocol/messages.ts';
import { Coordinator } from '../../src/replication/coordinator.ts';
import { DotCounter } from '../../src/replication/dot-counter.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import { Ring } from '../../src/ring/ring.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';

describe('ordinary forwards when the detector lags a heal', () => {
  it('a write whose fallback node refuses it is sent to the replicas this node marks down, and succeeds', async () => {
    const members = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const ring = Ring.of(members);
    // n1 is neither a replica nor the first node past the list: it funnels.
    const key = Array.from({ length: 400 }, (_, i) => `lag-${i}`).find((k) => ring.preferenceList(k, 6).indexOf('n1') === 4)!;
    const order = ring.preferenceList(key, 6);
    const owners = order.slice(0, 3);
    const funnel = order[3]!;
    const scheduler = new Scheduler();
    const sent: string[] = [];
    const transport: Transport<PeerRequest, PeerReply> = {
      request(to, request) {
        sent.push(`${request.kind}${request.kind === 'forward_put' && request.fallback ? '(fallback)' : ''}:${to}`);
        if (request.kind !== 'forward_put') return Promise.reject(new Error('unexpected'));
        // The replicas are back and take the write.
        if (owners.includes(to)) return Promise.resolve({ kind: 'forward_put_ok', context: [] });
        // The funnel's detector already sees the replicas up (putForwarded's answer).
        return Promise.resolve({ kind: 'forward_put_failed', code: 'COORDINATOR_UNREACHABLE', message: `node ${to} holds replicas of this key up: it takes no fallback write of it; it was not applied` });
      },
      serve() {},
      close: async () => {},
    };
    const coordinator = new Coordinator({
      self: 'n1',
      ring: () => ring,
      store: new ReplicaStore(new MemoryStorage()),
      dots: await DotCounter.open(new MemoryStorage(), 'n1', new SeededRandom(1)),
      transport,
      clock: new SimClock(scheduler),
      log: silentLog,
      config: { n: 3, r: 2, w: 2, requestTimeoutMs: 1_000, clockEntriesMax: 10, siblingsMax: 64 },
      isDown: (id: NodeId) => owners.includes(id), // n1's detector has not seen the heal yet
      isSuspect: () => false,
      fallbackRecords: { read: () => [], replicaLoad: () => NO_LOAD, unmeasuredLoad: () => NO_LOAD, roomForRecord: () => true, replace: () => Promise.reject(new Error('n1 is not the funnel')) },
    });
    const result = await scheduler.complete(coordinator.put({ key, value: Buffer.from('v'), contentType: 'text/plain', context: [] })).catch((err: Error) => err);
    assert.ok(!(result instanceof Error), `write failed: ${(result as Error).message}; sent ${sent.join(', ')} (funnel ${funnel})`);
    assert.equal(sent[0], `forward_put(fallback):${funnel}`);
    assert.ok(owners.includes(sent.at(-1)!.split(':')[1]!), sent.join(', '));
  });
});
