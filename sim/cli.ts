// `npm run sim -- [options]` (USAGE below, also printed by --help): runs a batch of seeded
// simulations and prints a summary; on a violation it prints the seed, profile, invariant and the
// fault trace, and exits 1. Replay one seed exactly with `--seeds 1 --start <seed> --profile
// <profile>` (plus the same options). `--regression` runs the fixed regression seeds and the seeds
// of bugs still open instead. A bad command line is one line on stderr and exit 2 (src/cli/args.ts).
import { randomInt } from 'node:crypto';
import { oneOf, toolArgs, wholeNumber } from '../src/cli/args.ts';
import { appendLedger, currentCommit } from './ledger.ts';
import { OPEN_BUG_SEEDS, REGRESSION_SEEDS, replayCommand } from './regression-seeds.ts';
import type { Profile } from './nemesis.ts';
import { runSimulation, type SimulationOptions } from './simulation.ts';

const USAGE = `usage: npm run sim -- [options]

  --seeds N                    simulations per profile (default 20)
  --start S|random             first seed (default 1); random draws one and prints it
  --profile seed-rules|harsh|both
                               fault profile(s) (default both)
  --duration MS                simulated milliseconds per run, at least 10000 (default 30000)
  --no-auth                    peers without authentication (the default authenticates)
  --large on|off               large values in the workload (default: drawn from the seed, 1 run in 6)
  --hostile on|off             a hostile client in the workload (default: drawn from the seed, 1 run in 2)
  --defect ignore-context|lying-disk
                               a deliberate bug: the checker must report it
  --ledger FILE                append the batch's outcome to FILE (e.g. sim/LEDGER.tsv)
  --quiet                      on a violation, leave out the fault events and key traces
  --trace-lines N              lines of each key trace printed on a violation (default 80)
  --regression                 run the fixed regression seeds and the open-bug seeds instead
  -h, --help                   this text

Replay one seed exactly: --seeds 1 --start SEED --profile PROFILE (plus the same options).
Exits 1 when a run violates an invariant, 2 on a bad command line.`;

