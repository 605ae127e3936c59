// `npm run bench:dynamo`: the DynamoDB API beside /kv in the same run, driven by wrk (issue 16).
// Starts a 5-node --insecure cluster (bench/systems/dynakv-cluster.ts; wrk has no client
// certificate and sends no signature), creates table Bench (hash pk S, range sk N), loads K /kv
// keys user<i> and K items (pk "p<i/10>", sk i%10, a 100-byte S attribute v: 10 items per
// partition) with bounded concurrency, every answer checked to be 200. Then, per round, five
// phases of --duration s each, uniform random keys among the loaded ones: /kv PUT (blind) and
// PutItem (overwrite), /kv GET and GetItem (ConsistentRead: R=2 as /kv GET), and Query (one
// partition, ConsistentRead, all 10 items). Each pair runs /kv first in even rounds and the
// DynamoDB side first in odd ones. A phase is one wrk -t1 process per node, the connections split
// over them, all started together (bench/loadgen/wrk.ts runWrk; the Lua in loadgen/wrk-dynamo.ts
// checks every answer). Prints a Markdown table of the medians over the rounds and the same-run
// ratios DynamoDB/kv, and writes everything to bench/results/dynamo-<time>.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { toolArgs, UsageError, wholeNumber, positiveNumber, type Tool, type ToolValues } from '../src/cli/args.ts';
import { parseWrkOutput, runWrk, findWrk, splitConnections, wholeSeconds, wrkValue, WRK_MISSING, type WrkPhaseResult } from './loadgen/wrk.ts';
import {
  createTableBody, dynamoHeaders, dynamoScript, ITEMS_PER_PARTITION, KV_PREFIX, median, PAIRS, parseWrkChecks, PHASE_KINDS, PHASE_LABELS, phaseFigures, putItemBody,
  roundOrder, type DynamoPhaseFigures, type PhaseKind,
} from './loadgen/wrk-dynamo.ts';
import { fmtNumber, markdownTable, renderTerminal, type Table } from './report.ts';
import { machineDescription, withServerUse, type ServerUse } from './suites/common.ts';
import { DynakvCluster } from './systems/dynakv-cluster.ts';
import { cleanupNow, installCleanupHandlers } from './systems/processes.ts';

const RESULTS_DIR = resolve(import.meta.dirname, 'results');
const NODES = 5;
const VALUE_BYTES = 100;
/** Requests in flight while loading. */
const LOAD_CONCURRENCY = 32;
/** wrk's per-request timeout (as the main benchmark's default). */
const TIMEOUT_S = 5;
/** Pause between phases: writes still in flight (hand-offs, group commits) settle. */
const SETTLE_MS = 2_000;
const LOAD_TIMEOUT_MS = 30_000;

const USAGE = `usage: npm run bench:dynamo -- [options]

The DynamoDB API (PutItem, GetItem, Query) beside /kv (PUT, GET) in the same run, driven by wrk:
a ${NODES}-node --insecure cluster, table Bench (hash pk S, range sk N), K /kv keys and K items
(${ITEMS_PER_PARTITION} per partition, ${VALUE_BYTES}-byte values), then per round five phases: /kv PUT and PutItem,
/kv GET and GetItem (ConsistentRead), Query (one partition, ConsistentRead). Each pair alternates
which side runs first, round by round. Reports medians over the rounds and the ratios
DynamoDB/kv; writes JSON to bench/results/dynamo-<time>.json. Needs wrk (apt-get install -y wrk).

options:
  --duration S      seconds per phase (default 15)
  --rounds R        rounds of the five phases (default 3)
  --keys K          /kv keys and DynamoDB items loaded, a multiple of ${ITEMS_PER_PARTITION} (default 10000)
  --connections C   wrk connections in all, split over one wrk -t1 process per node (default 64)
  -h, --help        this text
`;

const OPTIONS = {
  duration: { type: 'string' },
  rounds: { type: 'string' },
  keys: { type: 'string' },
  connections: { type: 'string' },
} as const;

