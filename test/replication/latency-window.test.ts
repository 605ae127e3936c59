// LatencyWindow and SpeculationBudget, behind the coordinator's speculative read and the client's
// hedged requests. The window: no p99 (the fallback) until it has LATENCY_WINDOW_SAMPLES_MIN
// samples; then the 99th percentile of the most recent LATENCY_WINDOW_SAMPLES, clamped to the
// bounds; clock steps (negative, NaN) ignored. The budget: a burst, then a share of requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_WINDOW_SAMPLES, LATENCY_WINDOW_SAMPLES_MIN, LatencyWindow, SPECULATION_BURST, SPECULATION_SHARE_MAX, SpeculationBudget } from '../../src/replication/latency-window.ts';

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

test('the speculation budget: a burst, then one in 1 / SPECULATION_SHARE_MAX requests, never below empty', () => {
  const budget = new SpeculationBudget();
  let spent = 0;
  for (let i = 0; i < SPECULATION_BURST + 5; i++) if (budget.spend()) spent++;
  assert.equal(spent, SPECULATION_BURST, 'a full bucket allows a burst, then nothing');
  assert.equal(budget.canSpend(), false);
  spent = 0;
  for (let i = 0; i < 100; i++) {
    budget.earn();
    if (budget.spend()) spent++;
  }
  assert.ok(Math.abs(spent - 100 * SPECULATION_SHARE_MAX) <= 1, `about one in ten (${spent} of 100)`);
  for (let i = 0; i < 1_000; i++) budget.earn();
  spent = 0;
  while (budget.spend()) spent++;
  assert.equal(spent, SPECULATION_BURST, 'saving up is capped at one burst');
});
