// What every suite shares: the run context (options, where logs go, the etcd binary), starting
// a system's cluster by kind, and a measured run phase (generator figures plus the servers' CPU
// and memory over the same interval; or, with --generator wrk, the same phase driven by wrk).
// Owns no reporting and no suite logic.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { LoadGenerator } from '../loadgen/driver.ts';
import type { SystemKind } from '../loadgen/protocol.ts';
import { runWrk, splitConnections, wholeSeconds, WRK_KEY_PREFIX, wrkScript, type WrkPhaseResult } from '../loadgen/wrk.ts';
import type { BenchOptions } from '../options.ts';
import { summarizePhase, type PhaseSummary } from '../report.ts';
import { cpuSnapshot, fetchFor, mainThreadCpuSnapshot, memorySnapshot, type Cluster } from '../systems/cluster.ts';
import { RingRouter } from '../../src/client/ring-router.ts';
import { DynakvCluster } from '../systems/dynakv-cluster.ts';
import { EtcdCluster } from '../systems/etcd-cluster.ts';
import { cpuMsOf, machineBusyMs, type MemoryReading } from '../systems/processes.ts';
import type { WorkloadName } from '../workloads.ts';

/** Other processes using this much CPU (% of one core) during a phase make its figures suspect. */
export const OTHER_LOAD_WARN_PCT = 15;

/** etcd's usual production size, and the one the issue's reference figures were taken with. */
export const ETCD_MEMBERS = 3;

export interface BenchContext {
  readonly options: BenchOptions;
  readonly logDir: string;
  readonly resultsDir: string;
  readonly etcd: { readonly path: string; readonly version: string } | undefined;
  /** wrk's path; set (and checked to exist) when options.generator is 'wrk'. */
  readonly wrk?: string;
  log(line: string): void;
}

export function machineDescription(): { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly node: string } {
  const list = cpus();
  return { cpus: list.length, cpuModel: list[0]?.model ?? '?', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

export function dynakvRootOf(ctx: BenchContext): { root?: string } {
  return ctx.options.dynakvRoot === undefined ? {} : { root: ctx.options.dynakvRoot };
}

export async function startCluster(ctx: BenchContext, system: SystemKind, nodes: number, cpuProfDir?: string): Promise<Cluster> {
  if (system === 'etcd') {
    if (ctx.etcd === undefined) throw new Error('assertion: etcd is not installed');
    return EtcdCluster.start(ctx.etcd.path, { members: ETCD_MEMBERS, logDir: ctx.logDir });
  }
  // wrk cannot present a client certificate: with --generator wrk the nodes serve plain HTTP
  // (--insecure, peers unencrypted too), as in side_by_side.sh and like etcd here.
  const insecure = ctx.options.generator === 'wrk' ? { insecure: true } : {};
  return DynakvCluster.start({ nodes, logDir: ctx.logDir, ...(cpuProfDir === undefined ? {} : { cpuProfDir }), ...dynakvRootOf(ctx), ...insecure });
}

export function startGenerator(ctx: BenchContext): Promise<LoadGenerator> {
  const o = ctx.options;
  return LoadGenerator.start({
    processes: o.generatorProcesses,
    clients: o.clients,
    valueBytes: o.valueBytes,
    requestTimeoutMs: o.requestTimeoutMs,
    seed: o.seed,
    dynakvWrites: o.dynakvWrites,
    dynakvRouting: o.dynakvRouting,
  });
}

export interface ServerUse {
  /** CPU per member over the phase, % of one core (the machine has cpus × 100 %). */
  readonly cpuPct: Record<string, number>;
  readonly cpuTotalPct: number;
  /** CPU ms of all members over the phase, and the phase's wall-clock ms. */
  readonly cpuTotalMs?: number;
  /** Of cpuTotalMs, the members' main threads (event loops); the rest ran on their other threads. */
  readonly mainThreadCpuMs?: number;
  readonly wallMs?: number;
  readonly memory: Record<string, MemoryReading>;
  /** Whole machine busy over the phase, % of one core (at most cpus × 100). */
  readonly machineBusyPct: number;
  /**
   * Machine busy minus the servers, the generator and the orchestrator: other work on the
   * machine (e.g. someone's test suite) that competed for the cores. Near 0 for a clean run.
   */
  readonly otherPct: number;
  /**
   * dynakv only: the change, summed over the nodes, of every number /local/stats reports (keys,
   * read repairs, hinted writes, ... whatever the running version exposes).
   */
  readonly nodeCounters?: Record<string, number>;
}

export interface RunRecord {
  readonly system: SystemKind;
  readonly label: string;
  readonly nodes: number;
  readonly workload: WorkloadName;
  /** Epoch ms of the phase's first request and last answer. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly summary: PhaseSummary;
  readonly server: ServerUse;
}

export interface LoadRecord {
  readonly system: SystemKind;
  readonly label: string;
  readonly keys: number;
  readonly summary: PhaseSummary;
  readonly server: ServerUse;
}

/** The numeric fields of every live dynakv node's /local/stats, by node; empty for other systems. */
export async function nodeCounters(cluster: Cluster): Promise<Map<string, Map<string, number>>> {
  const byNode = new Map<string, Map<string, number>>();
  if (cluster.system !== 'dynakv') return byNode;
  const get = fetchFor(cluster);
  await Promise.all(
    cluster.members.map(async (m) => {
      try {
        const res = await get(`${m.url}/local/stats`, { signal: AbortSignal.timeout(2_000) });
        const body = (await res.json()) as Record<string, unknown>;
        const numbers = new Map<string, number>();
        // Top-level numbers and those one object down (e.g. sync.keysPulled), named by their path.
        for (const [k, v] of Object.entries(body)) {
          if (typeof v === 'number') numbers.set(k, v);
          else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
            for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'number') numbers.set(`${k}.${k2}`, v2);
          }
        }
        byNode.set(m.id, numbers);
      } catch {
        // a node that is down (fault runs) has nothing to say
      }
    }),
  );
  return byNode;
}

/** Sum over the nodes seen in both snapshots of each counter's change. */
export function counterDeltas(before: Map<string, Map<string, number>>, after: Map<string, Map<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [node, now] of after) {
    const then = before.get(node);
    if (then === undefined) continue;
    for (const [k, v] of now) out[k] = (out[k] ?? 0) + v - (then.get(k) ?? 0);
  }
  return out;
}

