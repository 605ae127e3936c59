// Command-line options of `npm run bench`: one typed object with its defaults, the --quick
// variant sized for a 2-core machine (the default quick run takes about three minutes), and the
// usage text. A bad value throws UsageError (src/cli/args.ts, which bench/run.ts prints as one
// line); no behaviour beyond parsing.
import { parseToolArgs, quoted, UsageError, type Tool, type ToolValues } from '../src/cli/args.ts';
import type { DynakvRouting, DynakvWrites } from './loadgen/protocol.ts';
import { isWorkloadName, type WorkloadName } from './workloads.ts';

/** What drives the compare suite's run phases: the Node load generator (bench/loadgen) or wrk. */
export type GeneratorKind = 'node' | 'wrk';

export type SuiteName = 'compare' | 'fault' | 'scaling' | 'recovery' | 'profile';
const SUITES: readonly SuiteName[] = ['compare', 'fault', 'scaling', 'recovery', 'profile'];
const DEFAULT_SUITES: readonly SuiteName[] = ['compare', 'fault', 'scaling'];

export interface BenchOptions {
  readonly quick: boolean;
  /** Workloads of the side-by-side runs, in order. */
  readonly workloads: readonly WorkloadName[];
  /** Seconds per run phase. */
  readonly durationS: number;
  /** Concurrent closed-loop clients (each one keep-alive HTTP connection). */
  readonly clients: number;
  /** Records loaded before the run phases; the zipfian chooser draws from them. */
  readonly keys: number;
  readonly valueBytes: number;
  readonly suites: readonly SuiteName[];
  readonly systems: readonly ('dynakv' | 'etcd')[];
  /** dynakv nodes in the side-by-side runs (its defaults: 5 nodes, N=3, R=W=2). */
  readonly nodes: number;
  readonly scalingNodes: readonly number[];
  /** Workload of the scaling runs. */
  readonly scalingWorkload: WorkloadName;
  /** Seconds of the write-heavy run during which one member is killed. */
  readonly faultDurationS: number;
  /** The kill happens this many seconds into the fault run; the p99 window starts there. */
  readonly faultAtS: number;
  /** Length of the "during the fault" window, seconds. */
  readonly faultWindowS: number;
  /** Keys written while a node is down, in the recovery suite. */
  readonly recoveryKeys: number;
  /** How long the recovery suite waits for the restarted node to catch up, seconds. */
  readonly recoveryWaitS: number;
  /** Load generator processes. */
  readonly generatorProcesses: number;
  /**
   * node: the Node load generator drives every phase. wrk: the compare (and scaling) run phases
   * are driven by one wrk process per member instead (uniform keys, dynakv blind writes to any
   * node, dynakv nodes --insecure); loads and the fault run stay with the Node generator.
   */
  readonly generator: GeneratorKind;
  readonly dynakvWrites: DynakvWrites;
  readonly dynakvRouting: DynakvRouting;
  /** How the wrk phases route dynakv requests: any unless --dynakv-routing ring was given. */
  readonly wrkRouting: DynakvRouting;
  readonly requestTimeoutMs: number;
  /** Longest wait for other work on the machine to stop before each measured phase, seconds. */
  readonly quietWaitS: number;
  /** Times a run phase is repeated when other processes competed for the CPU during it. */
  readonly rerunsMax: number;
  readonly seed: number;
  readonly out: string | undefined;
  /** The dynakv checkout to measure (its sources, through bin/dynakv-dev.js); undefined: this one. */
  readonly dynakvRoot: string | undefined;
}

