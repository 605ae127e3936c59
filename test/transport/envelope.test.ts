// Shows which decoded values parseEnvelope accepts as each envelope kind and which it refuses:
// wrong kinds, ids outside uint32, missing or oversized strings, and non-plain objects such as
// msgpackr's marker for the reserved byte 0xc1. Extra fields are ignored for forward compatibility.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterLengthMax, errorMessageLengthMax, nodeIdLengthMax, parseEnvelope, requestIdMax } from '../../src/transport/envelope.ts';
import { FrameDecoder } from '../../src/transport/frame-codec.ts';

describe('envelope', () => {
  it('accepts each well-formed kind and drops unknown fields', () => {
    assert.deepEqual(parseEnvelope({ t: 'hello', from: 'n1', cluster: 'c', extra: 1 }), { t: 'hello', from: 'n1', cluster: 'c' });
    assert.deepEqual(parseEnvelope({ t: 'req', id: 0, body: { kind: 'ping' } }), { t: 'req', id: 0, body: { kind: 'ping' } });
    assert.deepEqual(parseEnvelope({ t: 'rep', id: requestIdMax, body: null }), { t: 'rep', id: requestIdMax, body: null });
    assert.deepEqual(parseEnvelope({ t: 'rep', id: 5 }), { t: 'rep', id: 5, body: undefined });
    assert.deepEqual(parseEnvelope({ t: 'err', id: 3, code: 'X', message: '' }), { t: 'err', id: 3, code: 'X', message: '' });
    assert.deepEqual(parseEnvelope({ t: 'err', id: 3, code: 'NOT_READY', message: 'm', unread: true }), { t: 'err', id: 3, code: 'NOT_READY', message: 'm', unread: true });
  });

  it('refuses malformed envelopes', () => {
    const refused: unknown[] = [
      undefined,
      null,
      'hello',
      [],
      new Date(0),
      new Uint8Array(3),
      { t: 'nope', id: 1 },
      { t: 'hello', from: '', cluster: 'c' },
      { t: 'hello', from: 'n1' },
      { t: 'hello', from: 'x'.repeat(nodeIdLengthMax + 1), cluster: 'c' },
      { t: 'hello', from: 'n1', cluster: 'c'.repeat(clusterLengthMax + 1) },
      { t: 'req', id: -1, body: 1 },
      { t: 'req', id: 1.5, body: 1 },
      { t: 'req', id: requestIdMax + 1, body: 1 },
      { t: 'req', id: '1', body: 1 },
      { t: 'req', id: 1n, body: 1 },
      { t: 'err', id: 1, code: '', message: 'm' },
      { t: 'err', id: 1, code: 'X' },
      { t: 'err', id: 1, code: 'X', message: 'm'.repeat(errorMessageLengthMax + 1) },
      // Only `true` says refused unread; anything else is malformed, never read as a yes.
      { t: 'err', id: 1, code: 'X', message: 'm', unread: 1 },
      { t: 'err', id: 1, code: 'X', message: 'm', unread: false },
    ];
    for (const x of refused) assert.equal(parseEnvelope(x), undefined, JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
    const [marker] = new FrameDecoder().push(Buffer.from([0, 0, 0, 1, 0xc1]));
    assert.equal(parseEnvelope(marker), undefined);
  });
});