/** Runs `phase` (whose result says how much CPU its load generator used) and measures the cluster's CPU over the same interval and its memory after. */
export async function withServerUse<T extends { readonly generatorCpuMs: number }>(cluster: Cluster, phase: () => Promise<T>): Promise<{ merged: T; server: ServerUse }> {
  const counters0 = await nodeCounters(cluster);
  const before = cpuSnapshot(cluster);
  const mainBefore = mainThreadCpuSnapshot(cluster);
  const machine0 = machineBusyMs();
  const self0 = process.cpuUsage();
  const t0 = Date.now();
  const merged = await phase();
  const wallMs = Math.max(1, Date.now() - t0);
  const after = cpuSnapshot(cluster);
  const mainAfter = mainThreadCpuSnapshot(cluster);
  const machineMs = machineBusyMs() - machine0;
  const self = process.cpuUsage(self0);
  const selfMs = (self.user + self.system) / 1000;
  const cpuPct: Record<string, number> = {};
  let total = 0;
  let totalMs = 0;
  for (const [id, ms] of after) {
    const start = before.get(id);
    if (start === undefined) continue;
    cpuPct[id] = (100 * (ms - start)) / wallMs;
    total += cpuPct[id];
    totalMs += ms - start;
  }
  let mainThreadMs: number | undefined;
  for (const [id, ms] of mainAfter) mainThreadMs = (mainThreadMs ?? 0) + ms - (mainBefore.get(id) ?? ms);
  const counters1 = await nodeCounters(cluster);
  const machineBusyPct = (100 * machineMs) / wallMs;
  const otherPct = machineBusyPct - total - (100 * (merged.generatorCpuMs + selfMs)) / wallMs;
  return { merged, server: { cpuPct, cpuTotalPct: total, cpuTotalMs: totalMs, ...(mainThreadMs !== undefined ? { mainThreadCpuMs: mainThreadMs } : {}), wallMs, memory: memorySnapshot(cluster), machineBusyPct, otherPct: Math.max(0, otherPct), ...(counters1.size === 0 ? {} : { nodeCounters: counterDeltas(counters0, counters1) }) } };
}

/**
 * ", N % on main threads": the share of the cluster's CPU its event loops used. The rest ran on
 * GC helpers, libuv's pool and native threads (LMDB's writer and its fsyncs), which a main-thread
 * --cpu-prof profile never sees. '' when not measured.
 */
export function mainThreadShare(server: ServerUse): string {
  const { mainThreadCpuMs, cpuTotalMs } = server;
  if (mainThreadCpuMs === undefined || cpuTotalMs === undefined || cpuTotalMs <= 0) return '';
  return `, ${Math.round((100 * mainThreadCpuMs) / cpuTotalMs)} % on main threads`;
}

/** CPU of other processes (% of one core) below which the machine counts as quiet. */
const QUIET_OTHER_PCT = 15;
const QUIET_SAMPLE_MS = 1_000;

