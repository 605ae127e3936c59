// The fixed list of regression seeds: each reproduced one bug of issue 13 with the fault model
// it was found with (seed, profile, duration and workload options), and must pass from the fix
// on. `caught` names the invariants it violated before the fix, so the list says what each seed
// guards. test/sim/regression-sim.test.ts runs them all; replay one with the `replay` command.
import type { SimulationOptions } from './simulation.ts';

export interface RegressionSeed {
  /** The finding it stands for (issue 13, section 1 number, or a short name). */
  readonly finding: string;
  readonly options: SimulationOptions & { readonly durationMs: number };
  /** The invariants it violated on the commit it was found on (before the fix). */
  readonly caught: readonly string[];
  readonly foundOn: string;
}

const run = (seed: number, profile: 'seed-rules' | 'harsh', extra: Partial<SimulationOptions>): SimulationOptions & { durationMs: number } => ({
  seed,
  profile,
  durationMs: 20_000,
  ...extra,
});

export const REGRESSION_SEEDS: readonly RegressionSeed[] = [
  {
    finding: '1 forged context (client)',
    options: run(700, 'seed-rules', { hostileClient: true, largeValues: false }),
    caught: ['no-unexpected-errors', 'bogus-counters', 'not-bricked'],
    foundOn: '79ea44a',
  },
  {
    finding: '2 wiped disk reuses dots',
    options: run(943, 'seed-rules', { hostileClient: false, largeValues: false }),
    caught: ['no-lost-writes'],
    foundOn: '79ea44a',
  },
  {
    finding: '2 wiped disk reuses dots',
    options: run(400, 'harsh', { hostileClient: false, largeValues: true }),
    caught: ['no-lost-writes'],
    foundOn: '79ea44a',
  },
  {
    finding: '3 removal undone by a detector flap',
    options: run(517, 'seed-rules', { hostileClient: false, largeValues: false }),
    caught: ['removed-stays-removed', 'ring', 'placement', 'convergence'],
    foundOn: '79ea44a',
  },
  {
    finding: '4 batches by keys, records past the frame limit',
    options: run(602, 'seed-rules', { hostileClient: false, largeValues: true }),
    caught: ['final-read', 'convergence'],
    foundOn: '79ea44a',
  },
  {
    finding: '5 malformed gossip from a certified peer (NaN time, bad address, max version)',
    options: run(511, 'seed-rules', { hostileClient: false, largeValues: false }),
    caught: ['not-bricked', 'membership-valid', 'membership-convergence', 'hints-delivered'],
    foundOn: '79ea44a',
  },
  {
    finding: '5 bogus counters from a certified peer (forwarded context near 2^53)',
    options: run(519, 'seed-rules', { hostileClient: false, largeValues: false }),
    caught: ['no-unexpected-errors', 'bogus-counters', 'not-bricked'],
    foundOn: '79ea44a',
  },
  {
    finding: '10 tombstone purge by the writer clock (coordinator 4 min behind: resurrection)',
    options: run(601, 'harsh', { hostileClient: false, largeValues: true }),
    caught: ['purge-after-grace', 'no-resurrection'],
    foundOn: '79ea44a',
  },
  {
    finding: 'failed commit in hint delivery or a ring transfer rejects unhandled (the process dies)',
    options: run(957, 'seed-rules', { hostileClient: false, largeValues: false }),
    caught: ['no-crash'],
    foundOn: '79ea44a',
  },
  {
    finding: 'hints for a removed owner stay forever when its detector held it down',
    options: run(937, 'seed-rules', { hostileClient: false, largeValues: false }),
    caught: ['hints-delivered'],
    foundOn: '79ea44a',
  },
  {
    finding: 'hint backoff on the wall clock: a clock stepped back stalls delivery',
    options: run(310, 'harsh', { hostileClient: false, largeValues: true }),
    caught: ['hints-delivered'],
    foundOn: '79ea44a',
  },
];

/** The command that replays a regression seed. */
export function replayCommand(s: RegressionSeed): string {
  const o = s.options;
  const flags = [
    o.hostileClient === undefined ? '' : ` --hostile ${o.hostileClient ? 'on' : 'off'}`,
    o.largeValues === undefined ? '' : ` --large ${o.largeValues ? 'on' : 'off'}`,
    o.authentication === false ? ' --no-auth' : '',
  ].join('');
  return `npm run sim -- --seeds 1 --start ${o.seed} --profile ${o.profile} --duration ${o.durationMs}${flags}`;
}
