// `npm run sim -- --seeds N [--start S|random] [--profile seed-rules|harsh|both] [--duration MS]
// [--no-auth] [--large on|off] [--hostile on|off] [--defect ignore-context|lying-disk] [--ledger FILE]`:
// runs a batch of seeded simulations and prints a summary; on a violation it prints the seed,
// profile, invariant and the fault trace, and exits non-zero. Replay one seed exactly with
// `--seeds 1 --start <seed> --profile <profile>` (plus the same options). `--start random` draws
// a fresh start seed (printed first). `--ledger FILE` appends the batch's outcome to FILE.
// `--regression` runs the fixed regression seeds and the seeds of bugs still open instead.
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { appendLedger, currentCommit } from './ledger.ts';
import { OPEN_BUG_SEEDS, REGRESSION_SEEDS, replayCommand } from './regression-seeds.ts';
import type { Profile } from './nemesis.ts';
import { runSimulation, type SimulationOptions } from './simulation.ts';

const { values } = parseArgs({
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
});
const USAGE =
  'usage: npm run sim -- --seeds N [--start S|random] [--profile seed-rules|harsh|both] [--duration MS] [--no-auth] [--large on|off] [--hostile on|off] [--defect ignore-context|lying-disk] [--ledger FILE]';
if (values.regression) {
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
const seeds = Number(values.seeds);
// Random starts stay below 2^31 so that a printed seed is easy to pass back.
const start = values.start === 'random' ? randomInt(1_000_000, 2 ** 31 - 1_000_000) : Number(values.start);
const durationMs = Number(values.duration);
const profiles: Profile[] = values.profile === 'both' ? ['seed-rules', 'harsh'] : [values.profile as Profile];
const onOff = (x: string | undefined): boolean | undefined => (x === 'on' ? true : x === 'off' ? false : undefined);
if (
  !Number.isInteger(seeds) ||
  seeds < 1 ||
  !Number.isSafeInteger(start) ||
  !Number.isInteger(durationMs) ||
  durationMs < 10_000 ||
  profiles.some((p) => p !== 'seed-rules' && p !== 'harsh') ||
  (values.large !== undefined && onOff(values.large) === undefined) ||
  (values.hostile !== undefined && onOff(values.hostile) === undefined)
) {
  console.error(USAGE);
  process.exit(2);
}
const TRACE_LINES_MAX = Number(values['trace-lines']);
const defect = values.defect === 'ignore-context' || values.defect === 'lying-disk' ? values.defect : undefined;
const extra: Partial<SimulationOptions> = {
  ...(defect ? { defect } : {}),
  ...(values['no-auth'] ? { authentication: false } : {}),
  ...(onOff(values.large) !== undefined ? { largeValues: onOff(values.large)! } : {}),
  ...(onOff(values.hostile) !== undefined ? { hostileClient: onOff(values.hostile)! } : {}),
};
const flags = [
  ...(defect ? [`--defect ${defect}`] : []),
  ...(values['no-auth'] ? ['--no-auth'] : []),
  ...(values.large !== undefined ? [`--large ${values.large}`] : []),
  ...(values.hostile !== undefined ? [`--hostile ${values.hostile}`] : []),
].join(' ');
console.log(`simulation: seeds ${start}..${start + seeds - 1}, profile ${values.profile}, duration ${durationMs} ms${flags ? `, ${flags}` : ''}`);
// The commit the code of this batch was loaded from, taken now (the tree may change while it runs).
const commit = values.ledger !== undefined ? currentCommit() : '';
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
      if (!values.quiet) {
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
if (values.ledger !== undefined) {
  appendLedger(values.ledger, { profile: values.profile!, start, seeds, durationMs, flags, runs, failed, failures }, commit);
}
process.exit(failed > 0 ? 1 : 0);