/** CPU ms used so far by the benchmark's own processes: the cluster, the generator, this one. */
function ownCpuMs(cluster: Cluster, generator: LoadGenerator): number {
  let ms = 0;
  for (const v of cpuSnapshot(cluster).values()) ms += v;
  for (const pid of generator.pids) ms += cpuMsOf(pid) ?? 0;
  const self = process.cpuUsage();
  return ms + (self.user + self.system) / 1000;
}

/**
 * Waits, for at most quietWaitS, until other processes leave the machine nearly idle before a
 * measured phase: the machine is shared, and someone's test suite on 2 cores would halve the
 * figures. What the benchmark's own processes use meanwhile does not count.
 */
export async function waitForQuiet(ctx: BenchContext, cluster: Cluster, generator: LoadGenerator): Promise<void> {
  if (ctx.options.quietWaitS === 0) return;
  const deadline = Date.now() + ctx.options.quietWaitS * 1000;
  let warned = false;
  for (;;) {
    const machine0 = machineBusyMs();
    const own0 = ownCpuMs(cluster, generator);
    await new Promise((r) => setTimeout(r, QUIET_SAMPLE_MS));
    const otherPct = (100 * (machineBusyMs() - machine0 - (ownCpuMs(cluster, generator) - own0))) / QUIET_SAMPLE_MS;
    if (otherPct < QUIET_OTHER_PCT) return;
    if (Date.now() > deadline) {
      ctx.log(`  note: other processes still use ${Math.round(otherPct)}% CPU; measuring anyway`);
      return;
    }
    if (!warned) ctx.log(`  waiting up to ${ctx.options.quietWaitS} s for other processes to stop (${Math.round(otherPct)}% CPU)...`);
    warned = true;
  }
}

export async function loadPhase(ctx: BenchContext, generator: LoadGenerator, cluster: Cluster): Promise<LoadRecord> {
  const { keys } = ctx.options;
  await waitForQuiet(ctx, cluster, generator);
  ctx.log(`  load: ${keys.toLocaleString('en-US')} keys into ${cluster.label}...`);
  const { merged, server } = await withServerUse(cluster, () => generator.load(cluster, cluster.endpoints, keys));
  const summary = summarizePhase(merged);
  if (summary.errorCount > 0) ctx.log(`  load: ${summary.errorCount} failed inserts (${Object.keys(summary.errors).slice(0, 3).join('; ')})`);
  ctx.log(`  load: ${Math.round(summary.opsPerSec).toLocaleString('en-US')} inserts/s`);
  return { system: cluster.system, label: cluster.label, keys, summary, server };
}

/**
 * One measured run phase. When other processes used the machine during it (shared machine),
 * it is run again after a quiet wait, up to options.rerunsMax times, and the cleanest is kept.
 */
export async function runPhase(ctx: BenchContext, generator: LoadGenerator, cluster: Cluster, workload: WorkloadName, nodes: number): Promise<RunRecord> {
  const { durationS, keys, seed, rerunsMax } = ctx.options;
  let best: RunRecord | undefined;
  for (let attempt = 0; attempt <= rerunsMax; attempt++) {
    await waitForQuiet(ctx, cluster, generator);
    ctx.log(`  run: workload ${workload} for ${durationS} s on ${cluster.label}${attempt === 0 ? '' : ` (again, ${attempt}/${rerunsMax})`}...`);
    const { merged, server } = await withServerUse(cluster, () =>
      generator.run(cluster, cluster.endpoints, { workload, keys, durationMs: durationS * 1000, keySeed: seed }),
    );
    const summary = summarizePhase(merged);
    const errors = summary.errorCount === 0 ? '' : `, ${summary.errorCount} errors`;
    const other = server.otherPct >= OTHER_LOAD_WARN_PCT ? ` — WARNING: ${Math.round(server.otherPct)}% CPU used by other processes on the machine` : '';
    ctx.log(`  run: ${Math.round(summary.opsPerSec).toLocaleString('en-US')} ops/s${errors}; server CPU ${Math.round(server.cpuTotalPct)}%, generator CPU ${Math.round(summary.generatorCpuPct)}%${other}`);
    const record: RunRecord = { system: cluster.system, label: cluster.label, nodes, workload, startedAtMs: merged.startedAtMs, endedAtMs: merged.endedAtMs, summary, server };
    if (best === undefined || record.server.otherPct < best.server.otherPct) best = record;
    if (record.server.otherPct < OTHER_LOAD_WARN_PCT) break;
  }
  return best!;
}

