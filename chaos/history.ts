// The record of one chaos run, one JSON object per line (history.jsonl): every client operation
// with its invocation and completion time (ms since the run started), its outcome and the
// attempts the cluster client made, and every fault with the time it began and the time it was
// healed. The checker reads only this plus the final state, so a run can be re-checked offline.
import type { AttemptOutcome } from '../src/client/cluster-client.ts';

/** add: read, merge siblings, add an element, write back with the context. put: a blind write. */
export type OpKind = 'add' | 'put';

/**
 * ok: acknowledged. fail: an error answer, or refused everywhere (for a write, maybe applied
 * anyway: a node may commit and then fail). timeout: no node answered in time (maybe applied).
 */
export type OpOutcome = 'ok' | 'fail' | 'timeout';

export interface AttemptRecord {
  readonly node: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: AttemptOutcome;
  readonly status?: number;
}

export interface OpRecord {
  readonly type: 'op';
  readonly id: number;
  readonly client: number;
  readonly kind: OpKind;
  readonly key: string;
  /** The element added (add) or the value written (put). */
  readonly value: string;
  readonly invokeMs: number;
  readonly completeMs: number;
  readonly outcome: OpOutcome;
  readonly error?: string;
  readonly attempts: readonly AttemptRecord[];
}

/**
 * kill: SIGKILL then restart. wipe: SIGKILL, its data directory deleted (a lost disk), then a
 * restart under the same id and certificates. pause: SIGSTOP then SIGCONT. isolate: every packet
 * to and from the node dropped. split: `nodes` cut off from the rest.
 */
export type FaultKind = 'kill' | 'wipe' | 'pause' | 'isolate' | 'split';

export interface FaultRecord {
  readonly type: 'fault';
  readonly id: number;
  readonly kind: FaultKind;
  /** The failed node (kill, pause, isolate) or the minority side (split). */
  readonly nodes: readonly string[];
  readonly startMs: number;
  /** When the heal completed (a killed node answers /health again). */
  readonly endMs: number;
}

export type HistoryEntry = OpRecord | FaultRecord;

export function describeFault(f: { readonly kind: FaultKind; readonly nodes: readonly string[] }): string {
  return f.kind === 'split' ? `split [${f.nodes.join(',')}] | rest` : `${f.kind} ${f.nodes.join(',')}`;
}

export function parseHistory(text: string): HistoryEntry[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as HistoryEntry);
}
