// Actor ids and counters as every door checks them: a dot or clock entry names a node id or a
// node id with its epoch, and carries a counter from 1 to COUNTER_MAX (2^48). A record or context
// naming anything else, or a counter near 2^53 (what a hostile peer sent: seed-rules 1019 of the
// simulator stored such counters), does not decode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actorId, isActorId, nodeOfActor } from '../../src/version/actor.ts';
import { decodeRecord, encodeRecord, RecordCorruptError } from '../../src/version/record-codec.ts';
import { COUNTER_MAX, isVClock } from '../../src/version/vclock.ts';

const sibling = (node: string, counter: number) => ({ dot: { node, counter, timeMs: 1 }, context: [], value: Buffer.from('v'), contentType: 'text/plain' });

describe('actor ids and counters', () => {
  it('accept node ids and node ids with an epoch', () => {
    for (const good of ['n1', 'node-7.a_b', actorId('n1', '0123456789'), 'n1#abcdefghij']) assert.ok(isActorId(good), good);
    assert.equal(nodeOfActor('n1#0123456789'), 'n1');
    assert.equal(nodeOfActor('n1'), 'n1');
  });

  it('refuse anything else', () => {
    for (const bad of ['', 'a b', 'n1#', 'n1#ABCDEFGHIJ', 'n1#0123', 'n1#0123456789#x', '#0123456789', '__proto__', 'x'.repeat(65), 'n\u001b1', 42, null]) {
      assert.equal(isActorId(bad), false, JSON.stringify(bad));
    }
    assert.throws(() => actorId('a b', '0123456789'), /assertion/);
  });

  it('refuse records and clocks with bad actors or counters past COUNTER_MAX', () => {
    assert.equal(decodeRecord(encodeRecord([sibling('n1#0123456789', COUNTER_MAX)]))[0]!.dot.counter, COUNTER_MAX);
    for (const [node, counter] of [['a b', 5], ['n1', COUNTER_MAX + 1], ['n1', 2 ** 53 - 1], ['n1', 0]] as const) {
      assert.throws(() => decodeRecord(encodeRecord([sibling(node, counter)])), RecordCorruptError, `${node}:${counter}`);
    }
    assert.ok(isVClock([{ node: 'n1#0123456789', counter: COUNTER_MAX, timeMs: 1 }]));
    assert.equal(isVClock([{ node: 'n1', counter: Number.MAX_SAFE_INTEGER, timeMs: 1 }]), false);
    assert.equal(isVClock([{ node: 'a b', counter: 1, timeMs: 1 }]), false);
  });
});
