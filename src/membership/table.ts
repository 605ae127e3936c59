// The membership table as pure data: one record per node ever added, merged by version, and
// the log entries a merge produces. Versioned fields (status, addresses) change by operator
// action or failure detection and win by higher version; owner fields (heartbeat, transfer
// progress) are written only by the node itself and win by higher heartbeat. No I/O here.
import type { NodeId } from '../env/transport.ts';

export type MemberStatus = 'up' | 'down' | 'removed';

/** Progress of this node's ring-change transfer, published through gossip. */
export interface TransferStatus {
  readonly keysTotal: number;
  readonly keysDone: number;
  /** Nodes this node is still sending keys to. */
  readonly targets: readonly NodeId[];
}

export interface MemberRecord {
  readonly id: NodeId;
  /** Peer (TCP) address, host:port. */
  readonly peer: string;
  /** Client (HTTP) address, host:port; empty until known. */
  readonly http: string;
  readonly status: MemberStatus;
  /** Orders changes to status and addresses; higher wins. */
  readonly version: number;
  readonly changedBy: NodeId;
  readonly changedAtMs: number;
  /** Incremented by the node itself each gossip round; orders the owner fields. */
  readonly heartbeat: number;
  readonly transfer: TransferStatus | null;
  /** The node's own sync state (set by the node itself). */
  readonly state: 'ready' | 'syncing';
}

export type ChangeKind = 'added' | 'removed' | 'down' | 'up' | 'address';

export interface ChangeLogEntry {
  /** When this node learned of the change (its own clock). */
  readonly atMs: number;
  readonly node: NodeId;
  readonly change: ChangeKind;
  readonly version: number;
  /** The node that made (added/removed) or observed (down/up) the change. */
  readonly by: NodeId;
  /** When the originating node made the change (its clock). */
  readonly changedAtMs: number;
}

const STATUS_RANK: Record<MemberStatus, number> = { up: 0, down: 1, removed: 2 };

/** Which of two records of one node wins on the versioned fields. */
// Ties (two nodes changing a record at the same version) break on status, then on the later
// change, then on the changer's id: a total order, so every node picks the same winner.
function versionedWinner(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.version !== b.version) return a.version > b.version ? a : b;
  if (a.status !== b.status) return STATUS_RANK[b.status] > STATUS_RANK[a.status] ? b : a;
  if (a.changedAtMs !== b.changedAtMs) return a.changedAtMs > b.changedAtMs ? a : b;
  return b.changedBy > a.changedBy ? b : a;
}

/** Joins two records of the same node (commutative, associative, idempotent). */
export function mergeRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  const v = versionedWinner(a, b);
  const o = b.heartbeat > a.heartbeat ? b : a;
  return { ...v, heartbeat: o.heartbeat, transfer: o.transfer, state: o.state };
}

/** The change a versioned-field update represents, or undefined if the versioned part is equal. */
export function changeOf(before: MemberRecord | undefined, after: MemberRecord): ChangeKind | undefined {
  if (before === undefined) return after.status === 'removed' ? 'removed' : 'added';
  if (before.version === after.version && before.status === after.status) return undefined;
  if (before.status === after.status) return before.peer !== after.peer || before.http !== after.http ? 'address' : undefined;
  if (after.status === 'removed') return 'removed';
  if (before.status === 'removed') return 'added';
  return after.status;
}

export function isRingMember(record: MemberRecord): boolean {
  return record.status !== 'removed';
}

export function isMemberRecord(x: unknown): x is MemberRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  const okTransfer =
    r.transfer === null ||
    (typeof r.transfer === 'object' &&
      r.transfer !== null &&
      Number.isSafeInteger((r.transfer as Record<string, unknown>).keysTotal) &&
      Number.isSafeInteger((r.transfer as Record<string, unknown>).keysDone) &&
      Array.isArray((r.transfer as Record<string, unknown>).targets) &&
      ((r.transfer as Record<string, unknown>).targets as unknown[]).every((t) => typeof t === 'string'));
  return (
    typeof r.id === 'string' &&
    r.id.length > 0 &&
    r.id.length <= 64 &&
    typeof r.peer === 'string' &&
    typeof r.http === 'string' &&
    (r.status === 'up' || r.status === 'down' || r.status === 'removed') &&
    Number.isSafeInteger(r.version) &&
    typeof r.changedBy === 'string' &&
    typeof r.changedAtMs === 'number' &&
    Number.isSafeInteger(r.heartbeat) &&
    (r.state === 'ready' || r.state === 'syncing') &&
    okTransfer
  );
}
