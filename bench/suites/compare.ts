// The side-by-side suites for one system on one cluster: YCSB load, then each run workload
// (compare), then a write-heavy run during which one member is SIGKILLed (fault: for etcd the
// leader). With --generator wrk the compare runs are driven by wrk (common.ts wrkRunPhase).
// Also renders both as tables with the dynakv/etcd ratio of every figure.
import type { LoadGenerator } from '../loadgen/driver.ts';
import type { SystemKind } from '../loadgen/protocol.ts';
import {
  errorText,
  fmtNumber,
  fmtRatio,
  LATENCY_HEADERS,
  latencyCells,
  longestGap,
  ratioCells,
  summarizePhase,
  summarizeWindow,
  throughputSeries,
  type PhaseSummary,
  type Table,
  type WindowSummary,
} from '../report.ts';
import type { Cluster } from '../systems/cluster.ts';
import type { EtcdCluster } from '../systems/etcd-cluster.ts';
import { OP_KINDS, WORKLOADS, type WorkloadName } from '../workloads.ts';
import {
  ETCD_MEMBERS,
  loadPhase,
  OTHER_LOAD_WARN_PCT,
  runPhase,
  startCluster,
  startGenerator,
  mainThreadShare,
  withServerUse,
  wrkRunPhase,
  type BenchContext,
  type LoadRecord,
  type RunRecord,
  type ServerUse,
  type WrkRunRecord,
  waitForQuiet,
} from './common.ts';

/** The fault run is write-only: the issue asks for availability during a write-heavy run. */
const FAULT_WORKLOAD: WorkloadName = 'W';
/** Throughput series resolution printed around the fault. */
const SERIES_BUCKET_MS = 500;
/** Clients are still ramping up at the very start; gaps there are not the system's. */
const RAMP_UP_MS = 500;

export interface FaultRecord {
  readonly system: SystemKind;
  readonly label: string;
  readonly workload: WorkloadName;
  readonly killed: string;
  readonly killedRole: string;
  /** When the kill was sent, seconds after the run started. */
  readonly killAtS: number;
  readonly durationS: number;
  readonly faultWindowS: number;
  readonly all: PhaseSummary;
  readonly before: WindowSummary;
  readonly during: WindowSummary;
  /** Longest stretch with no successful request before the kill (the healthy baseline)... */
  readonly longestGapBeforeMs: number;
  /** ...and from the kill to the end of the run, with where it started (s after the kill). */
  readonly longestGapAfterKillMs: number;
  readonly gapStartAfterKillS: number;
  /** etcd: time from the kill until the survivors agreed on a new leader. */
  readonly newLeaderAfterMs?: number;
  /** Successful ops/s per SERIES_BUCKET_MS over the run. */
  readonly opsPerSecSeries: readonly number[];
  readonly seriesBucketMs: number;
  readonly server: ServerUse;
}

export interface SessionRecord {
  readonly system: SystemKind;
  readonly label: string;
  readonly load: LoadRecord;
  readonly runs: readonly RunRecord[];
  /** The compare runs when --generator wrk drove them (then `runs` is empty). */
  readonly wrkRuns: readonly WrkRunRecord[];
  readonly fault?: FaultRecord;
}

export async function systemSession(ctx: BenchContext, system: SystemKind, withCompare: boolean, withFault: boolean): Promise<SessionRecord> {
  const nodes = system === 'etcd' ? ETCD_MEMBERS : ctx.options.nodes;
  ctx.log(`\n== ${system}: starting ${system === 'etcd' ? `${nodes} members` : `${nodes} nodes`}`);
  const cluster = await startCluster(ctx, system, nodes);
  try {
    const generator = await startGenerator(ctx);
    try {
      const load = await loadPhase(ctx, generator, cluster);
      const runs: RunRecord[] = [];
      const wrkRuns: WrkRunRecord[] = [];
      if (withCompare) {
        for (const w of ctx.options.workloads) {
          if (ctx.options.generator === 'wrk') wrkRuns.push(await wrkRunPhase(ctx, generator, cluster, w, nodes));
          else runs.push(await runPhase(ctx, generator, cluster, w, nodes));
        }
      }
      const fault = withFault ? await faultRun(ctx, generator, cluster) : undefined;
      return { system, label: cluster.label, load, runs, wrkRuns, ...(fault === undefined ? {} : { fault }) };
    } finally {
      await generator.close();
    }
  } finally {
    await cluster.stop();
  }
}