/** For each endpoint, the key numbers (of the wrk keys 0..keys-1) its node replicates, from the cluster's ring. */
async function keysByReplica(endpoints: readonly string[], keys: number): Promise<number[][]> {
  const router = await RingRouter.fetch(endpoints);
  const own = endpoints.map(() => [] as number[]);
  for (let k = 0; k < keys; k++) {
    for (const url of router.replicas(`${WRK_KEY_PREFIX}${k}`)) {
      const i = endpoints.indexOf(url);
      if (i >= 0) own[i]!.push(k);
    }
  }
  return own;
}

/** A run phase driven by wrk (--generator wrk): one process per member, see bench/loadgen/wrk.ts. */
export interface WrkRunRecord {
  readonly system: SystemKind;
  readonly label: string;
  readonly nodes: number;
  readonly workload: WorkloadName;
  /** Connections of each wrk process, one process per member (in member order). */
  readonly connections: readonly number[];
  readonly durationS: number;
  /** The generated Lua script (kept in the run's log directory). */
  readonly script: string;
  readonly result: WrkPhaseResult;
  readonly server: ServerUse;
  /** CPU ms of the whole cluster per successful request. */
  readonly cpuMsPerOp: number;
  /** dynakv: each wrk process drew any key (any), or only those its node replicates (ring). */
  readonly routing: 'any' | 'ring';
}

/**
 * The run phase of `workload` driven by wrk instead of the Node generator (which stays idle, its
 * keys loaded). Re-run like runPhase when other processes competed for the CPU.
 */
export async function wrkRunPhase(ctx: BenchContext, generator: LoadGenerator, cluster: Cluster, workload: WorkloadName, nodes: number): Promise<WrkRunRecord> {
  const { durationS, keys, seed, rerunsMax, clients, valueBytes, requestTimeoutMs } = ctx.options;
  if (ctx.wrk === undefined) throw new Error('assertion: wrk was not found before the run');
  const name = `wrk-${cluster.system}-${cluster.members.length}-${workload}`;
  const script = join(ctx.logDir, `${name}.lua`);
  const endpoints = cluster.endpoints;
  const ownKeys = cluster.system === 'dynakv' && ctx.options.wrkRouting === 'ring' ? await keysByReplica(endpoints, keys) : undefined;
  writeFileSync(script, wrkScript({ system: cluster.system, workload, keys, valueBytes, valueSeed: seed, ...(ownKeys !== undefined ? { ownKeys } : {}) }));
  const connections = splitConnections(clients, endpoints.length);
  let best: WrkRunRecord | undefined;
  for (let attempt = 0; attempt <= rerunsMax; attempt++) {
    await waitForQuiet(ctx, cluster, generator);
    ctx.log(
      `  run (wrk): workload ${workload} for ${wholeSeconds(durationS)} s on ${cluster.label}, ${clients} connections over ${endpoints.length} wrk processes` +
        `${attempt === 0 ? '' : ` (again, ${attempt}/${rerunsMax})`}...`,
    );
    const { merged: result, server } = await withServerUse(cluster, () =>
      runWrk({ wrkPath: ctx.wrk!, scriptPath: script, endpoints, connections: clients, durationS, timeoutS: requestTimeoutMs / 1000, seed: seed + attempt, logPrefix: join(ctx.logDir, `${name}-${attempt}`) }),
    );
    const cpuMsPerOp = (server.cpuTotalMs ?? 0) / Math.max(1, result.successful);
    const errors = result.errorCount === 0 ? '' : `, ${result.errorCount} errors`;
    const other = server.otherPct >= OTHER_LOAD_WARN_PCT ? ` — WARNING: ${Math.round(server.otherPct)}% CPU used by other processes on the machine` : '';
    ctx.log(
      `  run (wrk): ${Math.round(result.opsPerSec).toLocaleString('en-US')} ops/s${errors}, p99 ${result.p99Ms.toFixed(1)} ms (max over wrk processes); ` +
        `server CPU ${Math.round(server.cpuTotalPct)}% (${cpuMsPerOp.toFixed(2)} ms/op${mainThreadShare(server)}), wrk CPU ${Math.round((100 * result.generatorCpuMs) / (result.durationS * 1000))}%${other}`,
    );
    const record: WrkRunRecord = { system: cluster.system, label: cluster.label, nodes, workload, connections, durationS: wholeSeconds(durationS), script, result, server, cpuMsPerOp, routing: ownKeys !== undefined ? 'ring' : 'any' };
    if (best === undefined || record.server.otherPct < best.server.otherPct) best = record;
    if (record.server.otherPct < OTHER_LOAD_WARN_PCT) break;
  }
  return best!;
}
