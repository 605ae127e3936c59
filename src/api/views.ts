// JSON shapes the API shows for internal structures: clocks, siblings, the ring. Kept apart from
// the routes so the CLI and the dashboard read one documented form.
import type { DynakvNode } from '../node/node.ts';
import type { ChangeLogEntry, MemberRecord } from '../membership/table.ts';
import type { Ring } from '../ring/ring.ts';
import { positionHex, ringPosition } from '../ring/ring.ts';
import { clockOf, type Sibling } from '../version/siblings.ts';
import type { VClock } from '../version/vclock.ts';

/** `{ "n1": 3, "n2": 7 }`: readable, and enough to compare versions by eye. */
export function clockView(clock: VClock): Record<string, number> {
  return Object.fromEntries(clock.map((e) => [e.node, e.counter]));
}

export interface SiblingView {
  readonly value: string | null;
  readonly contentType: string;
  readonly deleted: boolean;
  readonly clock: Record<string, number>;
  readonly dot: { readonly node: string; readonly counter: number };
  readonly writtenAtMs: number;
}

export function siblingView(s: Sibling): SiblingView {
  return {
    value: s.value === null ? null : Buffer.from(s.value).toString('base64'),
    contentType: s.contentType,
    deleted: s.value === null,
    clock: clockView(clockOf(s)),
    dot: { node: s.dot.node, counter: s.dot.counter },
    writtenAtMs: s.dot.timeMs,
  };
}

export interface RingView {
  readonly n: number;
  readonly nodes: ReadonlyArray<{
    readonly id: string;
    readonly position: string;
    /** Home range [start, end) in hex; `wraps` when it runs past the top of the ring to 0. */
    readonly range: { readonly start: string; readonly end: string; readonly wraps: boolean };
    readonly replicas: readonly string[];
  }>;
}

export function ringView(ring: Ring, n: number): RingView {
  return {
    n,
    nodes: ring.homeRanges(n).map((r) => ({
      id: r.node,
      position: positionHex(r.position),
      range: { start: positionHex(r.start), end: positionHex(r.end), wraps: r.wraps },
      replicas: [...r.replicas],
    })),
  };
}

/** A member's health as this node sees it: what the dashboard colours and metrics count. */
export type SeenStatus = 'up' | 'down' | 'syncing' | 'removed';

/**
 * This node's own failure detector decides down (as routing does), so a node that is cut off
 * shows what it sees; a gossiped down counts too until the node refutes it. Syncing is the
 * member's own published state.
 */
export function seenStatus(node: DynakvNode, record: MemberRecord): SeenStatus {
  if (record.status === 'removed') return 'removed';
  if (node.membership.isLocallyDown(record.id) || record.status === 'down') return 'down';
  return record.state === 'syncing' ? 'syncing' : 'up';
}

export interface MemberView extends MemberRecord {
  readonly position: string;
  readonly inRing: boolean;
  /** When this node last heard from it (ms since epoch), if ever. */
  readonly lastHeardMs: number | null;
  /** Some node is still sending it keys after a ring change. */
  readonly receiving: boolean;
  /** It is still sending keys to new replicas after a ring change. */
  readonly handingOff: boolean;
}

export interface MembersView {
  readonly self: string;
  readonly n: number;
  readonly members: readonly MemberView[];
  readonly log: readonly ChangeLogEntry[];
}

export function membersView(node: DynakvNode): MembersView {
  const table = node.membership.table();
  const receivers = new Set(table.flatMap((r) => (r.status !== 'removed' ? (r.transfer?.targets ?? []) : [])));
  return {
    self: node.id,
    n: node.config.n,
    members: table.map((r) => ({
      ...r,
      position: positionHex(ringPosition(r.id)),
      inRing: r.status !== 'removed',
      lastHeardMs: node.membership.lastHeard(r.id) ?? null,
      receiving: receivers.has(r.id),
      handingOff: r.transfer !== null,
    })),
    log: node.membership.history(),
  };
}
