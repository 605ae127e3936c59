// An operator's add and remove (the only way into or out of the ring): checks a change against
// this node's table and builds the record it makes, in a new operator epoch that no detector
// verdict or refutation (versions within an epoch) can override. Pure: Membership applies the
// record, saves it and spreads it.
import type { NodeId } from '../env/transport.ts';
import { isNodeId, NODE_ID_RULE, parseHostPort } from '../protocol/ids.ts';
import { MembershipError } from './errors.ts';
import { isRingMember, MEMBERS_MAX, MEMBERSHIP_COUNT_MAX, nextCount, type MemberRecord } from './table.ts';

/** Who makes the change, and when (its wall clock). */
export interface ChangeMaker {
  readonly self: NodeId;
  readonly nowMs: number;
}

/**
 * Operator changes are made through a ring member: members merge only members' gossip, so a
 * change made on a removed (or not yet added) node would stay on it alone.
 */
function assertMemberForChanges(records: ReadonlyMap<NodeId, MemberRecord>, self: NodeId): void {
  const own = records.get(self);
  if (own === undefined || !isRingMember(own)) {
    throw new MembershipError('NOT_A_MEMBER', `node ${self} is not a ring member (${own?.status ?? 'never added'}), so no other node would take this change from it; make it through a member`);
  }
}

/** The record that puts `id` into the ring (new, or re-added after a removal); throws MembershipError when refused. */
export function addedRecord(records: ReadonlyMap<NodeId, MemberRecord>, by: ChangeMaker, id: NodeId, peer: string, http: string): MemberRecord {
  assertMemberForChanges(records, by.self);
  if (!isNodeId(id)) throw new MembershipError('BAD_MEMBER', `bad node id ${JSON.stringify(id)}: use ${NODE_ID_RULE}`);
  if (parseHostPort(peer) === undefined) throw new MembershipError('BAD_MEMBER', `bad peer address "${peer}": expected HOST:PORT`);
  if (http !== '' && parseHostPort(http) === undefined) throw new MembershipError('BAD_MEMBER', `bad http address "${http}": expected HOST:PORT`);
  const existing = records.get(id);
  if (existing !== undefined && existing.status !== 'removed') throw new MembershipError('MEMBER_EXISTS', `node ${id} is already a member (${existing.status})`);
  if (existing === undefined && records.size >= MEMBERS_MAX) {
    throw new MembershipError('TOO_MANY_MEMBERS', `the table already holds ${MEMBERS_MAX} records (removed nodes included); re-add a removed id instead`);
  }
  for (const r of records.values()) {
    if (r.id !== id && r.status !== 'removed' && (r.peer === peer || (http !== '' && r.http === http))) {
      throw new MembershipError('ADDRESS_IN_USE', `address already used by member ${r.id}`);
    }
  }
  return {
    id,
    peer,
    http,
    status: 'up',
    // An operator change opens a new epoch, which no older detector verdict can override.
    epoch: nextEpoch(existing, id),
    version: existing === undefined ? 1 : nextVersionInNewEpoch(existing),
    changedBy: by.self,
    changedAtMs: by.nowMs,
    heartbeat: existing?.heartbeat ?? 0,
    transfer: null,
    state: 'ready',
  };
}

/** The record that takes `id` out of the ring, if at least `n` members stay; throws MembershipError when refused. */
export function removedRecord(records: ReadonlyMap<NodeId, MemberRecord>, by: ChangeMaker, id: NodeId, n: number): MemberRecord {
  assertMemberForChanges(records, by.self);
  const existing = records.get(id);
  if (existing === undefined || existing.status === 'removed') throw new MembershipError('UNKNOWN_MEMBER', `node ${id} is not a member`);
  const members = [...records.values()].filter(isRingMember).length;
  if (members - 1 < n) throw new MembershipError('TOO_FEW_NODES', `removing ${id} would leave ${members - 1} nodes, fewer than N=${n} replicas`);
  return { ...existing, status: 'removed', epoch: nextEpoch(existing, id), version: nextVersionInNewEpoch(existing), changedBy: by.self, changedAtMs: by.nowMs };
}

/**
 * The version an operator change (a new epoch) gives `existing`: one more, or 1 again once the
 * version reached MEMBERSHIP_COUNT_MAX (the new epoch orders first, so restarting is safe).
 */
function nextVersionInNewEpoch(existing: MemberRecord): number {
  return nextCount(existing.version) ?? 1;
}

/** The epoch of an operator change to `existing` (1 for a new id); refused at the bound. */
function nextEpoch(existing: MemberRecord | undefined, id: NodeId): number {
  if (existing === undefined) return 1;
  const epoch = nextCount(existing.epoch);
  if (epoch === undefined) throw new MembershipError('COUNT_LIMIT', `node ${id}'s operator epoch is at its bound (${MEMBERSHIP_COUNT_MAX}); it can no longer change: add the node under a new id`);
  return epoch;
}
