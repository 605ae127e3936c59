// The messages between the benchmark orchestrator and its load-generator child processes (over
// the fork() IPC channel, as JSON). Owns only shapes and limits; no behaviour.
import type { OpKind, WorkloadName } from '../workloads.ts';

export type SystemKind = 'dynakv' | 'etcd';

/** For HTTPS endpoints: the CA that signed them and the client certificate to present (PEM). */
export interface ClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Error kinds starting with this were retried on another node and are not failed operations. */
export const FAILOVER_PREFIX = 'failover after ';

/** How dynakv updates carry causality (a blind PUT makes a sibling; see BENCHMARKS.md). */
export type DynakvWrites = 'context' | 'blind';

/**
 * Where a dynakv client sends each request: `ring` to a node of the key's preference list
 * (client-driven coordination, Dynamo 6.4: no forwarding hop), `any` to its current endpoint.
 */
export type DynakvRouting = 'ring' | 'any';

/** Resolution of the success timeline used to find the longest gap with no successful request. */
export const TIMELINE_BUCKET_MS = 1;
/** No phase may run longer than this; bounds the timeline buffer (and every request loop). */
export const PHASE_DURATION_MS_MAX = 15 * 60 * 1000;

export interface PhaseCommon {
  readonly system: SystemKind;
  /** Base URLs (http(s)://127.0.0.1:PORT); client i starts at endpoint i mod length. */
  readonly endpoints: readonly string[];
  /** With https endpoints: the CA and client certificate (a secure dynakv cluster). */
  readonly tls?: ClientTls;
  /** Concurrent closed-loop clients in this process, each with at most one request in flight. */
  readonly clients: number;
  readonly valueBytes: number;
  readonly requestTimeoutMs: number;
  readonly seed: number;
  readonly dynakvWrites: DynakvWrites;
  readonly dynakvRouting: DynakvRouting;
}

/** Insert keys [from, to) once each (YCSB's load phase). */
export interface LoadJob extends PhaseCommon {
  readonly phase: 'load';
  readonly from: number;
  readonly to: number;
  /** Key names are prefix + index; the run phase reads what the load phase wrote. */
  readonly keyPrefix: string;
  /** Stop early past this wall-clock deadline (epoch ms); bounds the loop. */
  readonly deadlineMs: number;
}

/** Run a workload for a fixed time from a common start instant. */
export interface RunJob extends PhaseCommon {
  readonly phase: 'run';
  readonly workload: WorkloadName;
  readonly keys: number;
  readonly keyPrefix: string;
  /** Epoch ms at which every generator process starts issuing. */
  readonly startAtMs: number;
  readonly durationMs: number;
  /** Epoch ms of an injected fault: operations started in [faultAtMs, faultAtMs + faultWindowMs) are also tallied apart. */
  readonly faultAtMs?: number;
  readonly faultWindowMs?: number;
  /** The zipfian permutation seed; equal in every process so they agree on the hot keys. */
  readonly keySeed: number;
}

export type Job = LoadJob | RunJob;

export interface OpTally {
  readonly count: number;
  /** hdr-histogram of latencies in microseconds, encodeIntoCompressedBase64. */
  readonly histogram: string;
}

export interface WindowTally {
  readonly ops: Partial<Record<OpKind, OpTally>>;
  /** Error kind (e.g. "http 503: write quorum not reached", "ECONNREFUSED") -> count. */
  readonly errors: Record<string, number>;
  /** Latencies of the failed requests (same encoding), so a fault's cost can include them. */
  readonly failedHistogram?: string;
}

export interface PhaseResult {
  readonly phase: Job['phase'];
  /** All operations of the phase. */
  readonly all: WindowTally;
  /** Operations started in the fault window (run jobs with a fault only). */
  readonly duringFault?: WindowTally;
  /** Operations started before faultAtMs (run jobs with a fault only). */
  readonly beforeFault?: WindowTally;
  /** Successful completions per TIMELINE_BUCKET_MS since startAtMs: base64 of a Uint32Array. */
  readonly timeline?: string;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** CPU this generator process used during the phase. */
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** dynakv reads answered 300 (siblings) — counted as successful reads. */
  readonly siblingReads: number;
}

export type ToWorker = { readonly kind: 'job'; readonly job: Job } | { readonly kind: 'exit' };
export type FromWorker =
  | { readonly kind: 'ready' }
  | { readonly kind: 'result'; readonly result: PhaseResult }
  | { readonly kind: 'failed'; readonly message: string };
