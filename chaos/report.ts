// Formats a checked chaos run for the terminal: the figures that matter first (lost, unexpected,
// duplicated, convergence), then availability and latency per phase. Pure; writes no files.
import type { CheckReport, Counts } from './checker.ts';
import type { HostileReport } from './hostile.ts';
import type { AttemptOutcome } from '../src/client/cluster-client.ts';

export interface RunSummary {
  readonly seed: number;
  readonly durationS: number;
  readonly clients: number;
  readonly network: string;
  readonly convergedAfterMs: number | undefined;
  readonly resultsDir: string;
  readonly check: CheckReport;
  /** The hostile client's tally, when it ran. */
  readonly hostile?: HostileReport;
}

const listed = (items: readonly string[]) => (items.length === 0 ? '' : `: ${items.slice(0, 8).join(', ')}${items.length > 8 ? ` (+${items.length - 8})` : ''}`);
const attempts = (c: Counts<AttemptOutcome>) => `${c.ok}/${c['error-answer']}/${c.unreachable}/${c.timeout}`;

export function formatSummary(s: RunSummary): string {
  const { check } = s;
  const lines = [
    '',
    `chaos: seed ${s.seed}, ${s.durationS} s, ${s.clients} clients, ${s.network}`,
    `ops: ${check.ops.ok + check.ops.fail + check.ops.timeout} (ok ${check.ops.ok}, failed ${check.ops.fail}, timed out ${check.ops.timeout}); faults: ${check.faults}`,
    `set adds: ${check.adds.acknowledged} acknowledged; lost ${check.adds.lost.length}${listed(check.adds.lost)}; unexpected ${check.adds.unexpected.length}${listed(check.adds.unexpected)}; duplicated ${check.adds.duplicated.length}${listed(check.adds.duplicated)}`,
    `blind puts: ${check.puts.keys} keys; lost ${check.puts.lost.length}${listed(check.puts.lost)}; unexpected ${check.puts.unexpected.length}${listed(check.puts.unexpected)}`,
    ...(check.unreadable.length > 0 ? [`final read at R=3 failed for ${check.unreadable.length} keys${listed(check.unreadable)}`] : []),
    check.convergence.diverged.length === 0
      ? `convergence: all ${check.convergence.keys} keys identical on their 3 replicas, no hints held${s.convergedAfterMs !== undefined ? ` (${(s.convergedAfterMs / 1000).toFixed(1)} s after the heal)` : ''}`
      : `convergence: ${check.convergence.diverged.length} of ${check.convergence.keys} keys still differ${listed(check.convergence.diverged)}`,
    '',
    'availability per phase (ops = logical operations, with client failover; attempts = single requests, ok/error answer/unreachable/timeout)',
    `${'phase'.padEnd(14)}${'ops ok'.padStart(8)}${'failed'.padStart(8)}${'timeout'.padStart(8)}${'  attempts to live nodes'.padEnd(26)}${'to the failed node'.padEnd(20)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'max ms'.padStart(8)}`,
  ];
  for (const p of check.phases) {
    lines.push(
      `${p.phase.padEnd(14)}${String(p.ops.ok).padStart(8)}${String(p.ops.fail).padStart(8)}${String(p.ops.timeout).padStart(8)}  ${attempts(p.attemptsToLiveNodes).padEnd(24)}${attempts(p.attemptsToFailedNode).padEnd(20)}` +
        `${String(p.latencyMs?.p50 ?? '-').padStart(8)}${String(p.latencyMs?.p99 ?? '-').padStart(8)}${String(p.latencyMs?.max ?? '-').padStart(8)}`,
    );
  }
  const hostile = s.hostile;
  if (hostile !== undefined) {
    lines.push(
      '',
      `hostile client: ${hostile.sent} requests, ${hostile.refused} refused as expected, ${hostile.unanswered} unanswered (node down or cut off, or its set-up write answered 503); ` +
        `unexpected answers ${hostile.unexpected.length}${listed(hostile.unexpected)}`,
    );
  }
  const valid = check.valid && (hostile?.unexpected.length ?? 0) === 0;
  lines.push('', `results: ${s.resultsDir}`, `verdict: ${valid ? `PASS (nothing acknowledged lost, replicas converged${hostile !== undefined ? ', every hostile request refused' : ''})` : 'FAIL'}`);
  return lines.join('\n');
}