const TOOL: Tool<typeof OPTIONS> = { name: 'bench:dynamo', invocation: 'npm run bench:dynamo --', usage: USAGE, options: OPTIONS };

interface Options {
  readonly durationS: number;
  readonly rounds: number;
  readonly keys: number;
  readonly connections: number;
}

function checkOptions(values: ToolValues<typeof OPTIONS>): Options {
  const keys = values.keys === undefined ? 10_000 : wholeNumber('--keys', values.keys, ITEMS_PER_PARTITION);
  if (keys % ITEMS_PER_PARTITION !== 0) throw new UsageError(`--keys must be a multiple of ${ITEMS_PER_PARTITION} (whole partitions), got ${keys}`);
  return {
    durationS: values.duration === undefined ? 15 : positiveNumber('--duration', values.duration, 1),
    rounds: values.rounds === undefined ? 3 : wholeNumber('--rounds', values.rounds, 1),
    keys,
    connections: values.connections === undefined ? 64 : wholeNumber('--connections', values.connections, 1),
  };
}

interface PhaseRecord {
  readonly round: number;
  readonly phase: PhaseKind;
  readonly figures: DynamoPhaseFigures;
  readonly wrk: WrkPhaseResult;
  readonly server: ServerUse;
  /** CPU ms of the whole cluster per successful request. */
  readonly cpuMsPerOp: number;
}

