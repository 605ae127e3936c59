// The node's front door: the one interface through which the outer layers (src/api, src/ui,
// src/metrics, and any later front such as the planned DynamoDB API) use a node. Verbs and
// read-only views only; the node's parts (coordinator, membership, stores, hand-off,
// anti-entropy, transport) stay behind it. DynakvNode (node.ts) implements it, and
// test/node/front-door.test.ts checks that the outer layers import nothing else of the node.
import type { NodeId } from '../env/transport.ts';
import type { AdmissionState } from '../membership/admission.ts';
import type { SeenStatus } from '../membership/seen-status.ts';
import type { ChangeLogEntry, MemberRecord } from '../membership/table.ts';
import type { NodeActivity } from '../protocol/activity.ts';
import type { Ring } from '../ring/ring.ts';
import type { Sibling } from '../version/siblings.ts';
import type { NodeConfig } from './config.ts';

// Plain data types of the membership the outer layers show; re-exported so that they need no
// import from src/membership/.
export type { AdmissionState, ChangeLogEntry, MemberRecord, SeenStatus };

export interface NodeFrontDoor {
  /** This node's id. */
  readonly id: NodeId;
  /** Its configuration: N, the limits its HTTP door enforces, the secret that checks credentials. */
  readonly config: NodeConfig;

  /** A client's read through a quorum of R replicas (default config.r). */
  get(key: string, r?: number): Promise<VersionsRead>;
  /**
   * A client's write, acknowledged once W replicas hold it durably; resolves to the new
   * version's context. A context this cluster did not issue for the key is refused (BAD_CONTEXT).
   */
  put(write: ClientWrite): Promise<string>;
  /** A client's delete (a tombstone written like a value); resolves to its context. */
  delete(request: ClientDelete): Promise<string>;
  /** The versions this node's own replica holds (no quorum), with their context. */
  readLocal(key: string): VersionsRead;
  /** Up to `limit` keys of this node's own replica in key order, from `start` (inclusive). */
  localKeys(start: string | undefined, limit: number): string[];
  /**
   * Where a key lives: its preference list in this node's ring and what each replica holds,
   * asked over the peer link (no quorum), each within `timeoutMs`. Undefined without a ring.
   */
  lookup(key: string, timeoutMs: number): Promise<KeyLookup | undefined>;

  /**
   * Node `node`'s replicas of the keys in [start, end) in key order (descending if `reverse`), at most `limit`
   * (1..TRANSFER_BATCH_KEYS_MAX) and no more than fit one peer batch; no quorum, no repair. This
   * node's own store, any other's over the peer link within `timeoutMs`. Rejects when it cannot
   * answer (unreachable, not serving, no answer in time).
   */
  readRange(node: NodeId, start: string, end: string, limit: number, reverse: boolean, timeoutMs: number): Promise<RangeRead>;

  /** The ring this node routes by; undefined until it has learned one. */
  ring(): Ring | undefined;
  /** The membership table as this node sees it, each member with its health, and the change log. */
  members(): MembersTable;
  /** An operator's add; resolves with the new record once the table is durable. */
  addMember(id: NodeId, peer: string, http: string): Promise<MemberRecord>;
  /** An operator's remove; resolves with the new record once the table is durable. */
  removeMember(id: NodeId): Promise<MemberRecord>;

  /** A snapshot of this node's counters and states: a copy, later changes do not show in it. */
  stats(): NodeStats;
  /** What member `id` tells dashboards about itself, over the peer link; null if it does not answer for itself in time. */
  peerActivity(id: NodeId, timeoutMs: number): Promise<NodeActivity | null>;
  /** Installs what this node answers to a peer's `activity` request (none: it answers null). */
  setActivitySource(source: () => NodeActivity): void;
}

/** A client's write: `context` is the string a read returned ('' for a blind write). */
export interface ClientWrite {
  readonly key: string;
  /** null deletes. */
  readonly value: Uint8Array | null;
  readonly contentType: string;
  readonly context: string;
  readonly w?: number;
}

/** A client's delete: `context` as for a write. */
export interface ClientDelete {
  readonly key: string;
  readonly context: string;
  readonly w?: number;
}

