// The `activity` peer request and its reply cross the wire like every peer message: a reply
// whose activity is missing a field, out of range (NaN, negative, a latency history longer than
// a minute) or names an id outside the id rule makes the message malformed; extra fields a peer
// adds are dropped, so nothing but the known shape reaches a dashboard.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePeerReply, parsePeerRequest } from '../../src/protocol/messages.ts';
import { encodeFrame, FrameDecoder } from '../../src/transport/frame-codec.ts';

const GOOD = {
  node: 'n2',
  keys: 12,
  hintsHeld: 0,
  sync: { state: 'ready', pairsDone: 3, pairsTotal: 3 },
  transfer: { active: false, keysSent: 0, keysDropped: 0 },
  opsPerSec: 1.5,
  latencyMs: Array.from({ length: 60 }, (_, i) => i / 10),
};

function overTheWire(message: unknown): unknown {
  const [payload] = new FrameDecoder().push(encodeFrame(message));
  return payload;
}

describe('activity on the peer wire', () => {
  it('a request and a valid reply cross a frame; extra fields are dropped', () => {
    assert.deepEqual(parsePeerRequest(overTheWire({ kind: 'activity' })), { kind: 'activity' });
    const reply = parsePeerReply(overTheWire({ kind: 'activity_ok', activity: { ...GOOD, html: '<img src=x onerror=alert(1)>', sync: { ...GOOD.sync, extra: 1 } } }));
    assert.deepEqual(reply, { kind: 'activity_ok', activity: GOOD });
    assert.deepEqual(parsePeerReply(overTheWire({ kind: 'activity_ok', activity: null })), { kind: 'activity_ok', activity: null });
  });

  it('a reply with a missing, non-finite or out-of-range field is malformed', () => {
    const bad: Array<[string, unknown]> = [
      ['no activity', undefined],
      ['bad node id', { ...GOOD, node: 'n2\u001b[31m' }],
      ['NaN keys', { ...GOOD, keys: Number.NaN }],
      ['negative hints', { ...GOOD, hintsHeld: -1 }],
      ['fractional keys', { ...GOOD, keys: 1.5 }],
      ['infinite rate', { ...GOOD, opsPerSec: Number.POSITIVE_INFINITY }],
      ['unknown sync state', { ...GOOD, sync: { ...GOOD.sync, state: 'pwned' } }],
      ['string active', { ...GOOD, transfer: { ...GOOD.transfer, active: 'yes' } }],
      ['too much history', { ...GOOD, latencyMs: Array.from({ length: 61 }, () => 1) }],
      ['a string in the history', { ...GOOD, latencyMs: ['1'] }],
      ['no transfer', { ...GOOD, transfer: undefined }],
    ];
    for (const [what, activity] of bad) assert.equal(parsePeerReply(overTheWire({ kind: 'activity_ok', activity })), undefined, what);
  });
});
