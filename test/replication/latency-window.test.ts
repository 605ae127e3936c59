// LatencyWindow, the p99 behind the coordinator's speculative retry: no p99 (the fallback, the
// upper bound) until it has LATENCY_WINDOW_SAMPLES_MIN samples; then the 99th percentile of the
// most recent LATENCY_WINDOW_SAMPLES, clamped to the bounds; clock steps (negative, NaN) ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_WINDOW_SAMPLES, LATENCY_WINDOW_SAMPLES_MIN, LatencyWindow } from '../../src/replication/latency-window.ts';

test('the fallback until there are enough samples, then the p99 within the bounds', () => {
  const window = new LatencyWindow();
  for (let i = 0; i < LATENCY_WINDOW_SAMPLES_MIN - 1; i++) window.add(5);
  assert.equal(window.p99Within(1, 500), 500, 'too few samples: the upper bound');
  window.add(5);
  assert.equal(window.p99Within(1, 500), 5);
  assert.equal(window.p99Within(20, 500), 20, 'never below the floor');
});

test('the p99 follows the most recent samples: a burst of slow answers raises it, fast ones bring it back', () => {
  const window = new LatencyWindow();
  for (let i = 0; i < LATENCY_WINDOW_SAMPLES; i++) window.add(i % 100 === 0 ? 400 : 10);
  assert.ok(window.p99Within(0, 1_000) <= 400);
  for (let i = 0; i < LATENCY_WINDOW_SAMPLES; i++) window.add(300);
  assert.equal(window.p99Within(0, 1_000), 300);
  assert.equal(window.p99Within(0, 250), 250, 'never above the ceiling');
  for (let i = 0; i < LATENCY_WINDOW_SAMPLES; i++) window.add(10);
  assert.equal(window.p99Within(0, 1_000), 10, 'old samples are gone once the window has turned over');
});

test('ignores latencies a clock step would make: negative, NaN, infinite', () => {
  const window = new LatencyWindow();
  for (let i = 0; i < LATENCY_WINDOW_SAMPLES_MIN; i++) {
    window.add(-5);
    window.add(Number.NaN);
    window.add(Number.POSITIVE_INFINITY);
  }
  assert.equal(window.p99Within(1, 500), 500, 'no valid sample, no p99');
});
