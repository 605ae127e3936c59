// Shows how a node defends its own membership record: when gossip brings a newer copy that
// says it is down, or that lost its addresses (an observer marked it down and up again before
// it had learned its HTTP address), the node answers with a higher version carrying its own
// status and addresses, so every table ends up with them. Its owner fields (heartbeat, sync
// state, transfer) are always its own: a copy with a higher heartbeat (its record from before a
// restart) makes it jump its heartbeat past that copy, never adopt the copy's state (F8). Membership runs here on a frozen
// clock, an in-memory store and a transport that never delivers: only the merge is exercised.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLog } from '../../src/env/log.ts';
import { TransportError } from '../../src/env/transport.ts';
import { Membership } from '../../src/membership/membership.ts';
import type { MemberRecord } from '../../src/membership/table.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { TEST_CONFIG } from './harness.ts';

function membership(): Membership {
  const m = new Membership({
    self: 'n1',
    selfPeer: '127.0.0.1:7101',
    selfHttp: '127.0.0.1:7001',
    clock: { nowMs: () => 1_000, monotonicMs: () => 1_000, setTimer: () => ({ cancel() {} }) },
    random: { nextInt: () => 0, nextFloat: () => 0 },
    storage: new MemoryStorage(),
    transport: {
      request: () => Promise.reject(new TransportError('UNREACHABLE', 'no network in this test')),
      serve() {},
      close: () => Promise.resolve(),
    },
    log: silentLog,
    config: TEST_CONFIG,
  });
  m.bootstrap([
    { id: 'n1', peer: '127.0.0.1:7101' },
    { id: 'n2', peer: '127.0.0.1:7102' },
  ]);
  return m;
}

function observersCopy(m: Membership, changes: Partial<MemberRecord>): MemberRecord {
  const own = m.record('n1')!;
  return { ...own, http: '', version: own.version + 2, changedBy: 'n2', changedAtMs: 2_000, ...changes };
}

describe('a node refutes wrong gossip about itself', () => {
  it('answers "down" with a higher version that says up', () => {
    const m = membership();
    const incoming = observersCopy(m, { status: 'down', http: '127.0.0.1:7001' });
    m.receiveGossip('n2', [incoming]);
    const own = m.record('n1')!;
    assert.equal(own.status, 'up');
    assert.equal(own.version, incoming.version + 1);
    assert.equal(own.changedBy, 'n1');
  });

  it('restores its own addresses when a newer copy lost them', () => {
    const m = membership();
    const incoming = observersCopy(m, { status: 'up', http: '' });
    m.receiveGossip('n2', [incoming]);
    const own = m.record('n1')!;
    assert.deepEqual([own.status, own.http, own.peer], ['up', '127.0.0.1:7001', '127.0.0.1:7101']);
    assert.equal(own.version, incoming.version + 1, 'a higher version, so the fix spreads');
  });

  it('keeps its own sync state and transfer when its old record comes back with a higher heartbeat, and jumps past it (F8)', () => {
    const m = membership();
    m.setState('syncing');
    const own = m.record('n1')!;
    // Its record from before a restart, as a peer kept it: ready, and far ahead in heartbeats.
    m.receiveGossip('n2', [{ ...own, state: 'ready', transfer: { keysTotal: 9, keysDone: 9, targets: ['n2'] }, heartbeat: own.heartbeat + 500 }]);
    const after = m.record('n1')!;
    assert.deepEqual([after.state, after.transfer], ['syncing', null]);
    assert.equal(after.heartbeat, own.heartbeat + 501, 'one past the copy, so its own fields win from now on');
    // setState('ready') at the end of recovery is not a no-op: it publishes past the jump.
    m.setState('ready');
    assert.deepEqual([m.record('n1')!.state, m.record('n1')!.heartbeat], ['ready', own.heartbeat + 502]);
  });

  it('leaves a removal alone: only an operator brings a node back', () => {
    const m = membership();
    m.receiveGossip('n2', [observersCopy(m, { status: 'removed' })]);
    assert.equal(m.record('n1')!.status, 'removed');
  });
});
