// Shows that gossip records are parsed at the peer boundary (issue 13, finding 5): a gossip
// request or reply carrying one record with a NaN time, an id or changer with a control
// character, a bad address, a missing epoch, unbounded counts or too many records is malformed
// (parsePeerRequest/parsePeerReply return undefined, so the transport closes the connection),
// never reaches the table or the disk, and the node that was sent it restarts fine. Frames are
// encoded and decoded as the TCP transport does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLog } from '../../src/env/log.ts';
import { Membership } from '../../src/membership/membership.ts';
import { encodeTable, META_TABLE } from '../../src/membership/persisted.ts';
import { MEMBERS_MAX, TRANSFER_TARGETS_MAX, type MemberRecord } from '../../src/membership/table.ts';
import { parsePeerReply, parsePeerRequest } from '../../src/protocol/messages.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { answer, overTheWire, TEST_CONFIG, World } from './harness.ts';

const good: MemberRecord = {
  id: 'n9',
  peer: '10.0.0.9:7100',
  http: '10.0.0.9:7000',
  status: 'up',
  epoch: 1,
  version: 2,
  changedBy: 'n1',
  changedAtMs: 1_700_000_000_000,
  heartbeat: 5,
  transfer: { keysTotal: 10, keysDone: 4, targets: ['n2'] },
  state: 'ready',
};

const bad: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['a NaN change time', { changedAtMs: NaN }],
  ['an infinite change time', { changedAtMs: Infinity }],
  ['an id with an ESC character', { id: 'n\u001b[2J9' }],
  ['a changer with an ESC character', { changedBy: 'n\u001b1' }],
  ['a peer address without a port', { peer: '10.0.0.9' }],
  ['a peer address with a space', { peer: 'evil host:7100' }],
  ['an http address with a port out of range', { http: '10.0.0.9:70000' }],
  ['no epoch', { epoch: undefined }],
  ['a negative version', { version: -1 }],
  ['a fractional heartbeat', { heartbeat: 1.5 }],
  ['a version beyond the safe integers', { version: 2 ** 53 }],
  ['an unknown status', { status: 'zombie' }],
  ['a transfer count that is not a count', { transfer: { keysTotal: NaN, keysDone: 0, targets: [] } }],
  ['a transfer target that is not a node id', { transfer: { keysTotal: 1, keysDone: 0, targets: ['n\u00072'] } }],
  ['too many transfer targets', { transfer: { keysTotal: 1, keysDone: 0, targets: Array.from({ length: TRANSFER_TARGETS_MAX + 1 }, (_, i) => `t${i}`) } }],
];

function withChange(change: Record<string, unknown>): Record<string, unknown> {
  const record: Record<string, unknown> = { ...good, ...change };
  for (const [k, v] of Object.entries(change)) if (v === undefined) delete record[k];
  return record;
}

