// JSON shapes the API shows for internal structures: clocks, siblings, the ring, the members,
// the stats. Kept apart from the routes so the CLI and the dashboard read one documented form;
// built from what the node's front door (src/node/front-door.ts) answers.
import type { ChangeLogEntry, MemberRecord, MembersTable, NodeStats } from '../node/front-door.ts';
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

/** GET /cluster/members: the table (`members` is the node's members(); `n` its N), each record with where it sits and whether it moves data. */
export function membersView(self: string, n: number, table: MembersTable): MembersView {
  const receivers = new Set(table.members.flatMap(({ record: r }) => (r.status !== 'removed' ? (r.transfer?.targets ?? []) : [])));
  return {
    self,
    n,
    members: table.members.map(({ record: r, lastHeardMs }) => ({
      ...r,
      position: positionHex(ringPosition(r.id)),
      inRing: r.status !== 'removed',
      lastHeardMs,
      receiving: receivers.has(r.id),
      handingOff: r.transfer !== null,
    })),
    log: table.log,
  };
}

/** GET /local/stats: the counters it has always shown (a subset of NodeStats, in this order). */
export interface LocalStatsView {
  readonly node: string;
  readonly keys: number;
  readonly transfer: { readonly active: boolean; readonly keysSent: number; readonly keysDropped: number };
  readonly hints: Readonly<Record<string, number>>;
  readonly hintsDelivered: number;
  readonly hintedWrites: number;
  readonly fallbackWrites: number;
  readonly readRepairs: number;
  readonly corruptRecords: number;
  readonly sync: NodeStats['sync'];
  readonly admission: NodeStats['admission'];
}

export function localStatsView(s: NodeStats): LocalStatsView {
  return {
    node: s.node,
    keys: s.keys,
    transfer: { active: s.transfer.active, keysSent: s.transfer.keysSent, keysDropped: s.transfer.keysDropped },
    hints: s.hints,
    hintsDelivered: s.hintsDelivered,
    hintedWrites: s.hintedWrites,
    fallbackWrites: s.fallbackWrites,
    readRepairs: s.readRepairs,
    corruptRecords: s.corruptRecords,
    sync: s.sync,
    admission: s.admission,
  };
}