const onOff = (flag: string, x: string | undefined): boolean | undefined => (x === undefined ? undefined : oneOf(flag, x, ['on', 'off']) === 'on');
const o = toolArgs(
  {
    name: 'sim',
    invocation: 'npm run sim --',
    usage: USAGE,
    options: {
      seeds: { type: 'string', default: '20' },
      start: { type: 'string', default: '1' },
      profile: { type: 'string', default: 'both' },
      duration: { type: 'string', default: '30000' },
      defect: { type: 'string' },
      'no-auth': { type: 'boolean', default: false },
      large: { type: 'string' },
      hostile: { type: 'string' },
      ledger: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      'trace-lines': { type: 'string', default: '80' },
      regression: { type: 'boolean', default: false },
    },
  },
  process.argv.slice(2),
  (v) => ({
    seeds: wholeNumber('--seeds', v.seeds, 1),
    // Random starts stay below 2^31 so that a printed seed is easy to pass back.
    start: v.start === 'random' ? randomInt(1_000_000, 2 ** 31 - 1_000_000) : wholeNumber('--start', v.start, 0),
    profile: oneOf('--profile', v.profile, ['seed-rules', 'harsh', 'both']),
    durationMs: wholeNumber('--duration', v.duration, 10_000),
    defect: v.defect === undefined ? undefined : oneOf('--defect', v.defect, ['ignore-context', 'lying-disk']),
    noAuth: v['no-auth'],
    large: onOff('--large', v.large),
    hostile: onOff('--hostile', v.hostile),
    ledger: v.ledger,
    quiet: v.quiet,
    traceLinesMax: wholeNumber('--trace-lines', v['trace-lines'], 0),
    regression: v.regression,
  }),
);
if (o.regression) {
  // The fixed regression seeds (they must pass) and the seeds of bugs still open (they fail until fixed).
  let failedFixed = 0;
  for (const [title, list, mustPass] of [['regression seeds', REGRESSION_SEEDS, true], ['open-bug seeds', OPEN_BUG_SEEDS, false]] as const) {
    console.log(`${title}:`);
    for (const s of list) {
      const r = await runSimulation(s.options);
      const invariants = [...new Set(r.violations.map((v) => v.invariant))];
      if (mustPass && invariants.length > 0) failedFixed++;
      console.log(`  ${invariants.length === 0 ? 'pass' : `FAIL (${invariants.join(', ')})`}  ${s.options.profile} ${s.options.seed}: ${s.finding.slice(0, 100)}`);
      if (invariants.length > 0) console.log(`      replay: ${replayCommand(s)}`);
    }
  }
  process.exit(failedFixed > 0 ? 1 : 0);
}
const { seeds, start, durationMs, defect } = o;
const profiles: Profile[] = o.profile === 'both' ? ['seed-rules', 'harsh'] : [o.profile];
const TRACE_LINES_MAX = o.traceLinesMax;
const extra: Partial<SimulationOptions> = {
  ...(defect ? { defect } : {}),
  ...(o.noAuth ? { authentication: false } : {}),
  ...(o.large !== undefined ? { largeValues: o.large } : {}),
  ...(o.hostile !== undefined ? { hostileClient: o.hostile } : {}),
};
const flags = [
  ...(defect ? [`--defect ${defect}`] : []),
  ...(o.noAuth ? ['--no-auth'] : []),
  ...(o.large !== undefined ? [`--large ${o.large ? 'on' : 'off'}`] : []),
  ...(o.hostile !== undefined ? [`--hostile ${o.hostile ? 'on' : 'off'}`] : []),
].join(' ');
console.log(`simulation: seeds ${start}..${start + seeds - 1}, profile ${o.profile}, duration ${durationMs} ms${flags ? `, ${flags}` : ''}`);
// The commit the code of this batch was loaded from, taken now (the tree may change while it runs).
const commit = o.ledger !== undefined ? currentCommit() : '';
const started = Date.now();
let runs = 0;
let ops = 0;
let faults = 0;
let simulatedMs = 0;
let failed = 0;
const totals: Record<string, number> = {};
const failures: string[] = [];
for (const profile of profiles) {
  for (let seed = start; seed < start + seeds; seed++) {
    const result = await runSimulation({ seed, profile, durationMs, ...extra });
    runs++;
    ops += result.ops;
    faults += result.faults;
    simulatedMs += result.simulatedMs;
    for (const [k, v] of Object.entries(result.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (result.violations.length > 0) {
      failed++;
      const replay = `npm run sim -- --seeds 1 --start ${seed} --profile ${profile} --duration ${durationMs}${flags ? ` ${flags}` : ''}`;
      failures.push(`${profile} ${seed}: ${[...new Set(result.violations.map((v) => v.invariant))].join(', ')}`);
      console.log(`\nVIOLATION seed=${seed} profile=${profile} trace=${result.traceHash.slice(0, 16)}`);
      // Up to 3 per invariant, so that a flood of one kind does not hide another.
      const byInvariant = new Map<string, string[]>();
      for (const v of result.violations) {
        let list = byInvariant.get(v.invariant);
        if (list === undefined) byInvariant.set(v.invariant, (list = []));
        list.push(v.detail);
      }
      for (const [invariant, details] of byInvariant) {
        for (const d of details.slice(0, 3)) console.log(`  ${invariant}: ${d}`);
        if (details.length > 3) console.log(`  ${invariant}: (+${details.length - 3} more)`);
      }
      if (!o.quiet) {
        console.log('  fault events:');
        for (const e of result.events) console.log(`    ${e}`);
        // The history of the first keys named by violations: operations and replica commits.
        // One key per invariant, first found.
        const traced = new Map<string, string>();
        for (const v of result.violations) if (v.key !== undefined && !traced.has(v.invariant)) traced.set(v.invariant, v.key);
        for (const [key, lines] of [...new Set(traced.values())].slice(0, 4).map((k) => [k, result.keyTraces.get(k) ?? []] as const)) {
          console.log(`  trace of ${key.slice(0, 60)} (${lines.length} events${lines.length > TRACE_LINES_MAX ? `, last ${TRACE_LINES_MAX}` : ''}):`);
          for (const line of lines.slice(-TRACE_LINES_MAX)) console.log(`    ${line}`);
        }
      }
      console.log(`  replay: ${replay}`);
    }
  }
}
const realS = (Date.now() - started) / 1000;
console.log(
  `\n${runs} runs (${profiles.join(', ')}; seeds ${start}..${start + seeds - 1}), ${ops} ops, ${faults} faults, ` +
    `${(simulatedMs / 1000).toFixed(0)} simulated s in ${realS.toFixed(1)} real s (${(runs / realS).toFixed(2)} runs per real s, ${(simulatedMs / 1000 / realS).toFixed(1)} simulated s per real s)`,
);
console.log(`exercised: ${Object.entries(totals).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k} ${v}`).join('; ')}`);
console.log(`simulation: ${runs - failed} passed, ${failed} failed`);
if (o.ledger !== undefined) {
  appendLedger(o.ledger, { profile: o.profile, start, seeds, durationMs, flags, runs, failed, failures }, commit);
}
process.exit(failed > 0 ? 1 : 0);
