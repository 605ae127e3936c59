// A member's health as one node sees it, from its membership record and that node's own failure
// detector: what the dashboard colours, metrics count and a key lookup shows per replica. Pure:
// the caller says which peers its detector holds down.
import type { NodeId } from '../env/transport.ts';
import type { MemberRecord } from './table.ts';

export type SeenStatus = 'up' | 'down' | 'syncing' | 'removed';

/**
 * This node's own failure detector decides down (as routing does), so a node that is cut off
 * shows what it sees; a gossiped down counts too until the node refutes it. Syncing is the
 * member's own published state.
 */
export function seenStatus(record: MemberRecord, isLocallyDown: (id: NodeId) => boolean): SeenStatus {
  if (record.status === 'removed') return 'removed';
  if (isLocallyDown(record.id) || record.status === 'down') return 'down';
  return record.state === 'syncing' ? 'syncing' : 'up';
}