async function faultRun(ctx: BenchContext, generator: LoadGenerator, cluster: Cluster): Promise<FaultRecord> {
  const { faultDurationS, faultAtS, faultWindowS, keys, seed } = ctx.options;
  let victim: string;
  let role: string;
  if (cluster.system === 'etcd') {
    const leader = await (cluster as EtcdCluster).leader();
    if (leader === undefined) throw new Error('etcd has no leader before the fault run');
    victim = leader;
    role = 'leader';
  } else {
    // Any node: every node coordinates, and clients are spread evenly over all of them.
    victim = cluster.members[0]!.id;
    role = 'node (coordinator for its clients, replica for 3/5 of the ring)';
  }
  await waitForQuiet(ctx, cluster, generator);
  ctx.log(`  fault: workload ${FAULT_WORKLOAD} for ${faultDurationS} s, SIGKILL ${victim} (${role.split(' ')[0]}) at ${faultAtS.toFixed(1)} s...`);

  let timer: NodeJS.Timeout | undefined;
  let killSentAtMs = 0;
  let startAtMs = 0;
  let newLeaderAfterMs: number | undefined;
  let killDone: Promise<void> = Promise.resolve();
  const { merged, server } = await withServerUse(cluster, () =>
    generator.run(cluster, cluster.endpoints, {
      workload: FAULT_WORKLOAD,
      keys,
      durationMs: faultDurationS * 1000,
      keySeed: seed,
      faultAfterMs: faultAtS * 1000,
      faultWindowMs: faultWindowS * 1000,
      onScheduled: (at) => {
        startAtMs = at;
        timer = setTimeout(() => {
          killSentAtMs = Date.now();
          killDone = cluster.kill(victim).then(async () => {
            if (cluster.system !== 'etcd') return;
            // Poll for the new leader while the run goes on; bounded by the run's own length.
            const deadline = startAtMs + faultDurationS * 1000;
            while (Date.now() < deadline) {
              try {
                if ((await (cluster as EtcdCluster).leader()) !== undefined) {
                  newLeaderAfterMs = Date.now() - killSentAtMs;
                  return;
                }
              } catch {
                // a member is still refusing or electing
              }
              await new Promise((r) => setTimeout(r, 20));
            }
          });
        }, at + faultAtS * 1000 - Date.now());
      },
    }),
  );
  clearTimeout(timer);
  await killDone;
  const killAtMs = killSentAtMs - startAtMs;
  const timeline = merged.timeline ?? new Uint32Array(0);
  const before = longestGap(timeline, RAMP_UP_MS, killAtMs);
  const after = longestGap(timeline, killAtMs, faultDurationS * 1000);
  const all = summarizePhase(merged);
  const record: FaultRecord = {
    system: cluster.system,
    label: cluster.label,
    workload: FAULT_WORKLOAD,
    killed: victim,
    killedRole: role,
    killAtS: killAtMs / 1000,
    durationS: faultDurationS,
    faultWindowS,
    all,
    before: summarizeWindow(merged.beforeFault!, killAtMs / 1000),
    during: summarizeWindow(merged.duringFault!, faultWindowS),
    longestGapBeforeMs: before.gapMs,
    longestGapAfterKillMs: after.gapMs,
    gapStartAfterKillS: (after.startMs - killAtMs) / 1000,
    ...(newLeaderAfterMs === undefined ? {} : { newLeaderAfterMs }),
    opsPerSecSeries: throughputSeries(timeline, SERIES_BUCKET_MS),
    seriesBucketMs: SERIES_BUCKET_MS,
    server,
  };
  ctx.log(
    `  fault: ${record.during.errorCount} failed requests in the ${fmtNumber(faultWindowS)} s after the kill, longest gap ${record.longestGapAfterKillMs} ms (baseline ${record.longestGapBeforeMs} ms)` +
      (newLeaderAfterMs === undefined ? '' : `, new leader after ${newLeaderAfterMs} ms`),
  );
  return record;
}

