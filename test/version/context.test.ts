// Shows that client contexts round-trip and that every malformed context is refused with
// BAD_CONTEXT (the API turns that into a 400), never accepted or crashing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeContext, encodeContext } from '../../src/version/context.ts';

describe('context codec', () => {
  it('round-trips clocks, and the empty context is the empty string', () => {
    const clock = [
      { node: 'n1', counter: 3, timeMs: 1700000000000 },
      { node: 'n2', counter: 100001, timeMs: 1700000000001 },
    ];
    assert.deepEqual(decodeContext(encodeContext(clock)), clock);
    assert.equal(encodeContext([]), '');
    assert.deepEqual(decodeContext(''), []);
  });

  it('refuses malformed contexts', () => {
    for (const bad of ['%%%', 'not base64!', Buffer.from('hello').toString('base64url'), 'x'.repeat(20_000), encodeContext([]) + 'AAAA']) {
      assert.throws(() => decodeContext(bad), { code: 'BAD_CONTEXT' } as object, bad.slice(0, 20));
    }
  });
});
