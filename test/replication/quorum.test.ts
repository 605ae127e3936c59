// awaitQuorum, the wait behind every read and write quorum (Dynamo 4.5): it answers as soon as
// `needed` attempts succeeded, as soon as success became impossible, or at the deadline, and its
// outcome says exactly which (reached, the successes in arrival order, the failures, timedOut).
// Mutation testing found most of its conditions untested on their own. Virtual time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scheduler } from '../../sim/scheduler.ts';
import { SimClock } from '../../sim/sim-clock.ts';
import { awaitQuorum } from '../../src/replication/quorum.ts';

/** An attempt that settles at `atMs` of virtual time: with `value`, or failing when value is an Error. */
function at<T>(scheduler: Scheduler, atMs: number, value: T | Error): Promise<T> {
  return new Promise((resolve, reject) => scheduler.schedule(atMs, () => (value instanceof Error ? reject(value) : resolve(value))));
}

async function outcomeAt<T>(scheduler: Scheduler, attempts: Promise<T>[], needed: number, timeoutMs: number) {
  let answeredAtMs = -1;
  const outcome = awaitQuorum(attempts, needed, new SimClock(scheduler), timeoutMs).then((o) => {
    answeredAtMs = scheduler.nowMs;
    return o;
  });
  const result = await scheduler.complete(outcome);
  return { ...result, answeredAtMs };
}

describe('awaitQuorum', () => {
  it('answers once `needed` succeeded, without waiting for the rest', async () => {
    const s = new Scheduler();
    const o = await outcomeAt(s, [at(s, 10, 'a'), at(s, 20, 'b'), at(s, 500, 'c')], 2, 1_000);
    assert.deepEqual(o.ok, ['a', 'b']);
    assert.equal(o.reached, true);
    assert.equal(o.timedOut, false);
    assert.equal(o.failed, 0);
    assert.equal(o.answeredAtMs, 20);
  });

  it('needs exactly `needed`: one success short is not reached', async () => {
    const s = new Scheduler();
    const o = await outcomeAt(s, [at(s, 10, 'a'), at<string>(s, 20, new Error('x')), at<string>(s, 30, new Error('y'))], 2, 1_000);
    assert.equal(o.reached, false);
    assert.deepEqual(o.ok, ['a']);
    assert.equal(o.failed, 2);
    assert.equal(o.timedOut, false);
  });

  it('answers as soon as success is impossible, not at the deadline', async () => {
    const s = new Scheduler();
    const o = await outcomeAt(s, [at<string>(s, 10, new Error('x')), at<string>(s, 20, new Error('y')), at(s, 900, 'late')], 2, 1_000);
    assert.equal(o.reached, false);
    assert.equal(o.failed, 2);
    assert.equal(o.answeredAtMs, 20);
  });

  it('at the deadline: not reached, timedOut, with what arrived', async () => {
    const s = new Scheduler();
    const never = new Promise<string>(() => {});
    const o = await outcomeAt(s, [at(s, 10, 'a'), never, never], 2, 300);
    assert.equal(o.reached, false);
    assert.equal(o.timedOut, true);
    assert.deepEqual(o.ok, ['a']);
    assert.equal(o.failed, 0);
    assert.equal(o.answeredAtMs, 300);
  });

  it('reached at the deadline only with `needed` successes; later replies change nothing', async () => {
    const s = new Scheduler();
    const attempts = [at(s, 5, 'a'), at(s, 6, 'b'), at(s, 50, 'c')];
    const o = await outcomeAt(s, attempts, 2, 100);
    await s.runUntil(200);
    assert.deepEqual(o.ok, ['a', 'b'], 'the outcome is a copy, fixed when answered');
    assert.equal(o.reached, true);
  });

  it('answers at once when nothing can succeed (fewer attempts than needed)', async () => {
    const s = new Scheduler();
    const o = await outcomeAt(s, [at(s, 50, 'a')], 2, 1_000);
    assert.equal(o.reached, false);
    assert.equal(o.answeredAtMs, 0);
  });
});
