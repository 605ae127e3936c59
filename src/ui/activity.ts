// What this node tells dashboards about itself: served as GET /local/activity and as the answer
// to peers' `activity` requests (the node serving a dashboard gathers them, snapshot.ts). The
// shape and its validator are the protocol's (src/protocol/activity.ts).
import type { NodeMetrics } from '../metrics/node-metrics.ts';
import type { NodeFrontDoor } from '../node/front-door.ts';
import type { NodeActivity } from '../protocol/activity.ts';

export type { NodeActivity } from '../protocol/activity.ts';

export function nodeActivity(node: NodeFrontDoor, metrics: NodeMetrics): NodeActivity {
  const stats = node.stats();
  return {
    node: node.id,
    keys: stats.keys,
    hintsHeld: Object.values(stats.hints).reduce((a, b) => a + b, 0),
    sync: { state: stats.sync.state, pairsDone: stats.sync.pairsDone, pairsTotal: stats.sync.pairsTotal },
    transfer: { active: stats.transfer.active, keysSent: stats.transfer.keysSent, keysDropped: stats.transfer.keysDropped },
    opsPerSec: metrics.window.opsPerSec(),
    latencyMs: metrics.window.recent().map((s) => Math.round(s.meanMs * 100) / 100),
  };
}
