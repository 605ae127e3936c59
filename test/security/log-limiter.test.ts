// Shows the rate limit on warnings strangers can cause (finding 6 of the attack review of issue 13):
// the first event of a kind is logged at once; later ones within the interval are counted and
// reported by one line carrying `suppressed`; a flood that goes on gets one line per interval;
// kinds are told apart, up to kindsMax per message, past which they share one line. Timers are
// driven by hand, so nothing here waits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogLimiter, OTHER_KIND } from '../../src/env/log-limiter.ts';

interface Line {
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

function harness(options: { kindsMax?: number } = {}) {
  const lines: Line[] = [];
  const timers: Array<{ fn: () => void; cancelled: boolean }> = [];
  const limiter = new LogLimiter({ warn: (fields, msg) => lines.push({ fields: fields as Record<string, unknown>, msg }) }, {
    intervalMs: 10_000,
    ...options,
    setTimer: (_ms, fn) => {
      const timer = { fn, cancelled: false };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
  });
  /** Fires every timer pending now (one interval passes). */
  const tick = () => {
    for (const timer of timers.splice(0)) if (!timer.cancelled) timer.fn();
  };
  return { lines, limiter, tick };
}

describe('LogLimiter', () => {
  it('logs the first event at once and one line with the count of the rest per interval', () => {
    const { lines, limiter, tick } = harness();
    for (let i = 0; i < 3_000; i++) limiter.warn('no hello', { remote: `10.0.0.1:${i}` }, 'refused peer connection');
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0], { fields: { remote: '10.0.0.1:0' }, msg: 'refused peer connection' });
    tick();
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[1]!.fields, { remote: '10.0.0.1:2999', suppressed: 2_999, suppressedForMs: 10_000 });
    // The flood goes on: still one line per interval.
    for (let i = 0; i < 500; i++) limiter.warn('no hello', { remote: 'x' }, 'refused peer connection');
    assert.equal(lines.length, 2);
    tick();
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.fields.suppressed, 500);
    // A quiet interval closes the window: the next event is logged at once again.
    tick();
    assert.equal(lines.length, 3);
    limiter.warn('no hello', { remote: 'y' }, 'refused peer connection');
    assert.equal(lines.length, 4);
    assert.equal(lines[3]!.fields.suppressed, undefined);
  });

  it('tells kinds and messages apart, and folds kinds past kindsMax into one', () => {
    const { lines, limiter, tick } = harness({ kindsMax: 2 });
    limiter.warn('a', {}, 'm1');
    limiter.warn('b', {}, 'm1');
    limiter.warn('a', {}, 'm2');
    assert.equal(lines.length, 3);
    for (let i = 0; i < 100; i++) limiter.warn(`attacker-chosen ${i}`, { i }, 'm1');
    assert.equal(lines.length, 4, 'the first past kindsMax is logged, the rest counted with it');
    tick();
    assert.deepEqual(lines.slice(4).map((l) => l.fields.suppressed), [99]);
    assert.ok(OTHER_KIND.length > 0);
  });

  it('reports pending counts on flush and logs nothing more afterwards', () => {
    const { lines, limiter, tick } = harness();
    limiter.warn('k', {}, 'm');
    limiter.warn('k', {}, 'm');
    limiter.flush();
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.fields.suppressed, 1);
    tick();
    assert.equal(lines.length, 2);
  });
});
