// Shows which failed batch sends count as the receiver refusing the batch (isRefusal: split it
// and send the halves) and which as trouble with the peer (the sender backs off): a reply the
// peer dropped because our link to it was full (REPLY_DROPPED, TcpTransport's bound on queued
// replies) is trouble with the peer. Counting it a refusal made hint delivery, stale hand-off,
// ring transfer and anti-entropy split batches and resend them to an overloaded peer, and report
// records as refused that its handler had applied (review of the change that added it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError } from '../../src/env/transport.ts';
import { isRefusal, sendIsolatingRefusals } from '../../src/handoff/batches.ts';
import { RemoteError, REPLY_DROPPED_CODE } from '../../src/transport/remote-error.ts';

const dropped = new RemoteError(REPLY_DROPPED_CODE, 'reply of 4000000 bytes dropped');

describe('batch send failures', () => {
  it('a refusal is a handler error past the door; door refusals, losses and dropped replies are not', () => {
    assert.equal(isRefusal(new RemoteError('RECORD_TOO_LARGE', 'too large')), true);
    assert.equal(isRefusal(new RemoteError('BAD_REPLY', 'wrong kind')), true);
    assert.equal(isRefusal(new Error('not a transport error')), true);
    assert.equal(isRefusal(new RemoteError('OVERLOADED', 'too many in flight', true)), false);
    assert.equal(isRefusal(dropped), false);
    for (const code of ['TIMEOUT', 'CLOSED', 'UNREACHABLE', 'OVERLOADED'] as const) assert.equal(isRefusal(new TransportError(code, code)), false, code);
  });

  it('a dropped reply rejects at once, without splitting the batch and sending its halves again', async () => {
    const sends: number[][] = [];
    await assert.rejects(
      sendIsolatingRefusals([1, 2, 3, 4, 5, 6, 7, 8], async (batch) => {
        sends.push([...batch]);
        throw dropped;
      }),
      (err) => err === dropped,
    );
    assert.deepEqual(sends, [[1, 2, 3, 4, 5, 6, 7, 8]]);
  });

  it('a refused batch is split down to the entry the receiver refuses', async () => {
    const refused = await sendIsolatingRefusals([1, 2, 3, 4], async (batch) => {
      if (batch.includes(3)) throw new RemoteError('RECORD_TOO_LARGE', 'entry 3');
    });
    assert.deepEqual(
      refused.map((r) => r.entry),
      [3],
    );
  });
});
