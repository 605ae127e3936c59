// The orchestrator's side of the load generator: forks the worker processes, splits clients and
// key ranges among them, starts every phase at one common instant and merges what they answer
// (histograms added, errors summed, timelines summed, CPU summed). Knows nothing of clusters.
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { isRunning, stopChild, track } from '../../src/launch/children.ts';
import { nodeFlagsFromEnv } from '../systems/processes.ts';
import { OP_KINDS, type OpKind, type WorkloadName } from '../workloads.ts';
import type { ClientTls, DynakvRouting, DynakvWrites, FromWorker, Job, PhaseResult, SystemKind, ToWorker, WindowTally } from './protocol.ts';

/** The system a phase drives, and for HTTPS endpoints the CA and client certificate (a Cluster is one). */
export interface Target {
  readonly system: SystemKind;
  readonly tls?: ClientTls;
}

const WORKER = resolve(import.meta.dirname, 'worker.ts');
/** Lead time so every worker has the job before the common start instant. */
const START_LEAD_MS = 300;
/** A phase answers within its duration plus request timeouts; past this the worker is stuck. */
const RESULT_SLACK_MS = 60_000;
/** A worker asked to exit closes its connections within this. */
const CLOSE_GRACE_MS = 5_000;

export interface MergedWindow {
  readonly histograms: ReadonlyMap<OpKind, hdr.Histogram>;
  readonly errors: ReadonlyMap<string, number>;
  /** Latencies of failed requests, if any failed. */
  readonly failed?: hdr.Histogram;
}

export interface MergedPhase {
  readonly all: MergedWindow;
  readonly beforeFault?: MergedWindow;
  readonly duringFault?: MergedWindow;
  /** Successful completions per ms since the phase start (run phases). */
  readonly timeline?: Uint32Array;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** Generator CPU (all processes) during the phase. */
  readonly generatorCpuMs: number;
  readonly siblingReads: number;
}

export interface GeneratorOptions {
  readonly processes: number;
  readonly clients: number;
  readonly valueBytes: number;
  readonly requestTimeoutMs: number;
  readonly seed: number;
  readonly dynakvWrites: DynakvWrites;
  readonly dynakvRouting: DynakvRouting;
}

export class LoadGenerator {
  private constructor(
    private readonly workers: ChildProcess[],
    private readonly options: GeneratorOptions,
  ) {}