describe('gossip records at the peer boundary', () => {
  it('a valid record crosses a frame into a typed record, epoch included', () => {
    const request = parsePeerRequest(overTheWire({ kind: 'gossip', records: [good] }));
    assert.deepEqual(request, { kind: 'gossip', records: [good] });
    const reply = parsePeerReply(overTheWire({ kind: 'gossip_ok', records: [good] }));
    assert.deepEqual(reply, { kind: 'gossip_ok', records: [good] });
  });

  it('keeps only the known fields of a record', () => {
    const request = parsePeerRequest(overTheWire({ kind: 'gossip', records: [{ ...good, extra: 'x'.repeat(1000) }] }));
    assert.ok(request?.kind === 'gossip');
    assert.deepEqual(Object.keys(request.records[0]!).sort(), Object.keys(good).sort());
  });

  for (const [what, change] of bad) {
    it(`refuses a frame with ${what} in one record`, () => {
      const records = [good, withChange(change)];
      assert.equal(parsePeerRequest(overTheWire({ kind: 'gossip', records })), undefined);
      assert.equal(parsePeerReply(overTheWire({ kind: 'gossip_ok', records })), undefined);
    });
  }

  it(`refuses more than MEMBERS_MAX (${MEMBERS_MAX}) records in one message`, () => {
    const records = Array.from({ length: MEMBERS_MAX + 1 }, (_, i) => ({ ...good, id: `n${i}` }));
    assert.equal(parsePeerRequest(overTheWire({ kind: 'gossip', records })), undefined);
    assert.equal(parsePeerReply(overTheWire({ kind: 'gossip_ok', records })), undefined);
    assert.equal(parsePeerRequest(overTheWire({ kind: 'gossip', records: records.slice(1) }))?.kind, 'gossip');
  });

  it('a node sent such frames keeps them out of its table and disk, and restarts fine', async () => {
    const world = new World(['n1', 'n2', 'n3']);
    world.startAll();
    await world.run(3_000);
    const before = world.node('n1').table();
    for (const [what, change] of bad) {
      // The receiving side of the transport: parse, then hand a valid request to the node. The
      // records say removed, so no failure detector rewrites them before the restart.
      const request = parsePeerRequest(overTheWire({ kind: 'gossip', records: [withChange({ status: 'removed', ...change })] }));
      if (request !== undefined) answer(world.node('n1'), request);
      assert.deepEqual(world.node('n1').table().map((r) => r.id), before.map((r) => r.id), what);
    }
    await world.run(10); // lets the table's write land
    world.stop('n1');
    const restarted = world.start('n1');
    assert.deepEqual(restarted.table().map((r) => r.id), ['n1', 'n2', 'n3']);
    assert.ok(restarted.table().every((r) => Number.isFinite(r.changedAtMs)));
  });

  it('an operator cannot add a member beyond MEMBERS_MAX, so a table always fits in one gossip', async () => {
    // A table already at the limit (mostly removed nodes), as a node would read it back.
    const world = new World(['n1', 'n2', 'n3']);
    const full = Array.from({ length: MEMBERS_MAX }, (_, i): MemberRecord => ({ ...good, id: i < 3 ? `n${i + 1}` : `m${i}`, peer: `10.1.${i >> 8}.${i & 255}:7100`, http: '', status: i < 3 ? 'up' : 'removed', transfer: null }));
    await world.storages.get('n1')!.commit([{ space: 'meta', key: META_TABLE, value: encodeTable(full) }]);
    const m: Membership = world.start('n1');
    assert.equal(m.table().length, MEMBERS_MAX);
    assert.throws(() => m.addMember('one-more', '10.2.0.1:7100', ''), { code: 'TOO_MANY_MEMBERS' });
    m.addMember('m10', '10.2.0.2:7100', '');
    assert.equal(parsePeerRequest(overTheWire({ kind: 'gossip', records: m.table() }))?.kind, 'gossip');
    m.stop();
  });
});

describe("a node's own record passes the same rules", () => {
  const base = { selfPeer: '127.0.0.1:7101', selfHttp: '127.0.0.1:7001' };
  const wrong: ReadonlyArray<readonly [string, { self: string; selfPeer: string; selfHttp: string }, RegExp]> = [
    ['an id with an ESC character', { ...base, self: 'n\u001b1' }, /bad node id/],
    ['a peer address that is not HOST:PORT', { ...base, self: 'n1', selfPeer: ':::7101' }, /bad advertised peer address/],
    ['an http address that is not HOST:PORT', { ...base, self: 'n1', selfHttp: 'localhost' }, /bad advertised http address/],
  ];
  for (const [what, identity, message] of wrong) {
    it(`refuses to start with ${what}, since peers would refuse its gossip`, () => {
      const clock = new World(['n1']).clock;
      assert.throws(
        () =>
          new Membership({
            ...identity,
            clock,
            random: { nextInt: () => 0, nextFloat: () => 0 },
            storage: new MemoryStorage(),
            transport: { request: () => Promise.reject(new Error('no network')), serve() {}, close: () => Promise.resolve() },
            log: silentLog,
            config: TEST_CONFIG,
          }),
        { code: 'BAD_MEMBER', message },
      );
    });
  }
});
