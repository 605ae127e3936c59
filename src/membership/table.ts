// The membership table as pure data: one record per node ever added, merged as a join, the log
// entries a merge produces, and the parsers that turn an untrusted record (gossip, a file read
// back) into a typed one. Versioned fields (status, addresses) are ordered first by the operator
// epoch, then by version within it; owner fields (heartbeat, transfer progress, sync state) are
// written only by the node itself and win by higher heartbeat. No I/O here.
import { assert } from '../env/assert.ts';
import type { NodeId } from '../env/transport.ts';
import { isCount, isNodeId, isTimeMs, parseHostPort } from '../protocol/ids.ts';

export type MemberStatus = 'up' | 'down' | 'removed';

/**
 * Records a table may hold (one per node ever added; removed ones stay). Gossip carries the
 * whole table, so this also bounds a gossip message: an add beyond it is refused, and a gossip
 * frame with more records is malformed. About 290 bytes a record (measured with 26-character
 * ids): some 300 KiB per exchange at the limit, far below the peer frame limit.
 */
export const MEMBERS_MAX = 1_024;
/**
 * Largest epoch, version or heartbeat a record may carry (2^48). Far below 2^53, where `+ 1`
 * stops being exact and peers refuse the value, yet out of reach of honest use: a heartbeat
 * bumped every second takes 8.9 million years to get there. A record beyond it is malformed
 * (gossip) or clamped to it (read back from disk); membership never increments a count past
 * it: the change is refused and logged instead (see Membership.increment), so no frame can make
 * a node write a table it or its peers would refuse.
 */
export const MEMBERSHIP_COUNT_MAX = 2 ** 48;

/** A count of the membership protocol: a safe integer in 0..MEMBERSHIP_COUNT_MAX. */
export function isMembershipCount(x: unknown): x is number {
  return isCount(x) && x <= MEMBERSHIP_COUNT_MAX;
}

/** `n + 1`, or undefined when that would pass MEMBERSHIP_COUNT_MAX. */
export function nextCount(n: number): number | undefined {
  return n < MEMBERSHIP_COUNT_MAX ? n + 1 : undefined;
}

/** Nodes one transfer status may name: a transfer only sends to members. */
export const TRANSFER_TARGETS_MAX = MEMBERS_MAX;

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
   * wins. Operator changes bump it too, so the number an operator sees never goes back, except
   * that one reaching MEMBERSHIP_COUNT_MAX restarts at 1 in the operator's new epoch (the epoch
   * orders first, so nothing older can win by it).
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
const CHANGE_KINDS: readonly ChangeKind[] = ['added', 'removed', 'down', 'up', 'address'];

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

/** Whether two records of a node carry the same owner fields (heartbeat aside). */
export function sameOwnerFields(a: MemberRecord, b: MemberRecord): boolean {
  return ownerKey(a) === ownerKey(b);
}

function ownerWinner(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.heartbeat !== b.heartbeat) return a.heartbeat > b.heartbeat ? a : b;
  return ownerKey(b) > ownerKey(a) ? b : a;
}

/** Joins two records of the same node (commutative, associative, idempotent). */
export function mergeRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  assert(a.id === b.id, () => `merging records of ${a.id} and ${b.id}`);
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

// --- parsing untrusted records ---------------------------------------------------------------

