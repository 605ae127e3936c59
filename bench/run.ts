// `npm run bench`: the benchmark's entry point. Parses options, runs the chosen suites (side by
// side with etcd, availability under a fault, scaling, recovery, profile), prints the tables and
// writes everything to bench/results/ (JSON, plus the tables as Markdown for BENCHMARKS.md).
// Every process it starts is stopped on any exit, Ctrl-C included (systems/processes.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toolArgs } from '../src/cli/args.ts';
import { BENCH_TOOL, checkOptions } from './options.ts';
import { renderMarkdown, renderTerminal, type Table } from './report.ts';
import { machineDescription, type BenchContext } from './suites/common.ts';
import { findWrk, WRK_MISSING } from './loadgen/wrk.ts';
import { compareTables, faultTables, systemSession, wrkTables, type SessionRecord } from './suites/compare.ts';
import { profileSuite, profileTables, type ProfileRecord } from './suites/profile.ts';
import { recoverySuite, recoveryTables, type RecoveryRecord } from './suites/recovery.ts';
import { scalingSuite, scalingTables, type ScalingRecord } from './suites/scaling.ts';
import { DEFAULT_DYNAKV_ROOT } from './systems/dynakv-cluster.ts';
import { findEtcd } from './systems/etcd-cluster.ts';
import { cleanupNow, installCleanupHandlers } from './systems/processes.ts';
import { ScrambledZipfian, type WorkloadName } from './workloads.ts';

const RESULTS_DIR = resolve(import.meta.dirname, 'results');
/** Workloads profiled when --workload is not given: the write path and the read path. */
const PROFILE_WORKLOADS: readonly WorkloadName[] = ['W', 'C'];

async function main(): Promise<void> {
  // --help prints the usage and exits 0; a bad command line is one line on stderr and exit 2.
  const options = toolArgs(BENCH_TOOL, process.argv.slice(2), checkOptions);
  const wrk = options.generator === 'wrk' ? findWrk() : undefined;
  if (options.generator === 'wrk' && wrk === undefined) {
    console.error(`bench: --generator wrk: ${WRK_MISSING}`);
    process.exitCode = 1;
    return;
  }
  installCleanupHandlers();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const logDir = join(RESULTS_DIR, 'logs', stamp);
  mkdirSync(logDir, { recursive: true });
  const etcd = findEtcd();
  const ctx: BenchContext = { options, logDir, resultsDir: RESULTS_DIR, etcd, ...(wrk === undefined ? {} : { wrk }), log: (line) => console.log(line) };
  const machine = machineDescription();
  const started = Date.now();
  const o = options;
  const zipf = new ScrambledZipfian(o.keys, o.seed);

  console.log(
    `dynakv benchmark (seed ${o.seed}${o.quick ? ', quick' : ''}): ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${machine.node}\n` +
      `suites ${o.suites.join(',')}; workloads ${o.workloads.join(',')}; ${o.clients} clients in ${o.generatorProcesses} generator process(es); ` +
      `${o.keys.toLocaleString('en-US')} keys (zipfian ${0.99}: top 1% of keys get ${(100 * zipf.topShare(Math.ceil(o.keys / 100))).toFixed(0)}% of requests); ${o.valueBytes} B values; ${o.durationS} s per run\n` +
      `dynakv: ${o.nodes} nodes from ${o.dynakvRoot ?? DEFAULT_DYNAKV_ROOT}, N=3 R=W=2, updates ${o.dynakvWrites === 'context' ? 'carry the context' : 'blind'}, routing ${o.dynakvRouting === 'ring' ? 'to the key\'s replicas' : 'to any node'}; ` +
      `etcd: ${etcd === undefined ? 'NOT INSTALLED (apt-get install etcd-server) — etcd runs are skipped' : `${etcd.version}, 3 members`}\n` +
      (o.generator === 'wrk'
        ? `run phases: wrk (${wrk}), one -t1 process per member, ${o.clients} connections in all, uniform keys; dynakv nodes --insecure, blind writes to any node (loads and the fault run: the Node generator)\n`
        : '') +
      `logs: ${logDir}`,
  );

  const systems = o.systems.filter((s) => {
    if (s === 'etcd' && etcd === undefined) {
      console.log('\nnote: the etcd binary is not on PATH; skipping the etcd side (install Debian\'s etcd-server to compare).');
      return false;
    }
    return true;
  });

  const withCompare = o.suites.includes('compare');
  const withFault = o.suites.includes('fault');
  const sessions: SessionRecord[] = [];
  if (withCompare || withFault) for (const system of systems) sessions.push(await systemSession(ctx, system, withCompare, withFault));

  let scaling: ScalingRecord[] = [];
  if (o.suites.includes('scaling') && systems.includes('dynakv')) scaling = await scalingSuite(ctx, sessions.flatMap((s) => s.runs), sessions.flatMap((s) => s.wrkRuns));

  let recovery: RecoveryRecord | undefined;
  if (o.suites.includes('recovery') && systems.includes('dynakv')) recovery = await recoverySuite(ctx);

  let profiles: ProfileRecord[] = [];
  const explicitWorkloads = process.argv.slice(2).some((a) => a === '--workload' || a.startsWith('--workload='));
  if (o.suites.includes('profile') && systems.includes('dynakv')) profiles = await profileSuite(ctx, explicitWorkloads ? o.workloads : PROFILE_WORKLOADS, stamp);

  const tables: Table[] = [...compareTables(sessions), ...wrkTables(sessions), ...faultTables(sessions), ...scalingTables(scaling), ...recoveryTables(recovery), ...profileTables(profiles)];
  console.log(`\n======== results (${((Date.now() - started) / 1000).toFixed(0)} s) ========`);
  for (const t of tables) console.log(renderTerminal(t));

  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const out = o.out ?? join(RESULTS_DIR, `bench-${stamp}.json`);
  const json = JSON.stringify({ command, date: new Date().toISOString(), machine, etcd, options: o, sessions, scaling, recovery, profiles }, null, 2);
  writeFileSync(out, json);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  const markdown = [`Command: \`${command}\` (seed ${o.seed}), ${new Date().toISOString()}`, `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`, '', ...tables.map(renderMarkdown)].join('\n');
  writeFileSync(join(RESULTS_DIR, 'latest.md'), markdown);
  console.log(`\nresults: ${out} (tables as Markdown: ${join(RESULTS_DIR, 'latest.md')})`);
}

main().then(
  () => {
    cleanupNow();
  },
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    cleanupNow();
    process.exitCode = 1;
  },
);
