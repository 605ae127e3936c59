// Profile suite: where a dynakv node's CPU goes under load. Runs a cluster whose nodes are all
// under `node --cpu-prof`, loads it, runs a workload, stops the nodes with SIGTERM (which writes
// the profiles) and digests only the samples of the run phase: top self-time functions and the
// share of each area (dynakv folder, npm package, node core, GC). Profiles stay under
// bench/results/profiles/ for Chrome DevTools or speedscope.
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { digestProfiles, profileFilesIn, profileProcessOf, type ProfileDigest } from '../profile-analysis.ts';
import { fmtNumber, type Table } from '../report.ts';
import { DynakvCluster } from '../systems/dynakv-cluster.ts';
import type { WorkloadName } from '../workloads.ts';
import { dynakvRootOf, loadPhase, runPhase, startGenerator, type BenchContext, type RunRecord } from './common.ts';

const TOP_FUNCTIONS = 25;
/** Trim each end of the run window: clients ramp up and down there, and exit times are approximate. */
const WINDOW_TRIM_MS = 300;

export interface ProfileRecord {
  readonly workload: WorkloadName;
  readonly nodes: number;
  readonly dir: string;
  readonly run: RunRecord;
  readonly digest: ProfileDigest;
}

export async function profileSuite(ctx: BenchContext, workloads: readonly WorkloadName[], stamp: string): Promise<ProfileRecord[]> {
  const out: ProfileRecord[] = [];
  const nodes = ctx.options.nodes;
  for (const workload of workloads) {
    const dir = join(ctx.resultsDir, 'profiles', `${stamp}-${workload}`);
    mkdirSync(dir, { recursive: true });
    ctx.log(`\n== profile: dynakv ${nodes} nodes under --cpu-prof, workload ${workload}`);
    const cluster = await DynakvCluster.start({ nodes, logDir: ctx.logDir, cpuProfDir: dir, ...dynakvRootOf(ctx) });
    let run: RunRecord;
    try {
      const generator = await startGenerator(ctx);
      try {
        await loadPhase(ctx, generator, cluster);
        run = await runPhase(ctx, generator, cluster, workload, nodes);
      } finally {
        await generator.close();
      }
    } finally {
      await cluster.stop();
    }
    const files = profileFilesIn(dir);
    if (files.length === 0) throw new Error(`no .cpuprofile written in ${dir}; did the nodes exit cleanly on SIGTERM?`);
    const digest = digestProfiles(files, TOP_FUNCTIONS, {
      fromMs: run.startedAtMs + WINDOW_TRIM_MS,
      toMs: run.endedAtMs - WINDOW_TRIM_MS,
      endEpochMsOf: (file) => {
        const pid = profileProcessOf(basename(file))?.pid;
        return pid === undefined ? undefined : cluster.exitedAtMs.get(pid);
      },
    });
    ctx.log(`  profile: ${files.length} profiles, run window ${(digest.wallMs / 1000).toFixed(1)} node-seconds, busy ${((100 * digest.busyMs) / digest.wallMs).toFixed(0)}%; written to ${dir}`);
    out.push({ workload, nodes, dir, run, digest });
  }
  return out;
}

export function profileTables(records: readonly ProfileRecord[]): Table[] {
  return records.flatMap((r) => {
    const d = r.digest;
    const busy = (100 * d.busyMs) / Math.max(1, d.wallMs);
    const header = `Profile: dynakv ${r.nodes} nodes, workload ${r.workload} at ${fmtNumber(r.run.summary.opsPerSec)} ops/s; all nodes, run phase only; busy ${busy.toFixed(0)}% of ${(d.wallMs / 1000).toFixed(1)} node-seconds`;
    // The run window in seconds (wallMs is summed over the nodes) and the operations in it.
    const windowS = d.wallMs / 1000 / Math.max(1, r.nodes);
    const ops = Math.max(1, r.run.summary.opsPerSec * windowS);
    return [
      {
        title: `${header}: CPU budget per operation by stage (main threads of all nodes)`,
        headers: ['stage', '% of busy', 'busy ms per op'],
        rows: [...d.stages.map((s) => [s.stage, fmtNumber(s.busyPct), (s.busyMs / ops).toFixed(3)]), ['all stages', '100', (d.busyMs / ops).toFixed(3)]],
        notes: [
          'A sample is charged to the first stage found walking from its own frame to the root (bench/profile-analysis.ts STAGES), so a socket write or a hash counts for the code that called it.',
          'Busy ms are main-thread samples that were not idle: on a machine with fewer cores than processes they include time the thread was runnable but waiting for a core. Worker threads (LMDB commits, GC helpers) are not in it.',
        ],
      },
      {
        title: `${header}: time by area (self: in the area's own code; inclusive: the area anywhere on the stack)`,
        headers: ['area', 'self ms', 'self % of busy', 'inclusive % of busy'],
        rows: d.areas.slice(0, 18).map((a) => [a.area, fmtNumber(a.selfMs), fmtNumber(a.busyPct), fmtNumber(d.inclusiveAreas.find((i) => i.area === a.area)?.busyPct)]),
        notes: [
          `inclusive, dynakv folders: ${d.inclusiveAreas
            .filter((a) => a.area.startsWith('dynakv:'))
            .slice(0, 12)
            .map((a) => `${a.area.replace('dynakv: ', '')} ${a.busyPct.toFixed(1)}%`)
            .join(', ')}`,
        ],
      },
      {
        title: `${header}: top ${d.topFunctions.length} functions by self time`,
        headers: ['function', 'where', 'self ms', '% of busy'],
        rows: d.topFunctions.map((f) => [f.name, f.where || f.area, fmtNumber(f.selfMs), fmtNumber(f.busyPct)]),
        notes: [`profiles: ${r.dir}`],
      },
      {
        title: `${header}: dynakv functions by inclusive time (synchronous part)`,
        headers: ['function', 'file', 'inclusive ms', '% of busy'],
        rows: d.inclusiveFunctions.slice(0, 15).map((f) => [f.name, f.where, fmtNumber(f.totalMs), fmtNumber(f.busyPct)]),
        notes: [],
      },
    ];
  });
}
