// Key lookup for the dashboard (GET /cluster/lookup/{key}): the key's ring position, its
// preference list in this node's ring, and the versions each replica stores, as the node's
// lookup verb found them (every replica asked over the peer link, no quorum: the point is to see
// where replicas differ), shown in the API's JSON forms.
import { ApiError } from '../api/error-status.ts';
import { siblingView, type SiblingView } from '../api/views.ts';
import type { NodeFrontDoor, SeenStatus } from '../node/front-door.ts';
import { positionHex, ringPosition } from '../ring/ring.ts';

/** A replica's answer must come within this, or the lookup shows it as unreachable. */
const REPLICA_TIMEOUT_MS = 1_000;

export interface ReplicaVersions {
  readonly node: string;
  readonly status: SeenStatus | 'unknown';
  /** The versions it stores (tombstones included); empty when it holds none. */
  readonly siblings: readonly SiblingView[];
  /** Why its versions could not be read, if they could not. */
  readonly error: string | null;
}

export interface KeyLookup {
  readonly key: string;
  readonly position: string;
  readonly preferenceList: readonly string[];
  readonly replicas: readonly ReplicaVersions[];
}

export async function lookupKey(node: NodeFrontDoor, key: string): Promise<KeyLookup> {
  const found = await node.lookup(key, REPLICA_TIMEOUT_MS);
  if (found === undefined) throw new ApiError('NO_RING', `node ${node.id} has not learned the ring yet`);
  return {
    key,
    position: positionHex(ringPosition(key)),
    preferenceList: found.preferenceList,
    replicas: found.replicas.map((r) => ({ node: r.node, status: r.status, siblings: r.siblings.map(siblingView), error: r.error })),
  };
}
