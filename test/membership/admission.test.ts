// Shows the admission rule of src/membership/admission.ts on its own (core review F2): a node
// serves nothing until it has heard the cluster's table; it discards its replicas and hints when
// its own operator epoch moved past the epoch its data belongs to, before it serves, except for
// one move: its own removal from the epoch its data belongs to, seen while running or heard on
// return (it hands that data off, harsh seed 53093); removed and re-added once, it hands the
// data off first and then discards it (harsh seed 55805); the data's epoch is saved before serving, so a crash in the middle of a discard discards again at
// the next start. Real timers, an in-memory store and a recording discard stand in for the node.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLog } from '../../src/env/log.ts';
import { Admission, DATA_EPOCH_KEY } from '../../src/membership/admission.ts';
import type { MemberRecord } from '../../src/membership/table.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';

function own(status: MemberRecord['status'], epoch: number): MemberRecord {
  return { id: 'n5', peer: '127.0.0.1:7105', http: '', status, epoch, version: epoch + 1, changedBy: 'n1', changedAtMs: 1, heartbeat: 0, transfer: null, state: 'ready' };
}

interface Rig {
  readonly admission: Admission;
  readonly storage: MemoryStorage;
  readonly discards: number[];
  /** The removal epochs of stale hand-offs, in order, interleaved with discards in `events`. */
  readonly handOffs: number[];
  readonly events: string[];
  record: MemberRecord | undefined;
}

function rig(storage: MemoryStorage, persistedOwnEpoch: number | undefined, record: MemberRecord | undefined, handOffFailures = 0): Rig {
  let failuresLeft = handOffFailures;
  const discards: number[] = [];
  const handOffs: number[] = [];
  const events: string[] = [];
  const r: Rig = {
    storage,
    discards,
    handOffs,
    events,
    record,
    admission: undefined as unknown as Admission,
  };
  (r as { admission: Admission }).admission = new Admission({
    self: 'n5',
    clock: {
      nowMs: () => 1_000,
      monotonicMs: () => 1_000,
      setTimer: (ms, fn) => {
        const timer = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(timer) };
      },
    },
    storage,
    log: silentLog,
    ownRecord: () => r.record,
    persistedOwnEpoch,
    discard: async () => {
      discards.push(r.record?.epoch ?? -1);
      events.push(`discard ${r.admission.state}`);
      return { replicas: 3, hints: 1 };
    },
    handOffStale: async (removedAtEpoch) => {
      if (failuresLeft-- > 0) throw new Error('disk read failed');
      handOffs.push(removedAtEpoch);
      events.push(`hand-off ${r.admission.state}`);
      await settle();
      return { offered: 4, taken: 4 };
    },
  });
  return r;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function savedEpoch(storage: MemoryStorage): string | undefined {
  const bytes = storage.get('meta', DATA_EPOCH_KEY);
  return bytes === undefined ? undefined : Buffer.from(bytes).toString();
}