export const USAGE = `usage: npm run bench -- [options]

  --workload A|B|C|W     workload(s) of the side-by-side runs, comma-separated (default A,B,C,W)
                         A 50/50 read/update, B 95/5, C read only, W write only; zipfian keys
  --duration S           seconds per run phase (default 30; quick 8)
  --clients N            concurrent clients, one keep-alive connection each (default 64)
  --keys N               records loaded before the runs (default 100000; quick 10000)
  --value-size B         value bytes (default 100)
  --quick                short runs sized for a 2-core machine (about 3 minutes in all)
  --suite LIST           compare,fault,scaling,recovery,profile or all (default compare,fault,scaling)
  --systems LIST         dynakv,etcd (default both; etcd is skipped with a note if not installed)
  --nodes N              dynakv nodes in the side-by-side runs (default 5)
  --scaling-nodes LIST   dynakv cluster sizes for the scaling suite (default 3,5,7)
  --scaling-workload X   workload of the scaling runs (default A)
  --fault-duration S     seconds of the write-heavy fault run (default 30; quick 12)
  --recovery-keys N      keys written while a node is down (default 20000; quick 3000)
  --gen-procs N          load generator processes (default 1)
  --generator node|wrk   what drives the compare and scaling run phases (default node). wrk: one
                         wrk -t1 process per member, --clients connections split over them,
                         uniform random keys (not zipfian), dynakv blind PUT/GET to any node with
                         its nodes --insecure (wrk has no client certificate); loads and the
                         fault run stay with the Node generator. Needs wrk (apt-get install -y wrk)
  --dynakv-routing MODE  ring (default): each request goes to a node of its key's preference list
                         (client-driven coordination); any: to the client's current node, which
                         forwards a write it does not replicate. wrk phases route to any node
                         unless ring is given here: then each wrk process draws only keys its
                         node replicates
  --dynakv-writes MODE   context (default): updates carry the context the generator was handed
                         for the key; blind: no context (every update becomes a sibling)
  --request-timeout-ms N per-request timeout (default 5000)
  --quiet-wait S         before each phase, wait up to S s for other work on the machine to stop
                         (default 60; quick 20; 0 to measure at once)
  --reruns N             repeat a run phase up to N times when other processes competed for the
                         CPU during it, keeping the cleanest (default 2; quick 1)
  --dynakv-root DIR      measure the dynakv checkout in DIR instead of this one (e.g. a baseline)
  --seed N               seed of the key and operation choices (default: random, printed)
  --out FILE             JSON results file (default bench/results/bench-<time>.json)
  -h, --help             this text
`;

function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`${flag} must be a positive whole number, got ${quoted(text)}`);
  return v;
}

