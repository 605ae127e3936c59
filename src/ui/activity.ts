// What one node tells the dashboard about itself (GET /local/activity): keys stored, hints
// held, sync and transfer state, and its last minute of client requests. Every node serves
// its own; the node serving a dashboard gathers them from its peers (snapshot.ts).
import type { SyncProgress } from '../antientropy/anti-entropy.ts';
import type { NodeMetrics } from '../metrics/node-metrics.ts';
import type { DynakvNode } from '../node/node.ts';

export interface NodeActivity {
  readonly node: string;
  readonly keys: number;
  readonly hintsHeld: number;
  readonly sync: SyncProgress;
  readonly transfer: { readonly active: boolean; readonly keysSent: number; readonly keysDropped: number };
  /** Key-value operations per second, averaged over the last few seconds. */
  readonly opsPerSec: number;
  /** Mean latency of each of the last 60 seconds, oldest first (0 where idle). */
  readonly latencyMs: readonly number[];
}

export function nodeActivity(node: DynakvNode, metrics: NodeMetrics): NodeActivity {
  const stats = node.stats();
  return {
    node: node.id,
    keys: stats.keys,
    hintsHeld: Object.values(stats.hints).reduce((a, b) => a + b, 0),
    sync: { state: stats.sync.state, pairsDone: stats.sync.pairsDone, pairsTotal: stats.sync.pairsTotal },
    transfer: stats.transfer,
    opsPerSec: metrics.window.opsPerSec(),
    latencyMs: metrics.window.recent().map((s) => Math.round(s.meanMs * 100) / 100),
  };
}

/** A peer's answer, checked for the fields the dashboard draws (it comes over the network). */
export function isNodeActivity(x: unknown): x is NodeActivity {
  if (typeof x !== 'object' || x === null) return false;
  const a = x as Record<string, unknown>;
  return (
    typeof a.node === 'string' &&
    typeof a.keys === 'number' &&
    typeof a.hintsHeld === 'number' &&
    typeof a.opsPerSec === 'number' &&
    typeof a.sync === 'object' &&
    a.sync !== null &&
    Array.isArray(a.latencyMs) &&
    a.latencyMs.every((v) => typeof v === 'number')
  );
}