// ---- rendering ----

export function compareTables(sessions: readonly SessionRecord[]): Table[] {
  const tables: Table[] = [];
  if (sessions.length === 0) return tables;
  const dynakv = sessions.find((s) => s.system === 'dynakv');
  const etcd = sessions.find((s) => s.system === 'etcd');
  const workloads = [...new Set(sessions.flatMap((s) => s.runs.map((r) => r.workload)))];

  const loadRows: string[][] = sessions.map((s) => [s.label, ...latencyCells(s.load.summary.ops.update), errorText(s.load.summary.errors), fmtNumber(s.load.server.cpuTotalPct)]);
  if (dynakv !== undefined && etcd !== undefined) loadRows.push(['dynakv/etcd', ...ratioCells(dynakv.load.summary.ops.update, etcd.load.summary.ops.update), '', '']);
  tables.push({ title: `Load phase (inserts of ${dynakv?.load.keys ?? etcd?.load.keys} keys)`, headers: ['system', ...LATENCY_HEADERS, 'errors', 'server CPU %'], rows: loadRows, notes: [] });

  for (const w of workloads) {
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const op of OP_KINDS) {
      const d = dynakv?.runs.find((r) => r.workload === w)?.summary.ops[op];
      const e = etcd?.runs.find((r) => r.workload === w)?.summary.ops[op];
      if (d === undefined && e === undefined) continue;
      for (const s of sessions) {
        const run = s.runs.find((r) => r.workload === w);
        if (run?.summary.ops[op] !== undefined) rows.push([`${s.label}${run.server.otherPct >= OTHER_LOAD_WARN_PCT ? ' (*)' : ''}`, op, ...latencyCells(run.summary.ops[op])]);
      }
      if (d !== undefined && e !== undefined) rows.push(['dynakv/etcd', op, ...ratioCells(d, e)]);
    }
    for (const s of sessions) {
      const run = s.runs.find((r) => r.workload === w);
      if (run === undefined) continue;
      const sib = run.summary.siblingReads > 0 ? `, ${run.summary.siblingReads} reads answered siblings (300)` : '';
      const cpuPerOpMs = (run.server.cpuTotalPct * 10) / Math.max(1, run.summary.opsPerSec);
      notes.push(
        `${s.label}: ${fmtNumber(run.summary.opsPerSec)} ops/s in all, errors: ${errorText(run.summary.errors)}${sib}; ` +
          `server CPU ${fmtNumber(cpuPerOpMs)} ms per op${mainThreadShare(run.server)}, ${fmtNumber(run.server.cpuTotalPct)}% in all ` +
          `(${Object.entries(run.server.cpuPct).map(([id, pct]) => `${id} ${Math.round(pct)}`).join(', ')}), generator CPU ${fmtNumber(run.summary.generatorCpuPct)}%, other processes ${fmtNumber(run.server.otherPct)}%` +
          countersText(run.server.nodeCounters),
      );
    }
    if (sessions.some((s) => (s.runs.find((r) => r.workload === w)?.server.otherPct ?? 0) >= OTHER_LOAD_WARN_PCT)) {
      notes.push(`(*) other processes on this shared machine used at least ${OTHER_LOAD_WARN_PCT}% CPU during that run: its throughput is understated`);
    }
    const dt = dynakv?.runs.find((r) => r.workload === w)?.summary.opsPerSec;
    const et = etcd?.runs.find((r) => r.workload === w)?.summary.opsPerSec;
    if (dt !== undefined && et !== undefined) notes.push(`total throughput dynakv/etcd: ${fmtRatio(dt, et)}`);
    tables.push({ title: `Workload ${w} (${WORKLOADS[w].description})`, headers: ['system', 'op', ...LATENCY_HEADERS], rows, notes });
  }

  const memRows: string[][] = sessions.map((s) => {
    const last = s.runs.at(-1)?.server.memory ?? s.wrkRuns.at(-1)?.server.memory ?? s.load.server.memory;
    const rss = Object.values(last).map((m) => m.rssMiB);
    const peak = Object.values(last).map((m) => m.peakRssMiB);
    return [s.label, fmtNumber(avg(rss)), fmtNumber(Math.max(...rss)), fmtNumber(Math.max(...peak)), Object.entries(last).map(([id, m]) => `${id} ${Math.round(m.rssMiB)}`).join(', ')];
  });
  if (memRows.length > 0) tables.push({ title: 'Memory after the runs (RSS per member, MiB)', headers: ['system', 'avg', 'max', 'peak (HWM)', 'per member'], rows: memRows, notes: [] });
  return tables;
}

