// Shows how a node reads its membership back from the meta space: the table round-trips with
// its epochs; records and log entries written before epochs existed load as epoch 0 (the
// compatibility rule); a table with any record that does not parse stops the node with an
// error naming the record and the field (it is state, and guessing could resurrect a removed
// node); a log entry that does not parse is dropped with a warning (it is history only).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Log } from '../../src/env/log.ts';
import { Membership, MembershipError } from '../../src/membership/membership.ts';
import { logKey, META_LOG, META_TABLE } from '../../src/membership/persisted.ts';
import { MEMBERSHIP_COUNT_MAX } from '../../src/membership/table.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { TEST_CONFIG } from './harness.ts';

function open(storage: MemoryStorage, log: Log = recordingLog([])): Membership {
  return new Membership({
    self: 'n1',
    selfPeer: '127.0.0.1:7101',
    selfHttp: '127.0.0.1:7001',
    clock: { nowMs: () => 5_000, monotonicMs: () => 5_000, setTimer: () => ({ cancel() {} }) },
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

  it('persisted() resolves once an operator change is durable, and rejects if its write failed', async () => {
    // Commits wait while `held`; release() lets the waiting ones through (or fails them).
    const inner = new MemoryStorage();
    const waiting: Array<() => void> = [];
    let held = false;
    let failing = false;
    const storage = Object.assign(Object.create(inner) as MemoryStorage, {
      commit: (writes: Parameters<MemoryStorage['commit']>[0]) => {
        const go = () => (failing ? Promise.reject(new Error('fsync failed')) : inner.commit(writes));
        return held ? new Promise<void>((resolve, reject) => waiting.push(() => void go().then(resolve, reject))) : go();
      },
    });
    const release = () => {
      held = false;
      for (const go of waiting.splice(0)) go();
    };
    const m = open(storage);
    m.bootstrap(['n1', 'n2', 'n3', 'n4'].map((id, i) => ({ id, peer: `127.0.0.1:${7101 + i}` })));
    await m.persisted();
    held = true;
    m.removeMember('n4');
    let durable = false;
    const done = m.persisted().then(() => (durable = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(durable, false, 'not before the table is written');
    release();
    await done;
    assert.equal(open(inner).record('n4')?.status, 'removed');
    failing = true;
    m.addMember('n4', '127.0.0.1:7104', '');
    await assert.rejects(m.persisted(), /fsync failed/);
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
    ['a negative epoch', [{ ...legacy('n1', 'up', 1), epoch: -1 }], /record 0 \(n1\): epoch: not a count up to \d+: -1/],
    ['two records for one id', [legacy('n1', 'up', 1), legacy('n1', 'down', 2)], /two records for n1/],
    ['an object instead of a list', { n1: legacy('n1', 'up', 1) }, /not a list of records/],
    ['bytes that are not JSON', '[{"id":', /not JSON/],
  ];
  it('clamps a count saved above MEMBERSHIP_COUNT_MAX (before counts were bounded) to the bound, with a warning', async () => {
    const warnings: string[] = [];
    const storage = await storageWith([{ ...legacy('n1', 'up', Number.MAX_SAFE_INTEGER), epoch: 0 }, { ...legacy('n2', 'down', 3), heartbeat: 2 ** 50, epoch: 2 ** 49 }]);
    const m = open(storage, recordingLog(warnings));
    assert.deepEqual(m.table().map((r) => [r.id, r.epoch, r.version, r.heartbeat]), [
      ['n1', 0, MEMBERSHIP_COUNT_MAX, 3],
      ['n2', MEMBERSHIP_COUNT_MAX, 3, MEMBERSHIP_COUNT_MAX],
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /clamped/);
    assert.match(warnings[0]!, /n1\.version/);
  });

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

describe('membership saves what changed, one key per record and per log entry', () => {
  /** Memory storage that records each commit's keys, and fails the next commit when asked. */
  class RecordingStorage extends MemoryStorage {
    readonly commits: string[][] = [];
    failNext = false;
    override commit(writes: Parameters<MemoryStorage['commit']>[0]): Promise<void> {
      if (this.failNext) {
        this.failNext = false;
        return Promise.reject(new Error('disk full'));
      }
      this.commits.push(writes.map((w) => `${w.value === null ? '-' : '+'}${w.key}`));
      return super.commit(writes);
    }
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const ids = Array.from({ length: 50 }, (_, i) => `n${i + 1}`);

  it('a change writes its record and its log entry, not the whole table', async () => {
    const storage = new RecordingStorage();
    const m = open(storage);
    m.bootstrap(ids.map((id, i) => ({ id, peer: `127.0.0.1:${8000 + i}` })));
    await m.persisted();
    assert.equal(storage.commits.at(-1)!.filter((k) => k.startsWith('+membership-record:')).length, 50, 'the first save writes every record');
    const before = storage.commits.length;
    m.removeMember('n7');
    await m.persisted();
    assert.deepEqual(storage.commits.slice(before), [['+membership-record:n7', `+${logKey(50)}`]]);
    const again = open(storage);
    assert.deepEqual(again.table(), m.table().map((r) => ({ ...r, transfer: null })));
    assert.deepEqual(again.history(), m.history());
  });

  it('the log keeps its bound on disk: entries dropped from memory are deleted', async () => {
    const storage = new RecordingStorage();
    const m = open(storage);
    m.bootstrap(['n1', 'n2', 'n3', 'n4'].map((id, i) => ({ id, peer: `127.0.0.1:${7101 + i}` })));
    for (let i = 0; i < TEST_CONFIG.logEntriesMax; i++) {
      m.removeMember('n4');
      m.addMember('n4', '127.0.0.1:7104', '');
    }
    await m.persisted();
    const logKeys = [...storage.scanKeys('meta', { start: 'membership-log:', end: 'membership-log;' })];
    assert.equal(logKeys.length, TEST_CONFIG.logEntriesMax);
    const again = open(storage);
    assert.deepEqual(again.history(), m.history());
    assert.equal(again.record('n4')!.epoch, m.record('n4')!.epoch);
  });

  it('a failed save is carried by the next one', async () => {
    const storage = new RecordingStorage();
    const m = open(storage);
    m.bootstrap(['n1', 'n2', 'n3', 'n4', 'n5'].map((id, i) => ({ id, peer: `127.0.0.1:${7101 + i}` })));
    await m.persisted();
    storage.failNext = true;
    m.removeMember('n5');
    await assert.rejects(m.persisted(), /disk full/);
    m.removeMember('n4');
    await m.persisted();
    const again = open(storage);
    assert.equal(again.record('n5')!.status, 'removed', 'the change whose save failed is on disk');
    assert.equal(again.record('n4')!.status, 'removed');
    assert.deepEqual(again.history(), m.history());
  });

  it('a disk in the old layout (whole table and log under one key each) is read, then replaced by the first save', async () => {
    const storage = await storageWith(
      ['n1', 'n2', 'n3', 'n4'].map((id) => ({ ...legacy(id, 'up', 2), epoch: 0 })),
      [{ atMs: 1, node: 'n4', change: 'added', epoch: 0, version: 1, by: 'n1', changedAtMs: 1 }],
    );
    const m = open(storage);
    assert.equal(m.table().length, 4);
    m.removeMember('n4');
    await m.persisted();
    assert.equal(storage.get('meta', META_TABLE), undefined, 'the old table key is gone');
    assert.equal(storage.get('meta', META_LOG), undefined, 'the old log key is gone');
    const again = open(storage);
    assert.deepEqual(again.table(), m.table().map((r) => ({ ...r, transfer: null })));
    assert.deepEqual(again.history(), m.history());
    assert.equal(again.history().length, 2);
  });

  it('a record that does not parse in the per-record layout stops the start, naming its key', async () => {
    const storage = new MemoryStorage();
    const m = open(storage);
    m.bootstrap(['n1', 'n2', 'n3'].map((id, i) => ({ id, peer: `127.0.0.1:${7101 + i}` })));
    await m.persisted();
    const saved = JSON.parse(Buffer.from(storage.get('meta', 'membership-record:n2')!).toString()) as Record<string, unknown>;
    await storage.commit([{ space: 'meta', key: 'membership-record:n2', value: Buffer.from(JSON.stringify({ ...saved, status: 'sideways' })) }]);
    assert.throws(() => open(storage), (err: unknown) => err instanceof MembershipError && err.code === 'CORRUPT_TABLE' && /membership-record:n2: .*status/.test(err.message));
    await storage.commit([{ space: 'meta', key: 'membership-record:n2', value: Buffer.from(JSON.stringify({ ...saved, id: 'n3' })) }]);
    assert.throws(() => open(storage), /membership-record:n2 holds the record of n3/);
  });
});