async function main(): Promise<void> {
  const o = toolArgs(TOOL, process.argv.slice(2), checkOptions);
  const wrkPath = findWrk();
  if (wrkPath === undefined) {
    console.error(`bench:dynamo: ${WRK_MISSING}`);
    process.exitCode = 1;
    return;
  }
  installCleanupHandlers();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
  const logDir = join(RESULTS_DIR, 'logs', `dynamo-${stamp}`);
  mkdirSync(logDir, { recursive: true });
  const seed = Math.floor(Math.random() * 2 ** 31);
  const value = wrkValue(VALUE_BYTES, seed);
  const machine = machineDescription();
  const loadBefore = loadavg();
  const started = Date.now();
  console.log(
    `dynakv: DynamoDB API beside /kv, ${o.rounds} round(s) of 5 phases x ${wholeSeconds(o.durationS)} s; ${o.keys.toLocaleString('en-US')} keys and items; ` +
      `${o.connections} connections over ${NODES} wrk -t1 processes; seed ${seed}\n` +
      `machine: ${machine.cpus} x ${machine.cpuModel}, node ${machine.node}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\nlogs: ${logDir}`,
  );

  const cluster = await DynakvCluster.start({ nodes: NODES, logDir, insecure: true });
  const phases: PhaseRecord[] = [];
  let loadSeconds: { kv: number; items: number };
  try {
    const endpoints = cluster.endpoints;
    const created = await fetch(`${endpoints[0]}/`, { method: 'POST', headers: dynamoHeaders('CreateTable'), body: createTableBody(), signal: AbortSignal.timeout(LOAD_TIMEOUT_MS) });
    if (created.status !== 200) throw new Error(`CreateTable answered ${created.status}: ${(await created.text()).slice(0, 300)}`);
    await created.arrayBuffer().catch(() => undefined);

    console.log(`load: ${o.keys.toLocaleString('en-US')} /kv keys...`);
    let t0 = Date.now();
    await loadAll(o.keys, endpoints, (url, i) => fetch(`${url}/kv/${KV_PREFIX}${i}`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: value, signal: AbortSignal.timeout(LOAD_TIMEOUT_MS) }));
    const kvS = (Date.now() - t0) / 1000;
    console.log(`load: ${o.keys.toLocaleString('en-US')} items (${o.keys / ITEMS_PER_PARTITION} partitions)...`);
    t0 = Date.now();
    await loadAll(o.keys, endpoints, (url, i) => fetch(`${url}/`, { method: 'POST', headers: dynamoHeaders('PutItem'), body: putItemBody(i, value), signal: AbortSignal.timeout(LOAD_TIMEOUT_MS) }));
    loadSeconds = { kv: kvS, items: (Date.now() - t0) / 1000 };
    console.log(`load: ${fmtNumber(o.keys / loadSeconds.kv)} /kv PUTs/s, ${fmtNumber(o.keys / loadSeconds.items)} PutItems/s (${LOAD_CONCURRENCY} in flight, every answer 200)`);

    const scripts = new Map<PhaseKind, string>();
    for (const phase of PHASE_KINDS) {
      const path = join(logDir, `${phase}.lua`);
      writeFileSync(path, dynamoScript({ phase, keys: o.keys, value }));
      scripts.set(phase, path);
    }
    for (let round = 0; round < o.rounds; round++) {
      for (const [index, phase] of roundOrder(round).entries()) {
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const logPrefix = join(logDir, `r${round + 1}-${phase}`);
        const { merged: wrk, server } = await withServerUse(cluster, () =>
          runWrk({ wrkPath, scriptPath: scripts.get(phase)!, endpoints, connections: o.connections, durationS: o.durationS, timeoutS: TIMEOUT_S, seed: seed + 16 * round + index, logPrefix }),
        );
        const figures = phaseFigures(wrk.processes.map((_, i) => {
          const out = readFileSync(`${logPrefix}.${i}.txt`, 'utf8');
          return { wrk: parseWrkOutput(out), checks: parseWrkChecks(out) };
        }));
        const record: PhaseRecord = { round: round + 1, phase, figures, wrk, server, cpuMsPerOp: (server.cpuTotalMs ?? 0) / Math.max(1, figures.successful) };
        phases.push(record);
        console.log(
          `round ${round + 1}, ${PHASE_LABELS[phase]}: ${fmtNumber(figures.opsPerSec)} ops/s, p50 ${fmtNumber(figures.p50Ms)} p99 ${fmtNumber(figures.p99Ms)} p99.9 ${fmtNumber(figures.p999Ms)} ms, ` +
            `errors ${figures.errors}${figures.errors === 0 ? '' : ` (${figures.non2xx} non-2xx, ${figures.misses} misses, ${figures.socketErrors} socket/timeout)`}, ` +
            `cluster CPU ${fmtNumber(record.cpuMsPerOp)} ms/op, other processes ${fmtNumber(server.otherPct)}%`,
        );
        for (const s of figures.samples.slice(0, 3)) console.log(`  failed answer: ${s}`);
      }
    }
  } finally {
    await cluster.stop();
  }

  const loadAfter = loadavg();
  const tables = report(phases, o);
  for (const t of tables) console.log(renderTerminal(t));
  console.log(`\n${tables.map((t) => [`#### ${t.title}`, '', markdownTable(t.headers, t.rows), '', ...t.notes.map((n) => `- ${n}`)].join('\n')).join('\n\n')}`);
  console.log(`\nload average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  const command = `npm run bench:dynamo -- ${process.argv.slice(2).join(' ')}`.trim();
  const out = join(RESULTS_DIR, `dynamo-${stamp}.json`);
  writeFileSync(out, JSON.stringify({ command, date: new Date().toISOString(), machine, options: o, seed, nodes: NODES, valueBytes: VALUE_BYTES, loadAverage: { before: loadBefore, after: loadAfter }, loadSeconds: loadSeconds!, phases, tables }, null, 2));
  console.log(`results: ${out}`);
}

/** Sends request(url, i) for i in 0..count-1, LOAD_CONCURRENCY at a time, over the endpoints in turn; throws on any answer but 200. */
async function loadAll(count: number, endpoints: readonly string[], request: (url: string, i: number) => Promise<Response>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await request(endpoints[i % endpoints.length]!, i);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`load: request ${i} answered ${res.status}: ${body.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
}

function report(phases: readonly PhaseRecord[], o: Options): Table[] {
  const of = (phase: PhaseKind) => phases.filter((p) => p.phase === phase);
  const med = (phase: PhaseKind, f: (p: PhaseRecord) => number) => median(of(phase).map(f));
  const ratio = (a: PhaseKind, b: PhaseKind, f: (p: PhaseRecord) => number) => {
    const per = of(a).map((x) => {
      const y = of(b).find((p) => p.round === x.round);
      return y === undefined ? Number.NaN : f(x) / f(y);
    });
    return { median: median(per), rounds: per };
  };
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
  const errorsOf = (phase: PhaseKind) => of(phase).reduce((a, p) => a + p.figures.errors, 0);
  const row = (phase: PhaseKind) => [
    PHASE_LABELS[phase],
    fmtNumber(med(phase, (p) => p.figures.opsPerSec)),
    fmtNumber(med(phase, (p) => p.figures.p50Ms)),
    fmtNumber(med(phase, (p) => p.figures.p99Ms)),
    fmtNumber(med(phase, (p) => p.figures.p999Ms)),
    String(errorsOf(phase)),
    fmtNumber(med(phase, (p) => p.cpuMsPerOp)),
    fmtNumber(med(phase, (p) => p.server.otherPct)),
  ];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const [kv, dynamo] of PAIRS) {
    rows.push(row(kv), row(dynamo));
    const ops = ratio(dynamo, kv, (p) => p.figures.opsPerSec);
    const p99 = ratio(dynamo, kv, (p) => p.figures.p99Ms);
    rows.push([
      `${PHASE_LABELS[dynamo].split(' ')[0]} / ${PHASE_LABELS[kv].split(' (')[0]}`,
      x(ops.median),
      x(ratio(dynamo, kv, (p) => p.figures.p50Ms).median),
      x(p99.median),
      x(ratio(dynamo, kv, (p) => p.figures.p999Ms).median),
      '',
      x(ratio(dynamo, kv, (p) => p.cpuMsPerOp).median),
      '',
    ]);
    notes.push(`${PHASE_LABELS[dynamo]} / ${PHASE_LABELS[kv]} per round: ops/s ${ops.rounds.map(x).join(', ')}; p99 ${p99.rounds.map(x).join(', ')}`);
  }
  rows.push(row('query'));
  notes.push(`Query: ${fmtNumber(10 * med('query', (p) => p.figures.opsPerSec))} items/s (${ITEMS_PER_PARTITION} per Query); no /kv peer.`);
  for (const p of phases.filter((r) => r.figures.errors > 0)) {
    notes.push(
      `round ${p.round}, ${PHASE_LABELS[p.phase]}: ${p.figures.errors} errors (${p.figures.non2xx} non-2xx, ${p.figures.misses} answers without the expected items, ${p.figures.socketErrors} socket errors or timeouts)` +
        (p.figures.samples.length === 0 ? '' : `; e.g. ${p.figures.samples.slice(0, 2).map((s) => JSON.stringify(s)).join(', ')}`),
    );
  }
  const connections = splitConnections(o.connections, NODES);
  return [
    {
      title: `DynamoDB API beside /kv: medians of ${o.rounds} round(s), ${wholeSeconds(o.durationS)} s per phase, ${o.connections} connections (${connections.join('/')} over ${NODES} wrk -t1 processes), ${o.keys.toLocaleString('en-US')} keys`,
      headers: ['phase', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors (all rounds)', 'cluster CPU ms/op', 'other CPU %'],
      rows,
      notes: [
        'ops/s: 2xx answers that passed the check (GetItem: an Item; Query: all 10 items), summed over the wrk processes; p50/p99/p99.9: the max over the wrk processes; ' +
          'errors: statuses outside 2xx, failed checks, socket errors and timeouts; cluster CPU ms/op: CPU of the 5 nodes over the phase per successful request; ' +
          'other CPU %: CPU of processes other than the nodes, wrk and the benchmark (% of one core) during the phase. Ratios: the median of the per-round ratios.',
        ...notes,
      ],
    },
  ];
}

main().then(
  () => {
    cleanupNow();
  },
  (err: unknown) => {
    console.error(`bench:dynamo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    cleanupNow();
    process.exitCode = 1;
  },
);
