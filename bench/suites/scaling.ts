// Scaling suite: dynakv throughput and memory against the number of nodes (3, 5, 7 by default),
// one fresh cluster per size, the same workload each time. On one 2-core machine more nodes
// mean more processes sharing the same cores, so this shows per-node overhead, not scale-out.
// With --generator wrk the run phases are wrk's (common.ts wrkRunPhase).
import { fmtNumber, type Table } from '../report.ts';
import { avg } from './compare.ts';
import { loadPhase, OTHER_LOAD_WARN_PCT, runPhase, startCluster, startGenerator, wrkRunPhase, type BenchContext, type RunRecord, type ServerUse, type WrkRunRecord } from './common.ts';

export interface ScalingRecord {
  readonly nodes: number;
  /** The run phase: the Node generator's (run) or, with --generator wrk, wrk's (wrk). */
  readonly run?: RunRecord;
  readonly wrk?: WrkRunRecord;
  /** True when the row was taken from the side-by-side run instead of a run of its own. */
  readonly reused: boolean;
}

export async function scalingSuite(ctx: BenchContext, reusable: readonly RunRecord[], reusableWrk: readonly WrkRunRecord[] = []): Promise<ScalingRecord[]> {
  const { scalingNodes, scalingWorkload } = ctx.options;
  const withWrk = ctx.options.generator === 'wrk';
  const out: ScalingRecord[] = [];
  for (const nodes of scalingNodes) {
    const matches = (r: { system: string; nodes: number; workload: string }) => r.system === 'dynakv' && r.nodes === nodes && r.workload === scalingWorkload;
    const same = withWrk ? undefined : reusable.find(matches);
    const sameWrk = withWrk ? reusableWrk.find(matches) : undefined;
    if (same !== undefined || sameWrk !== undefined) {
      ctx.log(`\n== scaling: ${nodes} nodes: reusing the side-by-side run of workload ${scalingWorkload}`);
      out.push({ nodes, ...(same === undefined ? {} : { run: same }), ...(sameWrk === undefined ? {} : { wrk: sameWrk }), reused: true });
      continue;
    }
    ctx.log(`\n== scaling: dynakv with ${nodes} nodes`);
    const cluster = await startCluster(ctx, 'dynakv', nodes);
    try {
      const generator = await startGenerator(ctx);
      try {
        await loadPhase(ctx, generator, cluster);
        if (withWrk) out.push({ nodes, wrk: await wrkRunPhase(ctx, generator, cluster, scalingWorkload, nodes), reused: false });
        else out.push({ nodes, run: await runPhase(ctx, generator, cluster, scalingWorkload, nodes), reused: false });
      } finally {
        await generator.close();
      }
    } finally {
      await cluster.stop();
    }
  }
  return out;
}

/** RSS of each member after the run, MiB. */
function rssOf(server: ServerUse): number[] {
  return Object.values(server.memory).map((m) => m.rssMiB);
}

const starNote = (servers: readonly ServerUse[]) =>
  servers.some((s) => s.otherPct >= OTHER_LOAD_WARN_PCT) ? [`(*) other processes used at least ${OTHER_LOAD_WARN_PCT}% CPU during that run`] : [];

export function scalingTables(records: readonly ScalingRecord[]): Table[] {
  if (records.length === 0) return [];
  const wrkRecords = records.filter((r): r is ScalingRecord & { wrk: WrkRunRecord } => r.wrk !== undefined);
  const tables: Table[] = [];
  if (wrkRecords.length > 0) {
    tables.push({
      title: `Scaling (wrk): dynakv, workload ${wrkRecords[0]!.wrk.workload}, throughput and RSS per node against cluster size`,
      headers: ['nodes', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU ms/op', 'server CPU %', 'RSS/node MiB', 'max RSS MiB'],
      rows: wrkRecords.map(({ nodes, wrk }) => [
        `${nodes}${wrk.server.otherPct >= OTHER_LOAD_WARN_PCT ? ' (*)' : ''}`,
        fmtNumber(wrk.result.opsPerSec),
        fmtNumber(wrk.result.p50Ms),
        fmtNumber(wrk.result.p99Ms),
        fmtNumber(wrk.result.p999Ms),
        String(wrk.result.errorCount),
        fmtNumber(wrk.cpuMsPerOp),
        fmtNumber(wrk.server.cpuTotalPct),
        fmtNumber(avg(rssOf(wrk.server))),
        fmtNumber(Math.max(...rssOf(wrk.server))),
      ]),
      notes: [
        'One wrk -t1 process per node, the connections split over them; percentiles are the max over the wrk processes; uniform keys, blind writes, nodes --insecure.',
        ...wrkRecords.filter((r) => r.reused).map((r) => `${r.nodes} nodes: the side-by-side run, reused`),
        ...starNote(wrkRecords.map((r) => r.wrk.server)),
      ],
    });
  }
  const nodeRecords = records.filter((r): r is ScalingRecord & { run: RunRecord } => r.run !== undefined);
  if (nodeRecords.length === 0) return tables;
  const workload = nodeRecords[0]!.run.workload;
  const rows = nodeRecords.map(({ nodes, run }) => {
    const rss = Object.values(run.server.memory).map((m) => m.rssMiB);
    const s = run.summary;
    return [
      `${nodes}${run.server.otherPct >= OTHER_LOAD_WARN_PCT ? ' (*)' : ''}`,
      fmtNumber(s.opsPerSec),
      fmtNumber(s.ops.read?.opsPerSec),
      fmtNumber(s.ops.update?.opsPerSec),
      fmtNumber(s.ops.read?.p99Ms),
      fmtNumber(s.ops.update?.p99Ms),
      String(s.errorCount),
      fmtNumber(run.server.cpuTotalPct),
      fmtNumber(avg(rss)),
      fmtNumber(Math.max(...rss)),
    ];
  });
  return [
    ...tables,
    {
      title: `Scaling: dynakv, workload ${workload}, throughput and RSS per node against cluster size`,
      headers: ['nodes', 'ops/s', 'read ops/s', 'update ops/s', 'read p99 ms', 'update p99 ms', 'errors', 'server CPU %', 'RSS/node MiB', 'max RSS MiB'],
      rows,
      notes: [
        ...nodeRecords.filter((r) => r.reused).map((r) => `${r.nodes} nodes: the side-by-side run, reused`),
        ...starNote(nodeRecords.map((r) => r.run.server)),
      ],
    },
  ];
}
