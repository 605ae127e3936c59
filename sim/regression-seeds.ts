// The fixed lists of regression seeds. REGRESSION_SEEDS: each catches one finding of issue 13
// when that finding's fix is reverted (`caught` names the invariants it then violates) and
// passes with the fix; test/sim/regression-sim.test.ts runs them all. OPEN_BUG_SEEDS: seeds that
// still fail on the commit named, each for a bug that is not fixed yet (diagnosis in `finding`);
// move one to REGRESSION_SEEDS once its fix lands. `npm run sim -- --regression` runs both lists.
import type { SimulationOptions } from './simulation.ts';

export interface RegressionSeed {
  /** What it stands for: the finding of issue 13 (section 1 number) or the open bug. */
  readonly finding: string;
  readonly options: SimulationOptions & { readonly durationMs: number };
  /** The invariants it violates without the fix (with the fix reverted, or before it). */
  readonly caught: readonly string[];
  /** The commit it was checked on, and how the failing side was made. */
  readonly checked: string;
}

const run = (seed: number, profile: 'seed-rules' | 'harsh', hostileClient: boolean, largeValues: boolean): SimulationOptions & { durationMs: number } => ({
  seed,
  profile,
  durationMs: 20_000,
  hostileClient,
  largeValues,
});

export const REGRESSION_SEEDS: readonly RegressionSeed[] = [
  {
    finding: '1 forged contexts accepted (MAC check reverted in src/version/context.ts)',
    options: run(1000, 'seed-rules', true, false),
    caught: ['forged-context-refused', 'bogus-counters'],
    checked: 'sim 2026-12-01 on main 7cd2c8d',
  },
  {
    finding: '2 a wiped node reuses its dots (actor epoch reverted in src/replication/dot-counter.ts)',
    options: run(1029, 'seed-rules', false, false),
    caught: ['no-lost-writes', 'no-unexpected-errors'],
    checked: 'sim 2026-12-01 on main 7cd2c8d',
  },
  {
    finding: '2 a wiped node reuses its dots (found on 79ea44a before the fix; also with the epoch reverted)',
    options: run(943, 'seed-rules', false, false),
    caught: ['no-lost-writes'],
    checked: 'sim 2026-12-01 on main 7cd2c8d',
  },
  {
    finding: '3 a removal undone by a detector flap (operator epochs reverted in src/membership/table.ts; found on 79ea44a)',
    options: run(517, 'seed-rules', false, false),
    caught: ['removed-stays-removed', 'ring', 'convergence'],
    checked: 'sim 2026-12-01 on main 7cd2c8d; lead 2026-12-01 again on 8054678 with versionedWinner ordering by version before epoch (src/membership/table.ts)',
  },
  {
    finding: '4 a key piled past the frame limit (record bound and batch bytes reverted)',
    options: run(1000, 'seed-rules', false, true),
    caught: ['final-read', 'convergence'],
    checked: 'sim 2026-12-01 on main 7cd2c8d',
  },
  {
    finding: '4 a key piled past the frame limit, its hints stuck (record bound and batch bytes reverted)',
    options: run(1005, 'seed-rules', false, true),
    caught: ['final-read', 'convergence', 'hints-delivered'],
    checked: 'sim 2026-12-01 on main 7cd2c8d',
  },
  {
    finding: '10 tombstones purged by the writer clock (31d000b reverted)',
    options: run(1000, 'seed-rules', false, false),
    caught: ['purge-after-grace'],
    checked: 'sim 2026-12-01 on main 7cd2c8d',
  },
  {
    finding: "hints for a removed owner held down by the holder's detector (node.ts statusOf: 'down' answered before 'removed')",
    options: run(937, 'seed-rules', false, false),
    caught: ['hints-delivered'],
    checked: 'sim 2026-12-01: fails on main 7cd2c8d, passes with the statusOf fix',
  },
  {
    finding:
      '5 (rest) a certified peer stores bogus counters and bad actor ids: isSibling/siblingFromWire take any non-empty string as an actor and any safe-integer counter (src/protocol/messages.ts, src/version/record-codec.ts); with the gossip checks of fd53e2e reverted this seed also gets fake members into the ring',
    options: run(1019, 'seed-rules', false, false),
    caught: ['bogus-counters'],
    checked: 'lead 2026-12-01: fails on 7cd2c8d; passes with actor ids and counters checked (src/version/actor.ts, COUNTER_MAX); fails again with the record-codec check reverted',
  },
  {
    finding:
      'a failed commit rejects unhandled in HintDelivery.deliverAll (`void deliverAll().finally(...)`) and RingTransfer (walk via `void transfer.rebalance()` in node.ts, handOffStrays): the process dies (Node 20), and the transfer walk stops',
    options: run(957, 'seed-rules', false, false),
    caught: ['no-crash'],
    checked: 'lead 2026-12-01: fails on 7cd2c8d; passes once failed removals are caught (hint-delivery.ts) and delivery rounds cannot reject',
  },
  {
    finding:
      'a failed commit of a key the ring transfer drops rejects unhandled out of RingTransfer.walk (`void transfer.rebalance(next)` in node.ts): the process dies, and if caught the walk still stops, leaving keys outside their preference list (src/handoff/ring-transfer.ts dropOrRetry)',
    options: run(20328, 'seed-rules', false, true),
    caught: ['no-crash', 'placement'],
    checked: 'lead 2026-12-01: passes with dropOrRetry catching a failed drop; fails (placement) with that catch reverted',
  },
  {
    finding:
      'hint delivery backoff deadlines are wall-clock times (HintDelivery.retryAtMs from clock.nowMs()): a clock stepped back by minutes stalls delivery to an owner that is up for as long',
    options: run(310, 'harsh', false, false),
    caught: ['hints-delivered'],
    checked: 'lead 2026-12-01: fails on 7cd2c8d; passes with backoffs on Clock.monotonicMs (d02f450)',
  },
  {
    finding:
      "a coordinator whose own commit failed (disk full) had already sent its version to the other replicas: that version superseded acknowledged writes there, and the coordinator's next version of the key, whose clock claims every earlier dot of its actor, covered it unseen (src/replication/coordinator.ts: local commit and replica writes ran in parallel)",
    options: run(4, 'harsh', true, false),
    caught: ['no-lost-writes'],
    checked: 'lead 2026-12-01: fails on 2a009e3 (CI); passes with the local commit made durable before any replica is sent the version',
  },
  {
    finding:
      '5 (rest) gossip with epoch/version/heartbeat = MAX_SAFE_INTEGER is accepted; the refutation adds 1, and the table read back refuses 2^53: nodes cannot restart (CORRUPT_TABLE) (src/membership/table.ts, membership.ts)',
    options: run(511, 'seed-rules', false, false),
    caught: ['not-bricked', 'membership-valid', 'hints-delivered', 'purge-after-grace'],
    checked: 'lead 2026-12-01: fails on main 7cd2c8d, and on this commit with MEMBERSHIP_COUNT_MAX widened to 2^53-1 (src/membership/table.ts); passes with the 2^48 bound (9670091)',
  },
  {
    finding:
      "a node that discarded its data from an earlier membership (removed and re-added while running) went on writing as the same actor: its new versions' clocks claimed its old versions still held by a paused replica, which then dropped them with the acknowledged writes they carried (src/node/node.ts discardStoredData kept the dot counter's actor)",
    options: run(50092, 'harsh', true, false),
    caught: ['no-lost-writes', 'clock-monotonic'],
    checked: 'lead 2026-12-01: fails on a4d9e95; passes with DotCounter.rotate() after the discard',
  },
  {
    finding:
      "a write n5 coordinated was acknowledged counting n5's own replica, which n5 discarded 2 ms later on hearing of its re-add: the acknowledged write was durable on one node (src/node/node.ts: a discard ran across a coordination)",
    options: run(54043, 'harsh', false, false),
    caught: ['durable-ack'],
    checked: 'lead 2026-12-01: fails on 771bd8d; passes once a write that ran across a discard is not acknowledged',
  },
  {
    finding:
      "an acknowledged add (W=2: n3 and n5) was lost: n5's disk was wiped, and n3, removed for good while it was down, discarded its data when it returned (src/membership/admission.ts: a node removed once while away now hands its data off, and its peers purge no tombstone during the hand-off window)",
    options: run(53093, 'harsh', false, false),
    caught: ['no-lost-writes'],
    checked: 'lead 2026-12-01: fails on c19c06c; passes once a returning removed node hands off instead of discarding',
  },
  {
    finding:
      "n2 dropped tombstones it replicated: its ring transfer went on dropping keys on the decision of a ring that a newer change (n5 removed, 2 ms earlier) had replaced, and took them back from the others (src/handoff/ring-transfer.ts); the observer now judges a removal by the ring the node decided it on",
    options: run(53062, 'harsh', true, true),
    caught: ['purge-after-grace'],
    checked: 'lead 2026-12-01: fails on c19c06c; passes once a stale walk drops nothing (and the observer judges by the deciding ring)',
  },
  {
    finding:
      "acknowledged adds lost (c2-65; blind p2-66, p3-70): written with W=2 on n1 and n2 on the minority side of a split; n1's disk was then wiped, and n2, removed and re-added while cut off, discarded its data on hearing of it (src/handoff/stale-handoff.ts: a node removed and re-added once first hands off what it held, marked with its removal's epoch; peers take it only within their window for that removal, which a re-add no longer closes, and purge no tombstone meanwhile). On 8f5025e and later the trajectory changed (the failure detector) and it passes without the fix too: test/trust/readded-node-hands-off.test.ts is the regression that fails without it",
    options: run(55805, 'harsh', true, false),
    caught: ['no-lost-writes'],
    checked: 'lead 2026-12-01: fails on d6d2aef; passes on d6d2aef with the fix applied, and on the fix commit',
  },
  {
    finding:
      "a Query's merged range read returned an item version that a delete on another replica superseded (review finding H1 of issue 16: src/dynamo/replica-reads.ts appended each replica's versions instead of joining them by their clocks, so a lagging replica resurrected deleted items)",
    options: run(58741, 'harsh', true, false),
    caught: ['merged-read-superseded'],
    checked: 'lead 2026-12-02: fails with the versions appended (the pre-fix merge put back by hand); passes with mergeSiblings',
  },
  {
    finding:
      "a burst of blind deletes of one key left 200 tombstones beside each other on its replicas (found by an attacker-minded review; src/replication/coordinator.ts refused a live write past siblingsMax but let every delete pass, and a delete with no context covers nothing), so every merge and answer of the key grew without bound",
    options: run(58966, 'harsh', false, false),
    caught: ['bounded-siblings'],
    checked: 'lead 2026-12-02: fails on c3f1c2d and with the bound switched off (the invariant is now also checked at every commit; harsh 59034-59038 all fail so); passes once a write that covers none of the versions is refused past siblingsMax, tombstones counted',
  },
];

export const OPEN_BUG_SEEDS: readonly RegressionSeed[] = [];

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
