// The membership table as pure data: one record per node ever added, merged as a join, the log
// entries a merge produces. Versioned fields (status, addresses) are ordered first by the operator
// epoch, then by version within it; owner fields (heartbeat, transfer progress, sync state) are
// written only by the node itself and win by higher heartbeat. No I/O here.
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
  /**
   * Operator epoch: incremented only by an operator's add or remove. A record at a higher epoch
   * wins on the versioned fields whatever its version, so no detector verdict or refutation made
   * before an operator change (in an older epoch) can undo it.
   */
  readonly epoch: number;
  /**
   * Orders changes within an epoch (detector down/up, refutations, address changes); higher
   * wins. Operator changes bump it too, so the number an operator sees never goes back.
   */
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
  readonly epoch: number;
  readonly version: number;
  /** The node that made (added/removed) or observed (down/up) the change. */
  readonly by: NodeId;
  /** When the originating node made the change (its clock). */
  readonly changedAtMs: number;
}

const STATUS_RANK: Record<MemberStatus, number> = { up: 0, down: 1, removed: 2 };

/**
 * Which of two records of one node wins on the versioned fields: a total order, so every node
 * picks the same winner and the merge is a join. Higher epoch first (operator changes). Within
 * an epoch a removal is final: only an operator add, at a higher epoch, brings the id back.
 * Then higher version; ties (two nodes changing a record at the same version) break on status,
 * the later change, the changer's id and finally the addresses.
 */
function versionedWinner(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? a : b;
  const aRemoved = a.status === 'removed';
  if (aRemoved !== (b.status === 'removed')) return aRemoved ? a : b;
  if (a.version !== b.version) return a.version > b.version ? a : b;
  if (a.status !== b.status) return STATUS_RANK[b.status] > STATUS_RANK[a.status] ? b : a;
  if (a.changedAtMs !== b.changedAtMs) return a.changedAtMs > b.changedAtMs ? a : b;
  if (a.changedBy !== b.changedBy) return b.changedBy > a.changedBy ? b : a;
  if (a.peer !== b.peer) return b.peer > a.peer ? b : a;
  return b.http > a.http ? b : a;
}

/** A total order on the owner fields at one heartbeat (only a restarted node can tie differently). */
function ownerKey(r: MemberRecord): string {
  const t = r.transfer;
  return JSON.stringify([r.state, t === null ? null : [t.keysTotal, t.keysDone, t.targets]]);
}

function ownerWinner(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.heartbeat !== b.heartbeat) return a.heartbeat > b.heartbeat ? a : b;
  return ownerKey(b) > ownerKey(a) ? b : a;
}

/** Joins two records of the same node (commutative, associative, idempotent). */
export function mergeRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.id !== b.id) throw new Error(`assertion: merging records of ${a.id} and ${b.id}`);
  const v = versionedWinner(a, b);
  const o = ownerWinner(a, b);
  return { ...v, heartbeat: o.heartbeat, transfer: o.transfer, state: o.state };
}

/** The change a versioned-field update represents, or undefined if it changes nothing shown. */
export function changeOf(before: MemberRecord | undefined, after: MemberRecord): ChangeKind | undefined {
  if (before === undefined) return after.status === 'removed' ? 'removed' : 'added';
  if (after.status === 'removed') return before.status === 'removed' ? undefined : 'removed';
  // A higher epoch that is not a removal is an operator's add (possibly after a removal this
  // node never saw).
  if (before.status === 'removed' || after.epoch > before.epoch) return 'added';
  if (before.status !== after.status) return after.status;
  return before.peer !== after.peer || before.http !== after.http ? 'address' : undefined;
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
    Number.isSafeInteger(r.epoch) &&
    Number.isSafeInteger(r.version) &&
    typeof r.changedBy === 'string' &&
    typeof r.changedAtMs === 'number' &&
    Number.isSafeInteger(r.heartbeat) &&
    (r.state === 'ready' || r.state === 'syncing') &&
    okTransfer
  );
}
