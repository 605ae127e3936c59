// Shows that merging member records is a join (commutative, associative, idempotent), so every
// node ends with the same table whatever order gossip arrives in, and that operator epochs
// dominate: a record at a higher epoch wins the versioned fields whatever its version, and
// within an epoch a removal beats any detector down/up or refutation. Property tests over small
// value domains so ties are common. Rerun with DYNAKV_SEED=<seed>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { mergeRecord, type MemberRecord } from '../../src/membership/table.ts';
import { testSeed } from '../support/seed.ts';

const seed = testSeed();
const fcOptions = { seed, numRuns: 500 };

const record: fc.Arbitrary<MemberRecord> = fc.record({
  id: fc.constant('x'),
  peer: fc.constantFrom('127.0.0.1:7101', '127.0.0.1:7201'),
  http: fc.constantFrom('', '127.0.0.1:7001'),
  status: fc.constantFrom('up', 'down', 'removed'),
  epoch: fc.integer({ min: 0, max: 3 }),
  version: fc.integer({ min: 0, max: 4 }),
  changedBy: fc.constantFrom('a', 'b', 'x'),
  changedAtMs: fc.integer({ min: 0, max: 2 }),
  heartbeat: fc.integer({ min: 0, max: 2 }),
  transfer: fc.option(fc.record({ keysTotal: fc.integer({ min: 0, max: 2 }), keysDone: fc.integer({ min: 0, max: 2 }), targets: fc.subarray(['a', 'b']) }, { noNullPrototype: true }), { nil: null }),
  state: fc.constantFrom('ready', 'syncing'),
}, { noNullPrototype: true });

describe('member record merge', () => {
  it('is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(record, record, record, (a, b, c) => {
        assert.deepEqual(mergeRecord(a, b), mergeRecord(b, a));
        assert.deepEqual(mergeRecord(mergeRecord(a, b), c), mergeRecord(a, mergeRecord(b, c)));
        assert.deepEqual(mergeRecord(a, a), a);
      }),
      fcOptions,
    );
  });

  it('takes the versioned fields from the higher epoch, whatever the versions', () => {
    fc.assert(
      fc.property(record, record, (a, b) => {
        fc.pre(a.epoch !== b.epoch);
        const [older, newer] = a.epoch < b.epoch ? [a, b] : [b, a];
        const merged = mergeRecord(older, newer);
        assert.deepEqual([merged.status, merged.epoch, merged.version, merged.peer, merged.http, merged.changedBy], [newer.status, newer.epoch, newer.version, newer.peer, newer.http, newer.changedBy]);
      }),
      fcOptions,
    );
  });

  it('keeps a removal final within its epoch', () => {
    fc.assert(
      fc.property(record, record, (a, b) => {
        const removed: MemberRecord = { ...a, status: 'removed' };
        const other: MemberRecord = { ...b, epoch: a.epoch };
        assert.equal(mergeRecord(removed, other).status, 'removed');
      }),
      fcOptions,
    );
  });

  it('takes the owner fields from the higher heartbeat', () => {
    fc.assert(
      fc.property(record, record, (a, b) => {
        fc.pre(a.heartbeat !== b.heartbeat);
        const newer = a.heartbeat > b.heartbeat ? a : b;
        const merged = mergeRecord(a, b);
        assert.deepEqual([merged.heartbeat, merged.transfer, merged.state], [newer.heartbeat, newer.transfer, newer.state]);
      }),
      fcOptions,
    );
  });
});
