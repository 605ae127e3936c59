// Shows how a node reads its membership back from the meta space: the table round-trips with
// its epochs; records and log entries written before epochs existed load as epoch 0 (the
// compatibility rule); a table with any record that does not parse stops the node with an
// error naming the record and the field (it is state, and guessing could resurrect a removed
// node); a log entry that does not parse is dropped with a warning (it is history only).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Log } from '../../src/env/log.ts';
import { Membership, MembershipError } from '../../src/membership/membership.ts';
import { META_LOG, META_TABLE } from '../../src/membership/persisted.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { TEST_CONFIG } from './harness.ts';

function open(storage: MemoryStorage, log: Log = recordingLog([])): Membership {
  return new Membership({
    self: 'n1',
    selfPeer: '127.0.0.1:7101',
    selfHttp: '127.0.0.1:7001',
    clock: { nowMs: () => 5_000, setTimer: () => ({ cancel() {} }) },
    random: { nextInt: () => 0, nextFloat: () => 0 },
    storage,
    transport: { request: () => Promise.reject(new Error('no network')), serve() {}, close: () => Promise.resolve() },
    log,
    config: TEST_CONFIG,
  });
}

function recordingLog(warnings: string[]): Log {
  return { debug() {}, info() {}, error() {}, warn: (obj, msg) => void warnings.push(`${msg} ${JSON.stringify(obj)}`) };
}

async function storageWith(table: unknown, log?: unknown): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  const text = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x));
  await storage.commit([{ space: 'meta', key: META_TABLE, value: text(table) }, ...(log === undefined ? [] : [{ space: 'meta' as const, key: META_LOG, value: text(log) }])]);
  return storage;
}

/** A record as code before operator epochs wrote it: no `epoch`. */
function legacy(id: string, status: string, version: number): Record<string, unknown> {
  const port = 7100 + Number(id.slice(1));
  return { id, peer: `127.0.0.1:${port}`, http: '', status, version, changedBy: 'n1', changedAtMs: 1_000, heartbeat: 3, transfer: null, state: 'ready' };
}

describe('membership read back from disk', () => {
  it('round-trips the table and log, epochs included', async () => {
    const storage = new MemoryStorage();
    const first = open(storage);
    first.bootstrap(['n1', 'n2', 'n3', 'n4'].map((id, i) => ({ id, peer: `127.0.0.1:${7101 + i}` })));
    first.removeMember('n4');
    first.addMember('n4', '127.0.0.1:7104', '');
    await new Promise((resolve) => setImmediate(resolve));
    const again = open(storage);
    assert.deepEqual(again.table(), first.table().map((r) => ({ ...r, transfer: null })));
    assert.deepEqual(again.history(), first.history());
    assert.deepEqual(again.record('n4')!.epoch, 2);
    assert.deepEqual(again.history().filter((e) => e.node === 'n4').map((e) => [e.change, e.epoch]), [['added', 0], ['removed', 1], ['added', 2]]);
  });

  it('reads records and log entries without an epoch as epoch 0', async () => {
    const log = [{ atMs: 1_000, node: 'n2', change: 'down', version: 2, by: 'n1', changedAtMs: 1_000 }];
    const m = open(await storageWith([legacy('n1', 'up', 1), legacy('n2', 'down', 2), legacy('n3', 'removed', 4)], log));
    assert.deepEqual(m.table().map((r) => [r.id, r.status, r.epoch, r.version]), [['n1', 'up', 0, 1], ['n2', 'down', 0, 2], ['n3', 'removed', 0, 4]]);
    assert.deepEqual(m.history(), [{ ...log[0], epoch: 0 }]);
    assert.deepEqual(m.ring()!.nodes.map((n) => n.id).sort(), ['n1', 'n2']);
  });

  const corrupt: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    ['a NaN time persisted as null', [legacy('n1', 'up', 1), { ...legacy('n2', 'up', 1), changedAtMs: null }], /record 1 \(n2\): changedAtMs: not a finite time: null/],
    ['an id with a control character', [{ ...legacy('n1', 'up', 1), id: 'n\u001b1' }], /record 0: id: not a node id/],
    ['a bad address', [{ ...legacy('n1', 'up', 1), peer: 'nowhere' }], /record 0 \(n1\): peer: not HOST:PORT/],
    ['a negative epoch', [{ ...legacy('n1', 'up', 1), epoch: -1 }], /record 0 \(n1\): epoch: not a count: -1/],
    ['two records for one id', [legacy('n1', 'up', 1), legacy('n1', 'down', 2)], /two records for n1/],
    ['an object instead of a list', { n1: legacy('n1', 'up', 1) }, /not a list of records/],
    ['bytes that are not JSON', '[{"id":', /not JSON/],
  ];
  for (const [what, table, message] of corrupt) {
    it(`refuses to start on a table with ${what}, saying what is wrong`, async () => {
      const storage = await storageWith(table);
      assert.throws(
        () => open(storage),
        (err: unknown) => err instanceof MembershipError && err.code === 'CORRUPT_TABLE' && /corrupt membership table \(meta key membership-table\)/.test(err.message) && message.test(err.message),
      );
    });
  }

  it('drops change log entries that do not parse, with a warning, and keeps the rest', async () => {
    const good = { atMs: 1_000, node: 'n2', change: 'down', epoch: 0, version: 2, by: 'n1', changedAtMs: 1_000 };
    const log = [good, { ...good, atMs: null }, { ...good, node: 'n\u001b2' }, { ...good, change: 'exploded' }, 'junk', { ...good, version: 3, change: 'up' }];
    const warnings: string[] = [];
    const m = open(await storageWith([legacy('n1', 'up', 1), legacy('n2', 'up', 3)], log), recordingLog(warnings));
    assert.deepEqual(m.history(), [good, { ...good, version: 3, change: 'up' }]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /dropped entries that do not parse/);
    assert.match(warnings[0]!, /"dropped":4/);
    assert.match(warnings[0]!, /entry 1: atMs: not a finite time: null/);
  });

  it('starts with an empty log, with a warning, when the log is not JSON', async () => {
    const warnings: string[] = [];
    const m = open(await storageWith([legacy('n1', 'up', 1)], '{"trunc'), recordingLog(warnings));
    assert.deepEqual(m.history(), []);
    assert.match(warnings[0] ?? '', /the whole log: not JSON/);
  });
});
