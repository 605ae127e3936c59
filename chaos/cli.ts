// `npm run chaos -- [--duration 60] [--clients 16] [--seed N] [--overlap] [--network auto|netns|loopback]
// [--faults kill,wipe,pause,isolate,split] [--quiet-deadline 180] [--routing ring|round-robin|mixed] [--hostile on|off]`: one real-process fault-injection run
// (see run.ts); exits 1 when an acknowledged write was lost or replicas did not converge.
import { parseArgs } from 'node:util';
import type { FaultKind } from './history.ts';
import { runChaos, type ClientRouting } from './run.ts';

const USAGE = 'usage: npm run chaos -- [--duration S] [--clients N] [--seed N] [--overlap] [--network auto|netns|loopback] [--faults kill,wipe,pause,isolate,split] [--quiet-deadline S] [--routing ring|round-robin|mixed] [--hostile on|off]';
const FAULT_KINDS: readonly FaultKind[] = ['kill', 'wipe', 'pause', 'isolate', 'split'];

const { values } = parseArgs({
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
});
const durationS = Number(values.duration);
const clients = Number(values.clients);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const quietDeadlineS = Number(values['quiet-deadline']);
const faults = values.faults?.split(',').map((f) => f.trim());
const network = values.network;
if (
  !(durationS >= 10) || !Number.isInteger(clients) || clients < 1 || !Number.isInteger(seed) || !(quietDeadlineS > 0) ||
  (network !== 'auto' && network !== 'netns' && network !== 'loopback') ||
  (values.routing !== 'ring' && values.routing !== 'round-robin' && values.routing !== 'mixed') ||
  (values.hostile !== 'on' && values.hostile !== 'off') ||
  (faults !== undefined && !faults.every((f): f is FaultKind => (FAULT_KINDS as readonly string[]).includes(f)))
) {
  console.error(USAGE);
  process.exit(2);
}
try {
  const valid = await runChaos({ durationS, clients, seed, overlap: values.overlap, network, faults: faults as FaultKind[] | undefined, quietDeadlineS, routing: values.routing as ClientRouting, hostile: values.hostile === 'on' });
  process.exit(valid ? 0 : 1);
} catch (err) {
  console.error(`chaos: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