  static async start(options: GeneratorOptions): Promise<LoadGenerator> {
    if (options.processes < 1 || options.processes > options.clients) throw new RangeError(`need 1..clients generator processes, got ${options.processes}`);
    const workers: ChildProcess[] = [];
    const generator = new LoadGenerator(workers, options);
    try {
      for (let i = 0; i < options.processes; i++) {
        // BENCH_GENERATOR_CPU_PROF=DIR profiles the generator itself (to check it is not the bottleneck).
        const profDir = process.env['BENCH_GENERATOR_CPU_PROF'];
        // BENCH_GENERATOR_ARGS: extra node flags for the generator, e.g. "--trace-gc" (printed on the bench's output).
        const execArgv = ['--import', 'tsx', ...(profDir === undefined || profDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]), ...nodeFlagsFromEnv('BENCH_GENERATOR_ARGS')];
        const child = track(fork(WORKER, [], { execArgv, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
        workers.push(child);
        await nextMessage(child, 30_000, 'ready');
      }
    } catch (err) {
      await generator.close();
      throw err;
    }
    return generator;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid).filter((p): p is number => p !== undefined);
  }

  /** YCSB load phase: insert keys prefix0..prefix(keys-1) once each, split among the workers. */
  async load(target: Target, endpoints: readonly string[], keys: number, keyPrefix = 'user', timeLimitMs = 10 * 60_000): Promise<MergedPhase> {
    const deadlineMs = Date.now() + timeLimitMs;
    const jobs = this.workers.map((_, i): Job => {
      const from = Math.floor((keys * i) / this.workers.length);
      const to = Math.floor((keys * (i + 1)) / this.workers.length);
      return { phase: 'load', ...this.common(target, endpoints, i), from, to, keyPrefix, deadlineMs };
    });
    return this.runJobs(jobs, timeLimitMs + RESULT_SLACK_MS);
  }

  /** YCSB run phase: the workload for durationMs from a common instant, optionally with a fault mark. */
  async run(
    target: Target,
    endpoints: readonly string[],
    params: {
      readonly workload: WorkloadName;
      readonly keys: number;
      readonly durationMs: number;
      readonly keySeed: number;
      /** Operations started in [start + faultAfterMs, + faultWindowMs) are also tallied as "during fault". */
      readonly faultAfterMs?: number;
      readonly faultWindowMs?: number;
      /** Told the common start instant (epoch ms) before the phase begins, to schedule a fault. */
      readonly onScheduled?: (startAtMs: number) => void;
    },
  ): Promise<MergedPhase> {
    const startAtMs = Date.now() + START_LEAD_MS;
    params.onScheduled?.(startAtMs);
    const jobs = this.workers.map((_, i): Job => ({
      phase: 'run',
      ...this.common(target, endpoints, i),
      workload: params.workload,
      keys: params.keys,
      keyPrefix: 'user',
      startAtMs,
      durationMs: params.durationMs,
      keySeed: params.keySeed,
      ...(params.faultAfterMs === undefined ? {} : { faultAtMs: startAtMs + params.faultAfterMs, faultWindowMs: params.faultWindowMs ?? params.durationMs }),
    }));
    return this.runJobs(jobs, START_LEAD_MS + params.durationMs + RESULT_SLACK_MS);
  }

  async close(): Promise<void> {
    // Ask first (a clean exit closes the pools and lets --cpu-prof write), then insist.
    await Promise.all(
      this.workers.map(async (w) => {
        if (!isRunning(w)) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        if (w.connected) w.send({ kind: 'exit' } satisfies ToWorker);
        await Promise.race([exited, new Promise((r) => setTimeout(r, CLOSE_GRACE_MS).unref())]);
        await stopChild(w, CLOSE_GRACE_MS);
      }),
    );
  }

  private common({ system, tls }: Target, endpoints: readonly string[], worker: number) {
    const { processes, clients } = this.options;
    // Spread clients evenly; offset endpoints per worker so that every node gets its share.
    const mine = Math.floor((clients * (worker + 1)) / processes) - Math.floor((clients * worker) / processes);
    const offset = Math.floor((clients * worker) / processes) % endpoints.length;
    const rotated = [...endpoints.slice(offset), ...endpoints.slice(0, offset)];
    return {
      system,
      endpoints: rotated,
      ...(tls !== undefined ? { tls } : {}),
      clients: mine,
      valueBytes: this.options.valueBytes,
      requestTimeoutMs: this.options.requestTimeoutMs,
      seed: this.options.seed + worker,
      dynakvWrites: this.options.dynakvWrites,
      dynakvRouting: this.options.dynakvRouting,
    };
  }

  private async runJobs(jobs: Job[], timeoutMs: number): Promise<MergedPhase> {
    const results = await Promise.all(
      this.workers.map(async (w, i) => {
        const answer = nextMessage(w, timeoutMs, 'result');
        w.send({ kind: 'job', job: jobs[i]! } satisfies ToWorker);
        const message = await answer;
        if (message.kind !== 'result') throw new Error('assertion: expected a result');
        return message.result;
      }),
    );
    return merge(results);
  }
}

function nextMessage(child: ChildProcess, timeoutMs: number, expected: FromWorker['kind']): Promise<FromWorker> {
  return new Promise((done, fail) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: FromWorker) => {
      cleanup();
      if (message.kind === 'failed') fail(new Error(`load generator failed: ${message.message}`));
      else if (message.kind !== expected) fail(new Error(`load generator answered ${message.kind}, expected ${expected}`));
      else done(message);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      fail(new Error(`load generator exited (${signal ?? code})`));
    };
    const timer = setTimeout(() => {
      cleanup();
      fail(new Error(`load generator gave no ${expected} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function mergeWindows(windows: readonly WindowTally[]): MergedWindow {
  const histograms = new Map<OpKind, hdr.Histogram>();
  const errors = new Map<string, number>();
  let failed: hdr.Histogram | undefined;
  for (const w of windows) {
    for (const op of OP_KINDS) {
      const tally = w.ops[op];
      if (tally === undefined) continue;
      const h = hdr.decodeFromCompressedBase64(tally.histogram);
      const mine = histograms.get(op);
      if (mine === undefined) histograms.set(op, h);
      else mine.add(h);
    }
    for (const [kind, count] of Object.entries(w.errors)) errors.set(kind, (errors.get(kind) ?? 0) + count);
    if (w.failedHistogram !== undefined) {
      const h = hdr.decodeFromCompressedBase64(w.failedHistogram);
      if (failed === undefined) failed = h;
      else failed.add(h);
    }
  }
  return { histograms, errors, ...(failed === undefined ? {} : { failed }) };
}

function merge(results: readonly PhaseResult[]): MergedPhase {
  const first = results[0];
  if (first === undefined) throw new Error('assertion: no results to merge');
  let timeline: Uint32Array | undefined;
  for (const r of results) {
    if (r.timeline === undefined) continue;
    const bytes = Buffer.from(r.timeline, 'base64');
    const part = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    if (timeline === undefined) timeline = part;
    else for (let i = 0; i < Math.min(timeline.length, part.length); i++) timeline[i]! += part[i]!;
  }
  const windows = (pick: (r: PhaseResult) => WindowTally | undefined) => {
    const ws = results.map(pick).filter((w): w is WindowTally => w !== undefined);
    return ws.length === 0 ? undefined : mergeWindows(ws);
  };
  const beforeFault = windows((r) => r.beforeFault);
  const duringFault = windows((r) => r.duringFault);
  return {
    all: mergeWindows(results.map((r) => r.all)),
    ...(beforeFault === undefined ? {} : { beforeFault }),
    ...(duringFault === undefined ? {} : { duringFault }),
    ...(timeline === undefined ? {} : { timeline }),
    startedAtMs: Math.min(...results.map((r) => r.startedAtMs)),
    endedAtMs: Math.max(...results.map((r) => r.endedAtMs)),
    generatorCpuMs: results.reduce((sum, r) => sum + r.cpuUserMs + r.cpuSystemMs, 0),
    siblingReads: results.reduce((sum, r) => sum + r.siblingReads, 0),
  };
}
