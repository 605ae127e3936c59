// Shows the dashboard's request window: per-second counts and latencies on an injected clock,
// a minute kept and older seconds forgotten, ops/s averaged over the last complete seconds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestWindow, WINDOW_SECONDS } from '../../src/metrics/request-window.ts';

describe('RequestWindow', () => {
  it('keeps one minute of complete seconds, oldest first', () => {
    let now = 1_000_000;
    const window = new RequestWindow(() => now);
    window.record(2);
    window.record(4);
    now += 1_000;
    window.record(10);
    now += 1_000;
    const recent = window.recent();
    assert.equal(recent.length, WINDOW_SECONDS);
    assert.deepEqual(recent.slice(-2), [
      { atMs: 1_000_000, count: 2, meanMs: 3, maxMs: 4 },
      { atMs: 1_001_000, count: 1, meanMs: 10, maxMs: 10 },
    ]);
    assert.equal(window.opsPerSec(), 3 / 5);
  });

  it('forgets seconds older than the window even when their slot is not reused', () => {
    let now = 5_000_000;
    const window = new RequestWindow(() => now);
    window.record(1);
    now += WINDOW_SECONDS * 1_000 + 1_000;
    assert.ok(window.recent().every((s) => s.count === 0));
    window.record(7); // lands in the slot the old second used
    now += 1_000;
    assert.deepEqual(window.recent().filter((s) => s.count > 0), [{ atMs: now - 1_000, count: 1, meanMs: 7, maxMs: 7 }]);
  });
});
