// Key lookup for the dashboard (GET /cluster/lookup/{key}): the key's ring position, its
// preference list in this node's ring, and the versions each replica stores, read from every
// replica with a replica_get over the peer link (no quorum: the point is to see where replicas
// differ). Never from an HTTP address a member published: that would let a member point this
// node's requests anywhere.
import { ApiError } from '../api/error-status.ts';
import { seenStatus, siblingView, type SeenStatus, type SiblingView } from '../api/views.ts';
import { TransportError } from '../env/transport.ts';
import type { DynakvNode } from '../node/node.ts';
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

export async function lookupKey(node: DynakvNode, key: string): Promise<KeyLookup> {
  const ring = node.ring();
  if (ring === undefined) throw new ApiError('NO_RING', `node ${node.id} has not learned the ring yet`);
  const preferenceList = ring.preferenceList(key, node.config.n);
  const replicas = await Promise.all(preferenceList.map((id) => replicaVersions(node, id, key)));
  return { key, position: positionHex(ringPosition(key)), preferenceList, replicas };
}

async function replicaVersions(node: DynakvNode, id: string, key: string): Promise<ReplicaVersions> {
  if (id === node.id) return { node: id, status: 'up', siblings: node.store.read(key).map(siblingView), error: null };
  const record = node.membership.record(id);
  const status = record === undefined ? 'unknown' : seenStatus(node, record);
  try {
    const reply = await node.world.transport.request(id, { kind: 'replica_get', key }, REPLICA_TIMEOUT_MS);
    if (reply.kind !== 'replica_get_ok') return { node: id, status, siblings: [], error: `unexpected reply ${reply.kind}` };
    return { node: id, status, siblings: reply.record.siblings.map(siblingView), error: null };
  } catch (err) {
    const error = err instanceof TransportError ? (err.code === 'UNREACHABLE' || err.code === 'CLOSED' ? 'unreachable' : err.code === 'TIMEOUT' ? 'no answer in time' : err.message) : (err as Error).message;
    return { node: id, status, siblings: [], error };
  }
}
