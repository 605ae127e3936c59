// The chaos checker on synthetic histories: it must report an acknowledged add missing from the
// final read, an element nobody added, an element stored twice, a vanished blind write and a
// replica that did not converge, and must not blame adds that failed or timed out. Phases split
// operations by the faults active when they were invoked; attempts to the failed node itself are
// counted apart from attempts to live nodes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check, type FinalState, type ReplicaView } from '../../chaos/checker.ts';
import type { AttemptRecord, FaultRecord, HistoryEntry, OpOutcome, OpRecord } from '../../chaos/history.ts';

let nextId = 0;
function op(kind: 'add' | 'put', key: string, value: string, outcome: OpOutcome, invokeMs: number, attempts: AttemptRecord[] = []): OpRecord {
  return { type: 'op', id: nextId++, client: 0, kind, key, value, invokeMs, completeMs: invokeMs + 10, outcome, attempts };
}
const attempt = (node: string, startMs: number, outcome: AttemptRecord['outcome']): AttemptRecord => ({ node, startMs, endMs: startMs + 5, outcome });
const converged = (key: string, state = 's'): [string, ReplicaView[]] => [key, ['n1', 'n2', 'n3'].map((node) => ({ node, state }))];

describe('chaos checker', () => {
  it('passes a history whose acknowledged adds are all present and whose replicas agree', () => {
    const history: HistoryEntry[] = [op('add', 'set-0', 'a', 'ok', 0), op('add', 'set-0', 'b', 'ok', 20), op('put', 'put-1', 'x', 'ok', 30)];
    const final: FinalState = {
      reads: new Map([['set-0', ['["a","b"]']], ['put-1', ['x']]]),
      replicas: new Map([converged('set-0'), converged('put-1')]),
    };
    const report = check(history, final);
    assert.equal(report.valid, true);
    assert.equal(report.adds.acknowledged, 2);
    assert.deepEqual(report.ops, { ok: 3, fail: 0, timeout: 0 });
  });

  it('reports a lost acknowledged add, an unexpected and a duplicated element, but not a failed add', () => {
    const history: HistoryEntry[] = [
      op('add', 'set-0', 'a', 'ok', 0),
      op('add', 'set-0', 'b', 'ok', 10),
      op('add', 'set-0', 'c', 'timeout', 20), // maybe applied: may be present or absent
      op('add', 'set-0', 'd', 'fail', 30),
    ];
    // Two siblings: b is gone, z was never attempted, a appears twice within one value.
    const final: FinalState = { reads: new Map([['set-0', ['["a","a","c"]', '["z"]']]]), replicas: new Map([converged('set-0')]) };
    const report = check(history, final);
    assert.equal(report.valid, false);
    assert.deepEqual(report.adds.lost, ['set-0/b']);
    assert.deepEqual(report.adds.unexpected, ['set-0/z']);
    assert.deepEqual(report.adds.duplicated, ['set-0/a']);
  });

  it('reports a replica that did not converge and a key that could not be read', () => {
    const history: HistoryEntry[] = [op('add', 'set-0', 'a', 'ok', 0), op('put', 'put-1', 'x', 'ok', 5)];
    const final: FinalState = {
      reads: new Map<string, string[] | undefined>([['set-0', ['["a"]']], ['put-1', undefined]]),
      replicas: new Map([
        ['set-0', [{ node: 'n1', state: 's' }, { node: 'n2', state: 's' }, { node: 'n4', state: '' }]],
        ['put-1', [{ node: 'n2', state: 's' }, { node: 'n3', state: undefined }, { node: 'n5', state: 's' }]],
      ]),
    };
    const report = check(history, final);
    assert.equal(report.valid, false);
    assert.equal(report.convergence.diverged.length, 2);
    assert.match(report.convergence.diverged[0]!, /^set-0 .*n4: nothing/);
    assert.match(report.convergence.diverged[1]!, /^put-1 .*n3: unreadable/);
    assert.deepEqual(report.unreadable, ['put-1']);
  });

  it('reports a blind write that vanished or came back with a value nobody wrote', () => {
    const history: HistoryEntry[] = [op('put', 'put-1', 'x', 'ok', 0), op('put', 'put-2', 'y', 'ok', 0)];
    const final: FinalState = { reads: new Map([['put-1', []], ['put-2', ['y', 'w']]]), replicas: new Map() };
    const report = check(history, final);
    assert.deepEqual(report.puts.lost, ['put-1']);
    assert.deepEqual(report.puts.unexpected, ['put-2=w']);
    assert.equal(report.valid, false);
  });

  it('splits availability by phase and tells attempts to the failed node from those to live nodes', () => {
    const kill: FaultRecord = { type: 'fault', id: 0, kind: 'kill', nodes: ['n2'], startMs: 100, endMs: 200 };
    const history: HistoryEntry[] = [
      kill,
      op('add', 'set-0', 'a', 'ok', 50, [attempt('n2', 50, 'ok')]),
      // During the kill: the client tries n2 (refused), fails over to n3.
      op('add', 'set-0', 'b', 'ok', 120, [attempt('n2', 120, 'unreachable'), attempt('n3', 121, 'ok')]),
      op('put', 'put-1', 'x', 'fail', 150, [attempt('n4', 150, 'error-answer')]),
      op('add', 'set-0', 'c', 'ok', 250, [attempt('n2', 250, 'ok')]),
    ];
    const final: FinalState = { reads: new Map([['set-0', ['["a","b","c"]']], ['put-1', ['x']]]), replicas: new Map([converged('set-0')]) };
    const report = check(history, final);
    assert.deepEqual(report.phases.map((p) => p.phase), ['none', 'kill']);
    const [none, killed] = report.phases;
    assert.deepEqual(none!.ops, { ok: 2, fail: 0, timeout: 0 });
    assert.deepEqual(killed!.ops, { ok: 1, fail: 1, timeout: 0 });
    assert.deepEqual(killed!.attemptsToFailedNode, { ok: 0, 'error-answer': 0, unreachable: 1, timeout: 0 });
    assert.deepEqual(killed!.attemptsToLiveNodes, { ok: 1, 'error-answer': 1, unreachable: 0, timeout: 0 });
    assert.equal(none!.latencyMs!.p99, 10);
    assert.equal(report.faults, 1);
  });
});