/** A key's versions (tombstones included) and the context a client sends back to supersede them. */
export interface VersionsRead {
  readonly siblings: readonly Sibling[];
  readonly context: string;
}

/** A range read's keys with their versions (tombstones included); `more` when keys may follow. */
export interface RangeRead {
  readonly entries: readonly { readonly key: string; readonly siblings: readonly Sibling[] }[];
  readonly more: boolean;
}

/** One replica's versions of a key, as a lookup found them. */
export interface ReplicaVersions {
  readonly node: NodeId;
  /** Its health as this node sees it; `unknown` when this node holds no record of it. */
  readonly status: SeenStatus | 'unknown';
  /** The versions it stores (tombstones included); empty when it holds none or could not answer. */
  readonly siblings: readonly Sibling[];
  /** Why its versions could not be read, if they could not. */
  readonly error: string | null;
}

export interface KeyLookup {
  readonly key: string;
  readonly preferenceList: readonly NodeId[];
  /** In preference-list order. */
  readonly replicas: readonly ReplicaVersions[];
}

export interface MemberEntry {
  readonly record: MemberRecord;
  /** Its health as this node sees it (src/membership/seen-status.ts). */
  readonly seen: SeenStatus;
  /** When this node last heard from it (ms since epoch), if ever. */
  readonly lastHeardMs: number | null;
}

export interface MembersTable {
  /** One entry per node ever added (removed ones stay), by id. */
  readonly members: readonly MemberEntry[];
  /** Membership changes, oldest first. */
  readonly log: readonly ChangeLogEntry[];
}

export interface TransferStats {
  /** A ring-change transfer is running. */
  readonly active: boolean;
  /** Keys sent to new replicas, and dropped here once they held them. */
  readonly keysSent: number;
  readonly keysDropped: number;
  /** Keys found too large for any frame (reported and kept here). */
  readonly keysTooLarge: number;
}

/** Recovery and anti-entropy: `syncing` until every range was compared (and while not serving). */
export interface SyncStats {
  readonly state: 'ready' | 'syncing';
  readonly pairsDone: number;
  readonly pairsTotal: number;
  /** Range syncs (Merkle comparisons) run, and what they moved and cost. */
  readonly syncs: number;
  readonly keysPulled: number;
  readonly keysPushed: number;
  readonly hashesCompared: number;
  /** Encoded size of every anti-entropy message this node sent and received. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly tombstonesPurged: number;
}

/** Every counter since start, and every state, a node keeps about itself: read, never written. */
export interface NodeStats {
  readonly node: NodeId;
  /** Keys this node stores (tombstones included). */
  readonly keys: number;
  readonly transfer: TransferStats;
  /** Hints this node holds, per owner they wait for. */
  readonly hints: Readonly<Record<NodeId, number>>;
  /** Hints accepted and made durable for a down replica (sloppy quorum). */
  readonly hintsStored: number;
  /** Hints handed to their owner, acknowledged durably. */
  readonly hintsDelivered: number;
  /** Times a hint was found too large for any frame (kept, retried after backoff). */
  readonly hintsTooLarge: number;
  /** Writes this node coordinated that used a hint for a replica. */
  readonly hintedWrites: number;
  /** Writes this node coordinated from outside the key's preference list, as hints (no replica could take them). */
  readonly fallbackWrites: number;
  /** Replicas this node repaired after a read it coordinated. */
  readonly readRepairs: number;
  /** Records found on disk that do not decode (data and hints): reported, read as absent, rewritten by repair. */
  readonly corruptRecords: number;
  readonly sync: SyncStats;
  /** Whether this node serves data yet (admission.ts): `waiting` for the table, `discarding` stale data, `serving`. */
  readonly admission: AdmissionState;
  /** Times this node discarded data from an earlier membership, and the replicas and hints it deleted. */
  readonly discarded: { readonly discards: number; readonly replicas: number; readonly hints: number };
  /** Gossip rounds this node started. */
  readonly gossipRounds: number;
  /** Peers this node's failure detector started (down) or stopped (up) holding down. */
  readonly detectorTransitions: { readonly down: number; readonly up: number };
}