function positiveNumber(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${flag} must be a positive number, got ${quoted(text)}`);
  return v;
}

function list(text: string | undefined): string[] | undefined {
  return text?.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const BENCH_OPTIONS = {
  quick: { type: 'boolean' },
  workload: { type: 'string' },
  duration: { type: 'string' },
  clients: { type: 'string' },
  keys: { type: 'string' },
  'value-size': { type: 'string' },
  suite: { type: 'string' },
  systems: { type: 'string' },
  nodes: { type: 'string' },
  'scaling-nodes': { type: 'string' },
  'scaling-workload': { type: 'string' },
  'fault-duration': { type: 'string' },
  'recovery-keys': { type: 'string' },
  'gen-procs': { type: 'string' },
  generator: { type: 'string' },
  'dynakv-writes': { type: 'string' },
  'dynakv-routing': { type: 'string' },
  'request-timeout-ms': { type: 'string' },
  'quiet-wait': { type: 'string' },
  reruns: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  'dynakv-root': { type: 'string' },
} as const;

/** `npm run bench`'s command line, for toolArgs (bench/run.ts). */
export const BENCH_TOOL: Tool<typeof BENCH_OPTIONS> = { name: 'bench', invocation: 'npm run bench --', usage: USAGE, options: BENCH_OPTIONS };

/** Parses and checks the command line; 'help' on --help/-h; throws UsageError on a bad one. */
export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  return parseToolArgs(BENCH_TOOL, argv, checkOptions);
}

/** The typed options from the parsed flags; throws UsageError naming a bad value. */
export function checkOptions(values: ToolValues<typeof BENCH_OPTIONS>): BenchOptions {
  const quick = values.quick === true;

  const workloads = (list(values.workload) ?? ['A', 'B', 'C', 'W']).map((w) => w.toUpperCase());
  for (const w of workloads) if (!isWorkloadName(w)) throw new UsageError(`--workload: unknown workload ${quoted(w)} (A, B, C or W)`);
  const scalingWorkload = (values['scaling-workload'] ?? 'A').toUpperCase();
  if (!isWorkloadName(scalingWorkload)) throw new UsageError(`--scaling-workload: unknown workload ${quoted(scalingWorkload)} (A, B, C or W)`);

  let suites = (list(values.suite) ?? [...DEFAULT_SUITES]) as SuiteName[];
  if (suites.includes('all' as SuiteName)) suites = [...SUITES];
  for (const s of suites) if (!SUITES.includes(s)) throw new UsageError(`--suite: unknown suite ${quoted(s)} (${SUITES.join(', ')} or all)`);

  const systems = list(values.systems) ?? ['dynakv', 'etcd'];
  for (const s of systems) if (s !== 'dynakv' && s !== 'etcd') throw new UsageError(`--systems: unknown system ${quoted(s)} (dynakv or etcd)`);

  const scalingNodes = (list(values['scaling-nodes']) ?? ['3', '5', '7']).map((n) => positiveInt(n, '--scaling-nodes', 0));
  for (const n of scalingNodes) if (n < 3) throw new UsageError('--scaling-nodes: each size must be at least 3 (N=3)');

  const dynakvWrites = values['dynakv-writes'] ?? 'context';
  if (dynakvWrites !== 'context' && dynakvWrites !== 'blind') throw new UsageError(`--dynakv-writes must be context or blind, got ${quoted(dynakvWrites)}`);

  const generator = values.generator ?? 'node';
  if (generator !== 'node' && generator !== 'wrk') throw new UsageError(`--generator must be node or wrk, got ${quoted(generator)}`);

  const dynakvRouting = values['dynakv-routing'] ?? 'ring';
  if (dynakvRouting !== 'ring' && dynakvRouting !== 'any') throw new UsageError(`--dynakv-routing must be ring or any, got ${quoted(dynakvRouting)}`);
  // wrk's phases stay any-node unless ring is asked for, as side_by_side.sh and every earlier wrk
  // result; the Node generator's phases (loads, the fault run) keep their own default.
  const wrkRouting = values['dynakv-routing'] === 'ring' ? 'ring' : 'any';

  const durationS = positiveNumber(values.duration, '--duration', quick ? 8 : 30);
  const faultDurationS = positiveNumber(values['fault-duration'], '--fault-duration', quick ? 12 : 30);
  const clients = positiveInt(values.clients, '--clients', 64);
  const keys = positiveInt(values.keys, '--keys', quick ? 10_000 : 100_000);
  if (keys < 2) throw new UsageError('--keys must be at least 2');
  const nodes = positiveInt(values.nodes, '--nodes', 5);
  if (nodes < 3) throw new UsageError('--nodes must be at least 3 (N=3)');

  return {
    quick,
    workloads: workloads as WorkloadName[],
    durationS,
    clients,
    keys,
    valueBytes: positiveInt(values['value-size'], '--value-size', 100),
    suites,
    systems: systems as ('dynakv' | 'etcd')[],
    nodes,
    scalingNodes,
    scalingWorkload,
    faultDurationS,
    faultAtS: faultDurationS / 3,
    faultWindowS: Math.min(5, faultDurationS / 3),
    recoveryKeys: positiveInt(values['recovery-keys'], '--recovery-keys', quick ? 3_000 : 20_000),
    // It stops as soon as the node caught up; this bounds a node that never does.
    recoveryWaitS: Math.max(quick ? 5 : 20, positiveInt(values['recovery-keys'], '--recovery-keys', quick ? 3_000 : 20_000) / 1_000),
    generatorProcesses: positiveInt(values['gen-procs'], '--gen-procs', 1),
    generator,
    dynakvWrites,
    dynakvRouting,
    wrkRouting,
    requestTimeoutMs: positiveInt(values['request-timeout-ms'], '--request-timeout-ms', 5_000),
    quietWaitS: values['quiet-wait'] === '0' ? 0 : positiveNumber(values['quiet-wait'], '--quiet-wait', quick ? 20 : 60),
    rerunsMax: values.reruns === '0' ? 0 : positiveInt(values.reruns, '--reruns', quick ? 1 : 2),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInt(values.seed, '--seed', 1),
    out: values.out,
    dynakvRoot: values['dynakv-root'],
  };
}