/** The compare runs driven by wrk (--generator wrk): one row per workload and system, and the ratios. */
export function wrkTables(sessions: readonly SessionRecord[]): Table[] {
  const runs = sessions.flatMap((s) => s.wrkRuns);
  if (runs.length === 0) return [];
  const workloads = [...new Set(runs.map((r) => r.workload))];
  const rows: string[][] = [];
  const cells = (r: WrkRunRecord) => [
    fmtNumber(r.result.opsPerSec),
    fmtNumber(r.result.p50Ms),
    fmtNumber(r.result.p99Ms),
    fmtNumber(r.result.p999Ms),
    String(r.result.errorCount),
    fmtNumber(r.cpuMsPerOp),
    fmtNumber(r.server.cpuTotalPct),
    fmtNumber((100 * r.result.generatorCpuMs) / (r.result.durationS * 1000)),
  ];
  for (const w of workloads) {
    const d = runs.find((r) => r.workload === w && r.system === 'dynakv');
    const e = runs.find((r) => r.workload === w && r.system === 'etcd');
    for (const r of runs.filter((x) => x.workload === w)) rows.push([w, `${r.label}${r.server.otherPct >= OTHER_LOAD_WARN_PCT ? ' (*)' : ''}`, ...cells(r)]);
    if (d !== undefined && e !== undefined) {
      rows.push([
        w,
        'dynakv/etcd',
        fmtRatio(d.result.opsPerSec, e.result.opsPerSec),
        fmtRatio(d.result.p50Ms, e.result.p50Ms),
        fmtRatio(d.result.p99Ms, e.result.p99Ms),
        fmtRatio(d.result.p999Ms, e.result.p999Ms),
        '',
        fmtRatio(d.cpuMsPerOp, e.cpuMsPerOp),
        '',
        '',
      ]);
    }
  }
  const first = runs[0]!;
  const errorNotes = runs
    .filter((r) => r.result.errorCount > 0)
    .map((r) => {
      const kinds = Object.entries(r.result.errors).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k === 'status' ? 'status >= 400' : k}`);
      return `${r.label}, ${r.workload}: errors ${kinds.join(', ')}`;
    });
  return [
    {
      title: `Side by side driven by wrk: ${first.durationS} s per workload, ${first.connections.reduce((a, b) => a + b, 0)} connections, one wrk -t1 process per member`,
      headers: ['workload', 'system', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU ms/op', 'server CPU %', 'wrk CPU %'],
      rows,
      notes: [
        'ops/s: answers with a status below 400 (a dynakv 300, siblings, counts), summed over the wrk processes; p50/p99/p99.9: the max over the wrk processes ' +
          '(each process\'s percentile of its own requests, reads and updates together); errors: wrk\'s socket errors, timeouts and statuses >= 400; ' +
          'CPU ms/op: CPU of the whole cluster over the phase per successful request.',
        'Keys are chosen uniformly among the loaded keys (not zipfian, unlike the Node generator). dynakv: blind PUT/GET /kv/<key>, each wrk process on one node ' +
          (runs.some((r) => r.system === 'dynakv' && r.routing === 'ring')
            ? '(ring routing: each wrk process draws only keys its node replicates, so no write is forwarded), '
            : '(any-node routing; a write is forwarded when that node does not replicate the key), ') +
          'nodes --insecure (plain HTTP; wrk has no client certificate). ' +
          'etcd: POST /v3/kv/put and /v3/kv/range through its JSON gateway (linearizable reads). The Lua scripts are in the run\'s log directory.',
        ...runs.map((r) => `${r.label}, ${r.workload}: connections per member ${r.connections.join('/')}; server CPU per member ${Object.entries(r.server.cpuPct).map(([id, pct]) => `${id} ${Math.round(pct)}`).join(', ')}${mainThreadShare(r.server)}; other processes ${fmtNumber(r.server.otherPct)}%`),
        ...errorNotes,
        ...(runs.some((r) => r.server.otherPct >= OTHER_LOAD_WARN_PCT) ? [`(*) other processes on this shared machine used at least ${OTHER_LOAD_WARN_PCT}% CPU during that run: its throughput is understated`] : []),
      ],
    },
  ];
}

export function faultTables(sessions: readonly SessionRecord[]): Table[] {
  const faults = sessions.map((s) => s.fault).filter((f): f is FaultRecord => f !== undefined);
  if (faults.length === 0) return [];
  const first = faults[0]!;
  const rows = faults.map((f) => [
    f.label,
    `${f.killed} (${f.killedRole.split(' ')[0]})`,
    fmtNumber(f.before.opsPerSec),
    fmtNumber(f.during.opsPerSec),
    String(f.all.errorCount),
    String(f.during.errorCount),
    String(f.longestGapBeforeMs),
    String(f.longestGapAfterKillMs),
    fmtNumber(f.before.ops.update?.p99Ms),
    fmtNumber(f.during.ops.update?.p99Ms),
    fmtNumber(f.during.withFailures?.p99Ms),
    fmtNumber(f.during.ops.update?.maxMs),
    f.newLeaderAfterMs === undefined ? '-' : String(f.newLeaderAfterMs),
  ]);
  const d = faults.find((f) => f.system === 'dynakv');
  const e = faults.find((f) => f.system === 'etcd');
  if (d !== undefined && e !== undefined) {
    rows.push([
      'dynakv/etcd',
      '',
      fmtRatio(d.before.opsPerSec, e.before.opsPerSec),
      fmtRatio(d.during.opsPerSec, e.during.opsPerSec),
      fmtRatio(d.all.errorCount, e.all.errorCount),
      fmtRatio(d.during.errorCount, e.during.errorCount),
      fmtRatio(d.longestGapBeforeMs, e.longestGapBeforeMs),
      fmtRatio(d.longestGapAfterKillMs, e.longestGapAfterKillMs),
      fmtRatio(d.before.ops.update?.p99Ms, e.before.ops.update?.p99Ms),
      fmtRatio(d.during.ops.update?.p99Ms, e.during.ops.update?.p99Ms),
      fmtRatio(d.during.withFailures?.p99Ms, e.during.withFailures?.p99Ms),
      fmtRatio(d.during.ops.update?.maxMs, e.during.ops.update?.maxMs),
      '',
    ]);
  }
  const notes = faults.flatMap((f) => [
    `${f.label}: errors after the kill: ${errorText(f.during.errors, 4)}; longest gap started ${f.gapStartAfterKillS.toFixed(2)} s after the kill${countersText(f.server.nodeCounters)}`,
    `${f.label}: ops/s per ${f.seriesBucketMs} ms: ${f.opsPerSecSeries.join(' ')}`,
  ]);
  return [
    {
      title: `Availability: workload ${first.workload} for ${first.durationS} s, SIGKILL at ${first.killAtS.toFixed(1)} s; "during" = the ${fmtNumber(first.faultWindowS)} s after the kill`,
      headers: ['system', 'killed', 'ops/s before', 'ops/s during', 'failed (whole run)', 'failed (sent in window)', 'gap before ms', 'gap after kill ms', 'p99 before', 'p99 during', 'p99 during incl. failed', 'max during', 'new leader ms'],
      rows,
      notes,
    },
  ];
}

/** Non-zero /local/stats changes, e.g. "; node counters: keys +12, readRepairs +340". */
function countersText(counters: Record<string, number> | undefined): string {
  const moved = Object.entries(counters ?? {}).filter(([, v]) => v !== 0);
  return moved.length === 0 ? '' : `; node counters (sum of /local/stats changes): ${moved.map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`).join(', ')}`;
}

export function avg(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
