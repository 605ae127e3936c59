// The dashboard's picture of the cluster as this node sees it: the ring, the membership table
// with each member's status by this node's own failure detector, the change log, and every
// reachable member's activity, asked over the peer link (the `activity` request: mutual TLS on
// a secure cluster, the reply validated like every peer message), never from an HTTP address a
// member published. Members this node holds down are not asked, so a dead node costs no
// timeout per frame.
import { membersView, ringView, type MemberView, type RingView } from '../api/views.ts';
import type { NodeMetrics } from '../metrics/node-metrics.ts';
import type { ChangeLogEntry, NodeFrontDoor, SeenStatus } from '../node/front-door.ts';
import { nodeActivity, type NodeActivity } from './activity.ts';

/** Change log entries sent to the page, newest first: enough for an operator's screen. */
const LOG_ENTRIES_SHOWN = 50;
/** A peer's activity must arrive well within one frame (1 s) or is shown as unknown. */
const PEER_TIMEOUT_MS = 700;

export interface DashboardMember extends MemberView {
  /** Health as this node sees it (its failure detector, the gossiped status, the sync state). */
  readonly seen: SeenStatus;
}

export interface DashboardSnapshot {
  readonly self: string;
  readonly n: number;
  readonly atMs: number;
  readonly ring: RingView | null;
  readonly members: readonly DashboardMember[];
  readonly log: readonly ChangeLogEntry[];
  /** Per member id; null when the member was not asked (down, removed) or did not answer. */
  readonly activity: Readonly<Record<string, NodeActivity | null>>;
}

export async function buildSnapshot(node: NodeFrontDoor, metrics: NodeMetrics): Promise<DashboardSnapshot> {
  const table = node.members();
  const view = membersView(node.id, node.config.n, table);
  // membersView keeps the table's order, entry for entry.
  const members = view.members.map((m, i) => ({ ...m, seen: table.members[i]!.seen }));
  const ring = node.ring();
  const entries = await Promise.all(
    members.map(async (m): Promise<[string, NodeActivity | null]> => {
      if (m.id === node.id) return [m.id, nodeActivity(node, metrics)];
      if (m.seen === 'down' || m.seen === 'removed') return [m.id, null];
      return [m.id, await node.peerActivity(m.id, PEER_TIMEOUT_MS)];
    }),
  );
  return {
    self: node.id,
    n: node.config.n,
    atMs: Date.now(),
    ring: ring === undefined ? null : ringView(ring, node.config.n),
    members,
    log: view.log.slice(-LOG_ENTRIES_SHOWN).reverse(),
    activity: Object.fromEntries(entries),
  };
}