/** A parsed value, or what is wrong with the input (for logs and error messages). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

type Fields = Record<string, unknown>;

function isObject(x: unknown): x is Fields {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function fail<T>(problem: string): Parsed<T> {
  return { ok: false, problem };
}

/** A short, escaped rendering of a bad value for a problem message. */
function shown(x: unknown): string {
  let text: string;
  try {
    text = typeof x === 'number' ? String(x) : (JSON.stringify(x) ?? String(x));
  } catch {
    text = typeof x;
  }
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function parseTransfer(x: unknown): Parsed<TransferStatus | null> {
  if (x === null) return { ok: true, value: null };
  if (!isObject(x)) return fail(`transfer: not an object or null: ${shown(x)}`);
  if (!isCount(x.keysTotal)) return fail(`transfer.keysTotal: not a count: ${shown(x.keysTotal)}`);
  if (!isCount(x.keysDone)) return fail(`transfer.keysDone: not a count: ${shown(x.keysDone)}`);
  if (!Array.isArray(x.targets)) return fail(`transfer.targets: not a list`);
  if (x.targets.length > TRANSFER_TARGETS_MAX) return fail(`transfer.targets: ${x.targets.length} targets, more than ${TRANSFER_TARGETS_MAX}`);
  const bad = x.targets.find((t) => !isNodeId(t));
  if (bad !== undefined) return fail(`transfer.targets: not a node id: ${shown(bad)}`);
  return { ok: true, value: { keysTotal: x.keysTotal, keysDone: x.keysDone, targets: [...(x.targets as NodeId[])] } };
}

/**
 * Parses one untrusted member record (a gossip record, or one read back from disk) into a fresh
 * typed record holding only the known fields: ids by the id rule, addresses HOST:PORT (http may
 * be empty), finite times, epoch/version/heartbeat within 0..MEMBERSHIP_COUNT_MAX, a bounded
 * transfer status.
 */
export function parseMemberRecord(x: unknown): Parsed<MemberRecord> {
  if (!isObject(x)) return fail(`not an object: ${shown(x)}`);
  const { id, peer, http, status, epoch, version, changedBy, changedAtMs, heartbeat, state } = x;
  if (!isNodeId(id)) return fail(`id: not a node id: ${shown(id)}`);
  if (parseHostPort(peer) === undefined) return fail(`peer: not HOST:PORT: ${shown(peer)}`);
  if (http !== '' && parseHostPort(http) === undefined) return fail(`http: not HOST:PORT or empty: ${shown(http)}`);
  if (status !== 'up' && status !== 'down' && status !== 'removed') return fail(`status: not up, down or removed: ${shown(status)}`);
  if (!isMembershipCount(epoch)) return fail(`epoch: not a count up to ${MEMBERSHIP_COUNT_MAX}: ${shown(epoch)}`);
  if (!isMembershipCount(version)) return fail(`version: not a count up to ${MEMBERSHIP_COUNT_MAX}: ${shown(version)}`);
  if (!isNodeId(changedBy)) return fail(`changedBy: not a node id: ${shown(changedBy)}`);
  if (!isTimeMs(changedAtMs)) return fail(`changedAtMs: not a finite time: ${shown(changedAtMs)}`);
  if (!isMembershipCount(heartbeat)) return fail(`heartbeat: not a count up to ${MEMBERSHIP_COUNT_MAX}: ${shown(heartbeat)}`);
  if (state !== 'ready' && state !== 'syncing') return fail(`state: not ready or syncing: ${shown(state)}`);
  const transfer = parseTransfer(x.transfer);
  if (!transfer.ok) return transfer;
  return {
    ok: true,
    value: { id, peer: peer as string, http: http as string, status, epoch, version, changedBy, changedAtMs, heartbeat, transfer: transfer.value, state },
  };
}

/** Parses a list of untrusted records, at most MEMBERS_MAX; the first bad one fails the list. */
export function parseMemberRecords(x: unknown): Parsed<MemberRecord[]> {
  if (!Array.isArray(x)) return fail('not a list of records');
  if (x.length > MEMBERS_MAX) return fail(`${x.length} records, more than ${MEMBERS_MAX}`);
  const records: MemberRecord[] = [];
  for (const [i, item] of x.entries()) {
    const r = parseMemberRecord(item);
    if (!r.ok) return fail(`record ${i}${isObject(item) && isNodeId(item.id) ? ` (${item.id})` : ''}: ${r.problem}`);
    records.push(r.value);
  }
  return { ok: true, value: records };
}

/** Parses one untrusted change log entry into a fresh typed one. */
export function parseChangeLogEntry(x: unknown): Parsed<ChangeLogEntry> {
  if (!isObject(x)) return fail(`not an object: ${shown(x)}`);
  const { atMs, node, change, epoch, version, by, changedAtMs } = x;
  if (!isTimeMs(atMs)) return fail(`atMs: not a finite time: ${shown(atMs)}`);
  if (!isNodeId(node)) return fail(`node: not a node id: ${shown(node)}`);
  if (!CHANGE_KINDS.includes(change as ChangeKind)) return fail(`change: not one of ${CHANGE_KINDS.join(', ')}: ${shown(change)}`);
  if (!isMembershipCount(epoch)) return fail(`epoch: not a count up to ${MEMBERSHIP_COUNT_MAX}: ${shown(epoch)}`);
  if (!isMembershipCount(version)) return fail(`version: not a count up to ${MEMBERSHIP_COUNT_MAX}: ${shown(version)}`);
  if (!isNodeId(by)) return fail(`by: not a node id: ${shown(by)}`);
  if (!isTimeMs(changedAtMs)) return fail(`changedAtMs: not a finite time: ${shown(changedAtMs)}`);
  return { ok: true, value: { atMs, node, change: change as ChangeKind, epoch, version, by, changedAtMs } };
}