describe('admission: when a node serves, and when it discards what it stores', () => {
  it('waits for the table, then serves its data when its epoch did not move', async () => {
    const r = rig(new MemoryStorage(), 2, own('up', 2));
    await r.admission.init();
    assert.equal(savedEpoch(r.storage), '2', 'the data epoch is saved before anything can change the table');
    assert.equal(r.admission.state, 'waiting');
    r.admission.tableHeard();
    await settle();
    assert.equal(r.admission.state, 'serving');
    assert.deepEqual(r.discards, []);
  });

  it('keeps its data to hand it off when it was removed once while not running (harsh seed 53093)', async () => {
    // Its data may hold the only copy of an acknowledged write whose other replica was lost:
    // discarding it lost that write. Its peers take the hand-off only within their window.
    const r = rig(new MemoryStorage(), 2, own('up', 2));
    await r.admission.init();
    r.record = own('removed', 3);
    r.admission.tableHeard();
    await settle();
    await settle();
    assert.equal(r.admission.state, 'serving');
    assert.deepEqual(r.discards, []);
    assert.equal(savedEpoch(r.storage), '3', 'its data now belongs to the removal it hands off for');
    // Re-added later, the data is from an earlier membership.
    r.record = own('up', 4);
    r.admission.ownEpochChanged(own('removed', 3), r.record);
    await settle();
    await settle();
    await settle();
    assert.deepEqual(r.handOffs, [3], 'it hands off what it kept, as data from before its removal at epoch 3');
    assert.deepEqual(r.discards, [4]);
  });

  for (const [what, now] of [['removed twice', own('removed', 5)], ['removed and re-added', own('up', 4)]] as const) {
    it(`discards before serving when it was ${what} while not running${now.status === 'up' ? ', after handing the data off (harsh seed 55805)' : ''}`, async () => {
      const r = rig(new MemoryStorage(), 2, own('up', 2));
      await r.admission.init();
      r.record = now;
      let servedWithData = false;
      r.admission.onServing(() => (servedWithData = r.discards.length === 0));
      r.admission.tableHeard();
      await settle();
      await settle();
      await settle();
      assert.equal(r.admission.state, 'serving');
      assert.deepEqual(r.discards, [now.epoch]);
      // Re-added once: what it held may be the only copy of an acknowledged write. Removed twice:
      // its peers no longer take anything from before its first removal.
      assert.deepEqual(r.events, now.status === 'up' ? ['hand-off discarding', 'discard discarding'] : ['discard discarding']);
      assert.equal(servedWithData, false);
      assert.equal(savedEpoch(r.storage), String(now.epoch));
      assert.deepEqual(r.admission.totals, { discards: 1, replicas: 3, hints: 1 });
    });
  }

  it('a crash in the middle of a discard discards again at the next start', async () => {
    const storage = new MemoryStorage();
    const first = rig(storage, 2, own('up', 2));
    await first.admission.init();
    // The table was saved with the new epoch (re-added); the discard never finished (no epoch saved).
    const second = rig(storage, 4, own('up', 4));
    await second.admission.init();
    second.admission.tableHeard();
    await settle();
    await settle();
    await settle();
    assert.deepEqual(second.handOffs, [3], 'what is left is offered again');
    assert.deepEqual(second.discards, [4]);
  });

  it('keeps its data through its own removal seen while running (to hand it off), and discards when re-added', async () => {
    const r = rig(new MemoryStorage(), 2, own('up', 2));
    await r.admission.init();
    r.admission.tableHeard();
    await settle();
    r.record = own('removed', 3);
    r.admission.ownEpochChanged(own('up', 2), r.record);
    await settle();
    assert.deepEqual(r.discards, []);
    assert.equal(savedEpoch(r.storage), '3');
    r.record = own('up', 4);
    r.admission.ownEpochChanged(own('removed', 3), r.record);
    assert.equal(r.admission.state, 'discarding', 'not serving from the moment it hears');
    await settle();
    await settle();
    await settle();
    assert.deepEqual(r.events, ['hand-off discarding', 'discard discarding']);
    assert.deepEqual(r.handOffs, [3]);
    assert.deepEqual(r.discards, [4]);
    assert.equal(r.admission.state, 'serving');
  });

  it('hands off, then discards, when re-added after a removal it did not hear of while running', async () => {
    const r = rig(new MemoryStorage(), 2, own('up', 2));
    await r.admission.init();
    r.admission.tableHeard();
    await settle();
    r.record = own('up', 4);
    r.admission.ownEpochChanged(own('up', 2), r.record);
    await settle();
    await settle();
    await settle();
    assert.deepEqual(r.handOffs, [3]);
    assert.deepEqual(r.discards, [4]);
  });

  it('discards without a hand-off when its epoch moved by more than one removal and re-add', async () => {
    const r = rig(new MemoryStorage(), 2, own('up', 2));
    await r.admission.init();
    r.admission.tableHeard();
    await settle();
    r.record = own('up', 6);
    r.admission.ownEpochChanged(own('up', 2), r.record);
    await settle();
    await settle();
    await settle();
    assert.deepEqual(r.handOffs, []);
    assert.deepEqual(r.discards, [6]);
  });

  it('a node with no saved table (a new or wiped disk) takes the epoch it hears', async () => {
    const r = rig(new MemoryStorage(), undefined, own('up', 7));
    await r.admission.init();
    assert.equal(savedEpoch(r.storage), undefined);
    r.admission.tableHeard();
    await settle();
    assert.equal(r.admission.state, 'serving');
    assert.deepEqual(r.discards, []);
    assert.equal(savedEpoch(r.storage), '7');
  });

  it('refuses to start on a corrupt data epoch', async () => {
    const storage = new MemoryStorage();
    await storage.commit([{ space: 'meta', key: DATA_EPOCH_KEY, value: Buffer.from('1e99') }]);
    assert.throws(() => rig(storage, 2, own('up', 2)), { code: 'CORRUPT_DATA_EPOCH' });
  });

  it('whenServing resolves once serving, or false at its timeout', async () => {
    const r = rig(new MemoryStorage(), 2, own('up', 2));
    await r.admission.init();
    assert.equal(await r.admission.whenServing(5), false);
    const waiting = r.admission.whenServing(60_000);
    r.admission.tableHeard();
    assert.equal(await waiting, true);
  });
});

