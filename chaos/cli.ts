// `npm run chaos -- [options]` (USAGE below, also printed by --help): one real-process
// fault-injection run (see run.ts); exits 1 when an acknowledged write was lost or replicas did
// not converge, 2 on a bad command line (one line on stderr, src/cli/args.ts) or a run that could
// not start.
import { listOf, oneOf, positiveNumber, toolArgs, wholeNumber } from '../src/cli/args.ts';
import type { FaultKind } from './history.ts';
import { runChaos, type ClientRouting } from './run.ts';

const FAULT_KINDS: readonly FaultKind[] = ['kill', 'wipe', 'pause', 'isolate', 'split'];
const ROUTINGS: readonly ClientRouting[] = ['ring', 'round-robin', 'mixed'];

const USAGE = `usage: npm run chaos -- [options]

  --duration S            seconds of faults and workload, at least 10 (default 60)
  --clients N             concurrent workload clients (default 16)
  --seed N                seed of the fault schedule and workload (default: random, printed)
  --overlap               let faults on different nodes run together
  --network auto|netns|loopback
                          netns (root: namespaces, real partitions) or loopback (kills and
                          pauses only); auto takes netns when it can (default auto)
  --faults LIST           fault kinds to draw from, comma-separated: ${FAULT_KINDS.join(',')}
                          (default: every kind the network allows)
  --quiet-deadline S      after the final heal, how long replicas may take to converge (default 180)
  --routing ring|round-robin|mixed
                          clients send to the key's replicas, to any node, or half each (default ring)
  --hostile on|off        run the hostile client beside the workload (default on)
  -h, --help              this text

Results go to chaos/results/<time>/. Exits 1 when an acknowledged write was lost or replicas
did not converge, 2 on a bad command line.`;

const options = toolArgs(
  {
    name: 'chaos',
    invocation: 'npm run chaos --',
    usage: USAGE,
    options: {
      duration: { type: 'string', default: '60' },
      clients: { type: 'string', default: '16' },
      seed: { type: 'string' },
      overlap: { type: 'boolean', default: false },
      network: { type: 'string', default: 'auto' },
      faults: { type: 'string' },
      'quiet-deadline': { type: 'string', default: '180' },
      routing: { type: 'string', default: 'ring' },
      hostile: { type: 'string', default: 'on' },
    },
  },
  process.argv.slice(2),
  (v) => ({
    durationS: positiveNumber('--duration', v.duration, 10),
    clients: wholeNumber('--clients', v.clients, 1),
    seed: v.seed !== undefined ? wholeNumber('--seed', v.seed, 0) : Math.floor(Math.random() * 2 ** 31),
    overlap: v.overlap,
    network: oneOf('--network', v.network, ['auto', 'netns', 'loopback']),
    faults: v.faults !== undefined ? listOf('--faults', v.faults, FAULT_KINDS) : undefined,
    quietDeadlineS: positiveNumber('--quiet-deadline', v['quiet-deadline']),
    routing: oneOf('--routing', v.routing, ROUTINGS),
    hostile: oneOf('--hostile', v.hostile, ['on', 'off']) === 'on',
  }),
);
try {
  const valid = await runChaos(options);
  process.exit(valid ? 0 : 1);
} catch (err) {
  console.error(`chaos: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
