// Who may ask what on the peer port, decided from the asking node's standing in this node's
// membership table (the transport has already proved who it is: its certificate names its id).
// Pure rules, no state: Membership says what a peer's standing is, DynakvNode.handle applies
// these rules before it reads a request, and answers a refusal with an error reply.
import { RefusedUnread } from '../env/transport.ts';
import type { PeerRequest } from '../protocol/messages.ts';

/**
 * - `member`: a ring member in this node's table (`up` or `down`);
 * - `handing-off`: removed, but this node learned of the removal less than the hand-off window
 *   ago (see REMOVED_HANDOFF_WINDOW_MS): it may still hand its keys to their new replicas;
 * - `stranger`: never added, or removed longer ago than the window.
 */
export type PeerStanding = 'member' | 'handing-off' | 'stranger';

export type PeerRefusalCode =
  | 'NOT_A_MEMBER' // the asking node may not send this request (see mayAsk)
  | 'NOT_READY' // this node serves no data yet (it has not heard the cluster's table, or is discarding stale data): ask again later
  | 'HANDOFF_CLOSED'; // a re-added node's data from before its removal, past this node's window for that removal (or a removal it never saw): not taken

/** A peer request refused before it was read; the transport sends `code` back in its error reply. */
export class PeerRefusal extends RefusedUnread {
  declare readonly code: PeerRefusalCode;
  constructor(code: PeerRefusalCode, message: string) {
    super(code, message);
    this.name = 'PeerRefusal';
  }
}

/**
 * Whether a node of `standing` may send a request of `kind`. Anyone authenticated may ping and
 * pull the table (a node being added learns it so, and a removed node learns it was removed;
 * Membership answers a non-member's gossip without merging it). Only members read or write
 * data, coordinate writes, run anti-entropy or ask for activity; a node handing off may only
 * deliver keys (replica_put_batch, which ring transfers and hint delivery send).
 */
export function mayAsk(standing: PeerStanding, kind: PeerRequest['kind']): boolean {
  switch (kind) {
    case 'ping':
    case 'gossip':
      return true;
    case 'replica_put_batch':
    case 'stale_put_batch':
      return standing !== 'stranger';
    case 'replica_put':
    case 'hint_put':
    case 'replica_get':
    case 'replica_load':
    case 'replica_get_batch':
    case 'replica_range':
    case 'forward_put':
    case 'ae_level':
    case 'ae_bucket':
    case 'activity':
      return standing === 'member';
  }
}

/** Whether a request reads or writes data: refused (NOT_READY) while this node serves none. */
export function isDataRequest(kind: PeerRequest['kind']): boolean {
  switch (kind) {
    case 'ping':
    case 'gossip':
    case 'activity':
      return false;
    case 'replica_put':
    case 'replica_put_batch':
    case 'stale_put_batch':
    case 'hint_put':
    case 'replica_get':
    case 'replica_load':
    case 'replica_get_batch':
    case 'replica_range':
    case 'forward_put':
    case 'ae_level':
    case 'ae_bucket':
      return true;
  }
}
