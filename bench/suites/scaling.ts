// Scaling suite: dynakv throughput and memory against the number of nodes (3, 5, 7 by default),
// one fresh cluster per size, the same workload each time. On one 2-core machine more nodes
// mean more processes sharing the same cores, so this shows per-node overhead, not scale-out.
import { fmtNumber, type Table } from '../report.ts';
import { avg } from './compare.ts';
import { loadPhase, OTHER_LOAD_WARN_PCT, runPhase, startCluster, startGenerator, type BenchContext, type RunRecord } from './common.ts';

export interface ScalingRecord {
  readonly nodes: number;
  readonly run: RunRecord;
  /** True when the row was taken from the side-by-side run instead of a run of its own. */
  readonly reused: boolean;
}

export async function scalingSuite(ctx: BenchContext, reusable: readonly RunRecord[]): Promise<ScalingRecord[]> {
  const { scalingNodes, scalingWorkload } = ctx.options;
  const out: ScalingRecord[] = [];
  for (const nodes of scalingNodes) {
    const same = reusable.find((r) => r.system === 'dynakv' && r.nodes === nodes && r.workload === scalingWorkload);
    if (same !== undefined) {
      ctx.log(`\n== scaling: ${nodes} nodes: reusing the side-by-side run of workload ${scalingWorkload}`);
      out.push({ nodes, run: same, reused: true });
      continue;
    }
    ctx.log(`\n== scaling: dynakv with ${nodes} nodes`);
    const cluster = await startCluster(ctx, 'dynakv', nodes);
    try {
      const generator = await startGenerator(ctx);
      try {
        await loadPhase(ctx, generator, cluster);
        out.push({ nodes, run: await runPhase(ctx, generator, cluster, scalingWorkload, nodes), reused: false });
      } finally {
        await generator.close();
      }
    } finally {
      await cluster.stop();
    }
  }
  return out;
}

export function scalingTables(records: readonly ScalingRecord[]): Table[] {
  if (records.length === 0) return [];
  const workload = records[0]!.run.workload;
  const rows = records.map(({ nodes, run }) => {
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
    {
      title: `Scaling: dynakv, workload ${workload}, throughput and RSS per node against cluster size`,
      headers: ['nodes', 'ops/s', 'read ops/s', 'update ops/s', 'read p99 ms', 'update p99 ms', 'errors', 'server CPU %', 'RSS/node MiB', 'max RSS MiB'],
      rows,
      notes: [
        ...records.filter((r) => r.reused).map((r) => `${r.nodes} nodes: the side-by-side run, reused`),
        ...(records.some((r) => r.run.server.otherPct >= OTHER_LOAD_WARN_PCT) ? [`(*) other processes used at least ${OTHER_LOAD_WARN_PCT}% CPU during that run`] : []),
      ],
    },
  ];
}
