// The event-loop stall watch reports a blocked event loop, with about how long it was blocked,
// and stays silent while the loop turns freely.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { watchEventLoopStalls } from '../../src/node/stall-watch.ts';
import { waitFor } from '../support/local-cluster.ts';

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the stall under test
  }
}

describe('event-loop stall watch', () => {
  it('reports a blocked event loop with about how long it was blocked', async () => {
    const reports: number[] = [];
    const watch = watchEventLoopStalls((ms) => reports.push(ms), { tickMs: 10, reportMs: 200 });
    try {
      blockFor(600);
      await waitFor('a stall report', () => reports.some((ms) => ms >= 500), 5_000, 5);
      assert.ok(reports.every((ms) => ms >= 200), `reports ${reports.join(', ')}`);
    } finally {
      watch.stop();
    }
  });

  it('reports nothing while the loop turns freely', async () => {
    const reports: number[] = [];
    let ticks = 0;
    const watch = watchEventLoopStalls((ms) => reports.push(ms), { tickMs: 10, reportMs: 1_000 });
    try {
      await waitFor('fifty free event-loop turns', () => ++ticks >= 50, 5_000, 10);
      assert.deepEqual(reports, []);
    } finally {
      watch.stop();
    }
  });
});
