// `npm run sim:scale -- [--nodes 5,25,100] [--seed N]`: what membership costs as a cluster
// grows (issue 14 section 4), measured in the simulator on the real node code. For each size:
// detector and gossip traffic per node in a steady state (messages and bytes per second), then
// how long a crash takes to be held down by every live node (detection, then gossip of the
// verdict), and an operator's removal to reach every node (rounds of gossip and bytes meanwhile).
// Prints one table; no assertion (a measurement, not a test).
import { parseArgs } from 'node:util';
import { SimCluster } from './sim-cluster.ts';

interface Figures {
  readonly nodes: number;
  readonly pingsPerNodePerS: number;
  readonly pingBytesPerNodePerS: number;
  readonly gossipPerNodePerS: number;
  readonly gossipBytesPerNodePerS: number;
  readonly crashHeldDownByAllMs: number;
  readonly crashPublishedToAllMs: number;
  readonly removalReachedAllMs: number;
  readonly removalGossipRounds: number;
  readonly removalGossipBytes: number;
}

const STEADY_MS = 10_000;
const WAIT_MAX_MS = 120_000;

function snapshot(cluster: SimCluster, kind: string): { messages: number; bytes: number } {
  const t = cluster.network.traffic.get(kind);
  return { messages: t?.messages ?? 0, bytes: t?.bytes ?? 0 };
}

async function measure(nodes: number, seed: number): Promise<Figures> {
  const cluster = await SimCluster.start({ seed, nodes });
  const { scheduler } = cluster;
  await scheduler.runUntil(scheduler.nowMs + 15_000);

  const ping0 = snapshot(cluster, 'ping');
  const gossip0 = snapshot(cluster, 'gossip');
  await scheduler.runUntil(scheduler.nowMs + STEADY_MS);
  const ping1 = snapshot(cluster, 'ping');
  const gossip1 = snapshot(cluster, 'gossip');
  const perNodePerS = (a: number, b: number) => (b - a) / nodes / (STEADY_MS / 1000);

  // A crash: every live node's detector holds it down, then every table says so.
  const victim = cluster.ids[cluster.ids.length - 1]!;
  const live = cluster.ids.filter((id) => id !== victim);
  const crashedAt = scheduler.nowMs;
  await cluster.crashNode(victim);
  await scheduler.runWhile(() => live.some((id) => !cluster.node(id).membership.isLocallyDown(victim)), WAIT_MAX_MS);
  const heldDownMs = scheduler.nowMs - crashedAt;
  await scheduler.runWhile(() => live.some((id) => cluster.node(id).membership.record(victim)?.status !== 'down'), WAIT_MAX_MS);
  const publishedMs = scheduler.nowMs - crashedAt;

  // An operator's removal, made on one node, reaching every other.
  const removed = live[live.length - 1]!;
  const rest = live.filter((id) => id !== removed);
  const gossipBefore = snapshot(cluster, 'gossip');
  const roundsBefore = cluster.node(rest[0]!).membership.gossipRounds;
  const removedAt = scheduler.nowMs;
  cluster.node(rest[0]!).membership.removeMember(removed);
  await scheduler.runWhile(() => rest.some((id) => cluster.node(id).membership.record(removed)?.status !== 'removed'), WAIT_MAX_MS);
  const removalMs = scheduler.nowMs - removedAt;
  const gossipAfter = snapshot(cluster, 'gossip');
  const figures: Figures = {
    nodes,
    pingsPerNodePerS: perNodePerS(ping0.messages, ping1.messages) / 2,
    pingBytesPerNodePerS: perNodePerS(ping0.bytes, ping1.bytes),
    gossipPerNodePerS: perNodePerS(gossip0.messages, gossip1.messages) / 2,
    gossipBytesPerNodePerS: perNodePerS(gossip0.bytes, gossip1.bytes),
    crashHeldDownByAllMs: heldDownMs,
    crashPublishedToAllMs: publishedMs,
    removalReachedAllMs: removalMs,
    removalGossipRounds: cluster.node(rest[0]!).membership.gossipRounds - roundsBefore,
    removalGossipBytes: gossipAfter.bytes - gossipBefore.bytes,
  };
  for (const id of cluster.ids) if (cluster.nodes.has(id)) cluster.node(id).stop();
  return figures;
}

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '5,25,100' }, seed: { type: 'string', default: '1' } } });
const sizes = values.nodes.split(',').map(Number);
if (sizes.some((n) => !Number.isSafeInteger(n) || n < 3 || n > 200)) {
  console.error('--nodes: sizes from 3 to 200, comma-separated');
  process.exit(2);
}
const seed = Number(values.seed);
console.log(`membership at scale, seed ${seed} (a ping every 500 ms to every peer, gossip with one peer a second)`);
console.log(['nodes', 'pings/node/s', 'ping B/node/s', 'gossip/node/s', 'gossip B/node/s', 'crash: held down by all', 'published to all', 'removal reached all', 'gossip rounds', 'gossip bytes'].join('\t'));
for (const n of sizes) {
  const started = performance.now();
  const f = await measure(n, seed);
  console.log(
    [
      f.nodes,
      f.pingsPerNodePerS.toFixed(0),
      f.pingBytesPerNodePerS.toFixed(0),
      f.gossipPerNodePerS.toFixed(2),
      f.gossipBytesPerNodePerS.toFixed(0),
      `${f.crashHeldDownByAllMs.toFixed(0)} ms`,
      `${f.crashPublishedToAllMs.toFixed(0)} ms`,
      `${f.removalReachedAllMs.toFixed(0)} ms`,
      f.removalGossipRounds,
      f.removalGossipBytes,
    ].join('\t') + `\t(${((performance.now() - started) / 1000).toFixed(0)} s real)`,
  );
}