describe('admission: a change of its own record heard while it saves (review)', () => {
  it('a re-add heard while the removal epoch is being saved: hands off, then discards, before serving', async () => {
    const storage = new MemoryStorage();
    await storage.commit([{ space: 'meta', key: DATA_EPOCH_KEY, value: Buffer.from('2') }]);
    // A disk whose commits take a few milliseconds.
    const slow = Object.create(storage) as MemoryStorage;
    slow.commit = (writes) => new Promise<void>((resolve) => setTimeout(resolve, 5)).then(() => storage.commit(writes));
    const r = rig(slow, 2, own('removed', 3));
    await r.admission.init();
    r.admission.tableHeard(); // removed once (2 -> 3): keeps its data, saving epoch 3...
    r.record = own('up', 4); // ...while gossip brings the re-add
    r.admission.ownEpochChanged(own('removed', 3), r.record);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(r.admission.state, 'serving');
    assert.deepEqual(r.events, ['hand-off discarding', 'discard discarding'], 'it served its pre-removal data as a re-added member');
    assert.deepEqual(r.handOffs, [3]);
    assert.equal(savedEpoch(storage), '4');
  });

  it('a hand-off that fails is tried again; nothing is discarded before it ran', async () => {
    const r = rig(new MemoryStorage(), 2, own('up', 2), 1);
    await r.admission.init();
    r.record = own('up', 4);
    r.admission.tableHeard();
    await r.admission.whenServing(5_000);
    assert.deepEqual(r.events, ['hand-off discarding', 'discard discarding']);
  });
});

describe('admission: one decision at a time (second review)', () => {
  it('a retry timer firing while a decision started by the table runs does not start a second one', async () => {
    const storage = new MemoryStorage();
    let commits = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    const flaky = Object.create(storage) as MemoryStorage;
    flaky.commit = async (writes) => {
      if (commits++ === 0) throw new Error('disk busy');
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
      inFlight--;
      return storage.commit(writes);
    };
    const timers: Array<() => void> = [];
    const admission = new Admission({
      self: 'n5',
      clock: { nowMs: () => 1_000, monotonicMs: () => 1_000, setTimer: (_ms, fn) => (timers.push(fn), { cancel: () => {} }) },
      storage: flaky,
      log: silentLog,
      ownRecord: () => own('up', 7),
      persistedOwnEpoch: undefined,
      discard: async () => ({ replicas: 0, hints: 0 }),
      handOffStale: async () => ({ offered: 0, taken: 0 }),
    });
    await admission.init();
    admission.tableHeard(); // saving the epoch fails: a retry is scheduled
    await settle();
    assert.equal(timers.length, 1);
    admission.tableHeard(); // the table again, before the retry: a decision starts
    timers[0]!(); // the retry fires while it runs
    assert.equal(await admission.whenServing(1_000), true);
    assert.equal(mostInFlight, 1, 'two decisions saved the data epoch at once');
    assert.equal(savedEpoch(storage), '7');
  });
});
