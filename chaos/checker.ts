// The chaos checker: pure, from a run's history and the final state read after the heal and the
// quiet period. It finds acknowledged set adds missing from the final read at R=N (lost),
// elements nobody tried to add (unexpected) or stored twice in one value (duplicated), blind
// writes that vanished or changed, replicas of a key that still differ, and it measures
// availability and latency per phase (the faults active when an operation was invoked).
import { build } from 'hdr-histogram-js';
import type { AttemptOutcome } from '../src/client/cluster-client.ts';
import type { FaultRecord, HistoryEntry, OpOutcome, OpRecord } from './history.ts';

export interface ReplicaView {
  readonly node: string;
  /** Canonical form of the node's stored versions; '' when it holds none, undefined when it could not be read. */
  readonly state: string | undefined;
}

export interface FinalState {
  /** Per key, the sibling values (UTF-8) of a read at R=N; undefined when that read failed. */
  readonly reads: ReadonlyMap<string, readonly string[] | undefined>;
  /** Per key, what each replica of its preference list holds. */
  readonly replicas: ReadonlyMap<string, readonly ReplicaView[]>;
}

export type Counts<K extends string> = Record<K, number>;

export interface LatencyMs {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface PhaseReport {
  /** 'none', a fault kind, or kinds joined by '+' when faults overlapped. */
  readonly phase: string;
  readonly ops: Counts<OpOutcome>;
  /** Requests sent to nodes that were up (not killed, paused or isolated) when sent. */
  readonly attemptsToLiveNodes: Counts<AttemptOutcome>;
  /** Requests sent to the killed, paused or isolated node itself. */
  readonly attemptsToFailedNode: Counts<AttemptOutcome>;
  /** Latency of acknowledged operations, client failover included. */
  readonly latencyMs?: LatencyMs;
}

export interface CheckReport {
  readonly ops: Counts<OpOutcome>;
  readonly faults: number;
  readonly adds: {
    readonly acknowledged: number;
    /** key/element of acknowledged adds missing from the final read. */
    readonly lost: readonly string[];
    /** key/element present in the final read that no client ever tried to add. */
    readonly unexpected: readonly string[];
    /** key/element stored more than once within one value. */
    readonly duplicated: readonly string[];
  };
  readonly puts: {
    readonly keys: number;
    /** Keys with an acknowledged blind write whose value no longer reads back. */
    readonly lost: readonly string[];
    /** key=value pairs read back that no client wrote. */
    readonly unexpected: readonly string[];
  };
  /** Keys whose final R=N read failed: nothing can be said about them, so the run fails. */
  readonly unreadable: readonly string[];
  readonly convergence: { readonly keys: number; readonly diverged: readonly string[] };
  readonly phases: readonly PhaseReport[];
  readonly valid: boolean;
}

const zero = <K extends string>(keys: readonly K[]): Counts<K> => Object.fromEntries(keys.map((k) => [k, 0])) as Counts<K>;
const OP_OUTCOMES: readonly OpOutcome[] = ['ok', 'fail', 'timeout'];
const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ['ok', 'error-answer', 'unreachable', 'timeout'];

/** Faults active at `atMs` (begun, not yet healed). */
export function activeFaults(faults: readonly FaultRecord[], atMs: number): FaultRecord[] {
  return faults.filter((f) => f.startMs <= atMs && atMs < f.endMs);
}

export function phaseOf(active: readonly FaultRecord[]): string {
  return active.length === 0 ? 'none' : [...new Set(active.map((f) => f.kind))].sort().join('+');
}

/**
 * Whether a request to `node` during [startMs, endMs] went to a node that could not answer at
 * some point of it (a split leaves every node up): a request sent just before a pause hangs too.
 */
export function isFailedNode(faults: readonly FaultRecord[], node: string, startMs: number, endMs: number): boolean {
  return faults.some((f) => f.kind !== 'split' && f.nodes.includes(node) && f.startMs <= endMs && startMs < f.endMs);
}

/** The elements of a set value; a value that is not a JSON array of strings is reported as unexpected. */
function elementsOf(value: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((e) => typeof e === 'string')) return parsed as string[];
  } catch {
    // not a set value
  }
  return undefined;
}

