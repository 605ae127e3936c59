// `npm run sim -- --seeds N [--start S] [--profile seed-rules|harsh|both] [--duration MS]
// [--defect ignore-context]`: runs a batch of seeded simulations and prints a summary; on a
// violation it prints the seed, profile, invariant and the fault trace, and exits non-zero.
// Replay one seed exactly with `--seeds 1 --start <seed> --profile <profile>`.
import { parseArgs } from 'node:util';
import type { Profile } from './nemesis.ts';
import { runSimulation } from './simulation.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '20' },
    start: { type: 'string', default: '1' },
    profile: { type: 'string', default: 'both' },
    duration: { type: 'string', default: '30000' },
    defect: { type: 'string' },
  },
});
const seeds = Number(values.seeds);
const start = Number(values.start);
const durationMs = Number(values.duration);
const profiles: Profile[] = values.profile === 'both' ? ['seed-rules', 'harsh'] : [values.profile as Profile];
if (!Number.isInteger(seeds) || seeds < 1 || !Number.isInteger(start) || profiles.some((p) => p !== 'seed-rules' && p !== 'harsh')) {
  console.error('usage: npm run sim -- --seeds N [--start S] [--profile seed-rules|harsh|both] [--duration MS]');
  process.exit(2);
}
const TRACE_LINES_MAX = 80;
const defect = values.defect === 'ignore-context' ? ('ignore-context' as const) : undefined;
const started = Date.now();
let runs = 0;
let ops = 0;
let faults = 0;
let simulatedMs = 0;
let failed = 0;
for (const profile of profiles) {
  for (let seed = start; seed < start + seeds; seed++) {
    const result = await runSimulation({ seed, profile, durationMs, ...(defect ? { defect } : {}) });
    runs++;
    ops += result.ops;
    faults += result.faults;
    simulatedMs += result.simulatedMs;
    if (result.violations.length > 0) {
      failed++;
      console.log(`\nVIOLATION seed=${seed} profile=${profile} trace=${result.traceHash.slice(0, 16)}`);
      for (const v of result.violations.slice(0, 10)) console.log(`  ${v.invariant}: ${v.detail}`);
      console.log('  fault events:');
      for (const e of result.events) console.log(`    ${e}`);
      // The history of the first keys named by violations: operations and replica commits.
      for (const [key, lines] of [...result.keyTraces].slice(0, 3)) {
        console.log(`  trace of ${key} (${lines.length} events${lines.length > TRACE_LINES_MAX ? `, last ${TRACE_LINES_MAX}` : ''}):`);
        for (const line of lines.slice(-TRACE_LINES_MAX)) console.log(`    ${line}`);
      }
      console.log(`  replay: npm run sim -- --seeds 1 --start ${seed} --profile ${profile} --duration ${durationMs}${defect ? ` --defect ${defect}` : ''}`);
    }
  }
}
const realS = (Date.now() - started) / 1000;
console.log(
  `\n${runs} runs (${profiles.join(', ')}; seeds ${start}..${start + seeds - 1}), ${ops} ops, ${faults} faults, ` +
    `${(simulatedMs / 1000).toFixed(0)} simulated s in ${realS.toFixed(1)} real s (${(simulatedMs / 1000 / realS).toFixed(1)} simulated s per real s)`,
);
console.log(`simulation: ${runs - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