export function check(history: readonly HistoryEntry[], final: FinalState): CheckReport {
  const ops = history.filter((e): e is OpRecord => e.type === 'op');
  const faults = history.filter((e): e is FaultRecord => e.type === 'fault');
  const count = zero(OP_OUTCOMES);
  for (const op of ops) count[op.outcome]++;

  const unreadable = new Set<string>();
  // --- set adds ---
  const attempted = new Map<string, Set<string>>();
  const acknowledged = new Map<string, Set<string>>();
  for (const op of ops.filter((o) => o.kind === 'add')) {
    const add = (m: Map<string, Set<string>>) => (m.get(op.key) ?? m.set(op.key, new Set()).get(op.key)!).add(op.value);
    add(attempted);
    if (op.outcome === 'ok') add(acknowledged);
  }
  const lost: string[] = [];
  const unexpected: string[] = [];
  const duplicated: string[] = [];
  for (const [key, tried] of attempted) {
    const values = final.reads.get(key);
    if (values === undefined) {
      unreadable.add(key);
      continue;
    }
    const present = new Set<string>();
    for (const value of values) {
      const elements = elementsOf(value);
      if (elements === undefined) {
        unexpected.push(`${key}/${value}`);
        continue;
      }
      const seen = new Set<string>();
      for (const e of elements) {
        if (seen.has(e)) duplicated.push(`${key}/${e}`);
        seen.add(e);
        present.add(e);
      }
    }
    for (const e of acknowledged.get(key) ?? []) if (!present.has(e)) lost.push(`${key}/${e}`);
    for (const e of present) if (!tried.has(e)) unexpected.push(`${key}/${e}`);
  }

  // --- blind puts ---
  const written = new Map<string, { values: Set<string>; acked: boolean }>();
  for (const op of ops.filter((o) => o.kind === 'put')) {
    const entry = written.get(op.key) ?? written.set(op.key, { values: new Set(), acked: false }).get(op.key)!;
    entry.values.add(op.value);
    if (op.outcome === 'ok') entry.acked = true;
  }
  const putsLost: string[] = [];
  const putsUnexpected: string[] = [];
  for (const [key, { values, acked }] of written) {
    const read = final.reads.get(key);
    if (read === undefined) {
      unreadable.add(key);
      continue;
    }
    if (acked && !read.some((v) => values.has(v))) putsLost.push(key);
    for (const v of read) if (!values.has(v)) putsUnexpected.push(`${key}=${v}`);
  }

  // --- convergence ---
  const diverged: string[] = [];
  for (const [key, replicas] of final.replicas) {
    const first = replicas[0]?.state;
    if (first === undefined || replicas.some((r) => r.state !== first)) {
      diverged.push(`${key} (${replicas.map((r) => `${r.node}: ${r.state === undefined ? 'unreadable' : r.state === '' ? 'nothing' : `${r.state.length} B`}`).join(', ')})`);
    }
  }

  const report: Omit<CheckReport, 'valid'> = {
    ops: count,
    faults: faults.length,
    adds: { acknowledged: [...acknowledged.values()].reduce((n, s) => n + s.size, 0), lost, unexpected, duplicated },
    puts: { keys: written.size, lost: putsLost, unexpected: putsUnexpected },
    unreadable: [...unreadable],
    convergence: { keys: final.replicas.size, diverged },
    phases: phaseReports(ops, faults),
  };
  const valid = lost.length + unexpected.length + duplicated.length + putsLost.length + putsUnexpected.length + unreadable.size + diverged.length === 0;
  return { ...report, valid };
}

function phaseReports(ops: readonly OpRecord[], faults: readonly FaultRecord[]): PhaseReport[] {
  interface Acc {
    ops: Counts<OpOutcome>;
    live: Counts<AttemptOutcome>;
    failed: Counts<AttemptOutcome>;
    latenciesUs: number[];
  }
  const phases = new Map<string, Acc>();
  for (const op of ops) {
    const phase = phaseOf(activeFaults(faults, op.invokeMs));
    let acc = phases.get(phase);
    if (acc === undefined) phases.set(phase, (acc = { ops: zero(OP_OUTCOMES), live: zero(ATTEMPT_OUTCOMES), failed: zero(ATTEMPT_OUTCOMES), latenciesUs: [] }));
    acc.ops[op.outcome]++;
    if (op.outcome === 'ok') acc.latenciesUs.push(Math.max(1, Math.round((op.completeMs - op.invokeMs) * 1000)));
    for (const a of op.attempts) (isFailedNode(faults, a.node, a.startMs, a.endMs) ? acc.failed : acc.live)[a.outcome]++;
  }
  const order = (p: string) => (p === 'none' ? '' : p);
  return [...phases.entries()]
    .sort(([a], [b]) => order(a).localeCompare(order(b)))
    .map(([phase, acc]) => ({
      phase,
      ops: acc.ops,
      attemptsToLiveNodes: acc.live,
      attemptsToFailedNode: acc.failed,
      ...(acc.latenciesUs.length > 0 ? { latencyMs: percentiles(acc.latenciesUs) } : {}),
    }));
}

function percentiles(valuesUs: readonly number[]): LatencyMs {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  for (const v of valuesUs) h.recordValue(v);
  const ms = (us: number) => Math.round(us / 100) / 10;
  const result = { p50: ms(h.getValueAtPercentile(50)), p95: ms(h.getValueAtPercentile(95)), p99: ms(h.getValueAtPercentile(99)), max: ms(h.maxValue) };
  h.destroy();
  return result;
}
