// This node's view of the cluster: the membership table and its change log, kept durable in
// the meta space, spread by push-pull gossip and updated by ping failure detection (the seed's
// rules; the verdicts are failure-detector.ts's). Nodes enter or leave the ring only through
// addMember/removeMember, i.e. an operator, whose changes open a new epoch that detector
// verdicts and refutations cannot override; `down` is a transient status that never changes the
// ring. Only members' gossip is merged, and a node's owner fields only from that node (see
// standingOf, receiveGossip). Runs on the injected clock, random and transport only.
import type { Clock, Timer } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import type { Storage } from '../env/storage.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import { isNodeId, NODE_ID_RULE, parseHostPort } from '../protocol/ids.ts';
import { Ring } from '../ring/ring.ts';
import { decodeLog, decodeTable, encodeLog, encodeTable, META_LOG, META_TABLE } from './persisted.ts';
import type { PeerStanding } from './peer-authority.ts';
import { FailureDetector } from './failure-detector.ts';
import { changeOf, isRingMember, MEMBERS_MAX, MEMBERSHIP_COUNT_MAX, mergeRecord, nextCount, sameOwnerFields, TRANSFER_TARGETS_MAX, type ChangeLogEntry, type MemberRecord, type TransferStatus } from './table.ts';

export interface MembershipConfig {
  /** How often this node gossips with one random peer. */
  readonly gossipIntervalMs: number;
  /** How often every peer is pinged. */
  readonly pingIntervalMs: number;
  /**
   * A peer whose ping is not answered within this is suspect (requests try it last); a pong
   * that comes later, up to PING_WAIT_PINGS_TIMEOUTS times this, still counts as a heartbeat.
   */
  readonly pingTimeoutMs: number;
  /** Silence beyond a peer's usual interval before the detector starts to doubt it (failure-detector.ts). */
  readonly acceptablePauseMs: number;
  /** Change log entries kept (oldest dropped first). */
  readonly logEntriesMax: number;
  /** Replicas per key: a remove that leaves fewer nodes is refused. */
  readonly n: number;
  /**
   * How long after this node learned that a member was removed it still takes that node's
   * hand-off (see REMOVED_HANDOFF_WINDOW_MS; handoffWindowMs gives the production value).
   */
  readonly removedHandoffWindowMs: number;
}

/**
 * How long a removed node may still hand its keys off to this node (replica_put_batch, and its
 * own transfer progress in gossip), counted on this node's clock from when it learned of the
 * removal: one hour. Long enough for a live node to stream what it holds (a ring transfer moves
 * tens of MB/s, so some 100 GB an hour), short enough that a removed node's certificate is soon
 * useless: after the window it may only ping and pull the table. handoffWindowMs also caps it at
 * half the tombstone grace period, so that a hand-off arriving within the window cannot outlive
 * a tombstone written after the removal (its replicas purge it no sooner than the grace period
 * after it was written), and no tombstone is purged on this node while a window is open (see
 * removedHandoffOpen: a removed node that missed a delete would hand the value back after its
 * tombstone went). What a removed node has not handed off by then stays on it (its keys'
 * other replicas have their copies; a write only it held is lost: see the README).
 */
export const REMOVED_HANDOFF_WINDOW_MS = 60 * 60_000;

/** The hand-off window for a cluster whose tombstones are purged after `tombstoneGraceMs`. */
export function handoffWindowMs(tombstoneGraceMs: number): number {
  return Math.min(REMOVED_HANDOFF_WINDOW_MS, Math.floor(tombstoneGraceMs / 2));
}

export const DEFAULT_MEMBERSHIP_CONFIG: Omit<MembershipConfig, 'n'> = {
  gossipIntervalMs: 1_000,
  pingIntervalMs: 500,
  pingTimeoutMs: 500,
  acceptablePauseMs: 1_000,
  logEntriesMax: 1_000,
  removedHandoffWindowMs: REMOVED_HANDOFF_WINDOW_MS,
};

export type MembershipErrorCode =
  | 'MEMBER_EXISTS'
  | 'ADDRESS_IN_USE'
  | 'UNKNOWN_MEMBER'
  | 'TOO_FEW_NODES'
  | 'TOO_MANY_MEMBERS' // the table already holds MEMBERS_MAX records
  | 'BAD_MEMBER'
  | 'COUNT_LIMIT' // the id's operator epoch reached MEMBERSHIP_COUNT_MAX: add the node under a new id
  | 'NOT_A_MEMBER' // this node is not a ring member itself: its changes would not spread, make them through a member
  | 'CORRUPT_TABLE'; // the persisted table does not parse: the node does not start

export class MembershipError extends Error {
  constructor(
    readonly code: MembershipErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}

export interface MembershipDeps {
  readonly self: NodeId;
  readonly selfPeer: string;
  readonly selfHttp: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly storage: Storage;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly log: Log;
  readonly config: MembershipConfig;
}

export type RingListener = (previous: Ring | undefined, next: Ring | undefined) => void;

/**
 * The version an operator change (a new epoch) gives `existing`: one more, or 1 again once the
 * version reached MEMBERSHIP_COUNT_MAX (the new epoch orders first, so restarting is safe).
 */
function nextVersionInNewEpoch(existing: MemberRecord): number {
  return nextCount(existing.version) ?? 1;
}

/**
 * Members (or join seeds) asked for their table at start, at once: one answer is enough to
 * serve, a few cover a peer that is down, and a large cluster is not sent a table by every node
 * that restarts. The others are reached by the gossip rounds.
 */
const STARTUP_EXCHANGES_MAX = 3;
/**
 * A ping waits for its pong up to this many ping timeouts (2 s at the defaults): a pong delayed
 * by a busy peer is still a heartbeat.
 */
const PING_WAIT_PINGS_TIMEOUTS = 4;
/** A peer that answered within this many of its ping intervals counts as in contact (see inContact). */
const CONTACT_PINGS = 3;
/**
 * Peers pinged per ping interval at most, in turn: every peer each interval up to 33 nodes; in a
 * larger cluster each peer every ceil(peers / PINGS_PER_ROUND_MAX) intervals (4 at 100 nodes:
 * 2 s), so a node's ping traffic stays bounded as the cluster grows and the cluster's grows
 * linearly, not as n^2. The detector learns each peer's interval (it waits longer in a large
 * cluster: about 5 s to hold a dead node down at 100 nodes, 2.5 s at 5, in the simulator).
 */
export const PINGS_PER_ROUND_MAX = 32;
/**
 * Peers a change is pushed to at once, at random; each node that learns a versioned change from
 * it passes it on the same way (rumour mongering), so a change reaches n nodes in about log4(n)
 * hops with about 4n exchanges of the table, not n^2 (a ring change made every node announce its
 * transfer to every other: 123 MB of gossip at 100 nodes in the simulator).
 */
export const SPREAD_FANOUT = 4;

/** Pseudo node id prefix for a join address whose node id is not known yet. */
export const SEED_PREFIX = 'seed:';

export class Membership {
  private readonly records = new Map<NodeId, MemberRecord>();
  private changeLog: ChangeLogEntry[] = [];
  private currentRing: Ring | undefined;
  private readonly listeners: RingListener[] = [];
  private readonly peerUpListeners: Array<(id: NodeId) => void> = [];
  private readonly tableHeardListeners: Array<() => void> = [];
  private readonly ownEpochListeners: Array<(before: MemberRecord, after: MemberRecord) => void> = [];
  /** Merged a table from a ring member (or a join seed) since start. */
  private heardTable = false;
  /** This node's own record's epoch as the table was read back from disk (undefined: no saved table, or not in it). */
  readonly persistedOwnEpoch: number | undefined;
  private readonly detector: FailureDetector;
  /** Peers this node's detector holds down. */
  private readonly down = new Set<NodeId>();
  /** Peers whose last ping failed (an error, or no answer in time) since they last answered. */
  private readonly pingFailed = new Set<NodeId>();
  /** Where the next ping round starts in the sorted peers (see PINGS_PER_ROUND_MAX). */
  private pingCursor = 0;
  /** How often each peer is pinged now: pingIntervalMs, or a multiple in a large cluster. */
  private pingEveryMs: number;
  /** A probe of every peer held down is scheduled (after one answered again). */
  private probeTimer: Timer | undefined;
  private readonly lastHeardMs = new Map<NodeId, number>();
  private timers: Timer[] = [];
  private persisting: Promise<void> = Promise.resolve();
  private stopped = false;
  private seeds: string[] = [];
  /** Counts already reported as stuck at MEMBERSHIP_COUNT_MAX (one warning each). */
  private readonly countsAtLimit = new Set<string>();
  /**
   * When this node learned that each (formerly member) node was removed, on its monotonic clock
   * (a wall-clock step cannot stretch the hand-off window), and the removal's epoch; rebuilt from
   * the change log at start. Kept through a re-add until the window ends: the re-added node may
   * hand off what it held before its removal (see staleHandoffOpen).
   */
  private readonly removalLearnedMs = new Map<NodeId, { readonly atMs: number; readonly epoch: number }>();
  /** When askForNews last gossiped. */
  private lastNewsAskMs: number | undefined;
  /** A gossip of our own record to every peer is due (coalesced: see spreadSoon). */
  private spreadTimer: Timer | undefined;
  gossipRounds = 0;
  /** Times this node's own failure detector started (down) or stopped (up) holding a peer down. */
  readonly detectorTransitions = { down: 0, up: 0 };

  constructor(private readonly deps: MembershipDeps) {
    this.detector = new FailureDetector({ acceptablePauseMs: deps.config.acceptablePauseMs });
    this.pingEveryMs = deps.config.pingIntervalMs;
    // Our own record travels in every gossip, where peers refuse a frame with a bad field: a bad
    // id or address here would silently cut this node off, so it stops the start instead.
    const { self, selfPeer, selfHttp } = deps;
    if (!isNodeId(self)) throw new MembershipError('BAD_MEMBER', `bad node id ${JSON.stringify(self)}: use ${NODE_ID_RULE}`);
    if (parseHostPort(selfPeer) === undefined) throw new MembershipError('BAD_MEMBER', `bad advertised peer address ${JSON.stringify(selfPeer)}: expected HOST:PORT`);
    if (selfHttp !== '' && parseHostPort(selfHttp) === undefined) throw new MembershipError('BAD_MEMBER', `bad advertised http address ${JSON.stringify(selfHttp)}: expected HOST:PORT`);
    this.load();
    this.persistedOwnEpoch = this.records.get(self)?.epoch;
  }

  /**
   * Seeds an empty table with the static bootstrap list (the first nodes of a cluster). A node
   * whose table was persisted ignores it: the table is what nodes use afterwards.
   */
  bootstrap(peers: ReadonlyArray<{ id: NodeId; peer: string }>): void {
    if (this.records.size > 0) return;
    if (peers.length > MEMBERS_MAX) throw new MembershipError('TOO_MANY_MEMBERS', `${peers.length} bootstrap peers, more than ${MEMBERS_MAX}`);
    for (const p of peers) {
      if (!isNodeId(p.id)) throw new MembershipError('BAD_MEMBER', `bad bootstrap node id ${JSON.stringify(p.id)}: use ${NODE_ID_RULE}`);
      if (parseHostPort(p.peer) === undefined) throw new MembershipError('BAD_MEMBER', `bad bootstrap peer address ${JSON.stringify(p.peer)}: expected HOST:PORT`);
    }
    for (const p of peers) {
      this.apply({
        id: p.id,
        peer: p.peer,
        http: p.id === this.deps.self ? this.deps.selfHttp : '',
        status: 'up',
        // The bootstrap list is the cluster's first operator action: epoch 0.
        epoch: 0,
        version: 1,
        // Our own record carries our HTTP address; stamping it as our change lets it win the
        // version-1 tie against the address-less bootstrap records on the other nodes.
        changedBy: p.id === this.deps.self ? this.deps.self : 'bootstrap',
        changedAtMs: p.id === this.deps.self ? this.deps.clock.nowMs() : 0,
        heartbeat: 0,
        transfer: null,
        state: 'ready',
      }, this.deps.self);
    }
    this.publishSelf();
    this.afterChange();
  }

  /** Addresses (host:port) to pull the table from when this node knows no cluster yet. */
  joinVia(seeds: readonly string[]): void {
    this.seeds = [...seeds];
  }

  /**
   * Starts gossip and pings, and at once asks a few ring members (STARTUP_EXCHANGES_MAX, picked
   * at random) for their table: until one answers, this node serves no data (see admission.ts),
   * so it should not wait for a round.
   */
  start(): void {
    this.publishSelf();
    const others = this.otherMembers();
    for (let i = 0; i < STARTUP_EXCHANGES_MAX && others.length > 0; i++) void this.exchange(others.splice(this.deps.random.nextInt(others.length), 1)[0]!);
    if (this.otherMembers().length === 0 && this.seeds.length > 0) for (const seed of this.seeds.slice(0, STARTUP_EXCHANGES_MAX)) void this.exchange(SEED_PREFIX + seed);
    this.schedule(this.deps.config.gossipIntervalMs, () => this.gossipRound());
    this.schedule(this.deps.config.pingIntervalMs, () => this.pingRound());
  }

  /** Ring members in our table other than this node. */
  otherMembers(): NodeId[] {
    return [...this.records.values()].filter((r) => r.id !== this.deps.self && isRingMember(r)).map((r) => r.id);
  }

  /** Called each time this node merges a table from a ring member (or a join seed). */
  onTableHeard(listener: () => void): void {
    this.tableHeardListeners.push(listener);
  }

  /** Called (synchronously, inside the merge) when this node's own record changes operator epoch. */
  onOwnEpochChange(listener: (before: MemberRecord, after: MemberRecord) => void): void {
    this.ownEpochListeners.push(listener);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.spreadTimer?.cancel();
    this.spreadTimer = undefined;
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
  }

  onRingChange(listener: RingListener): void {
    this.listeners.push(listener);
  }

  /** Called when this node's detector hears again from a peer it had counted as down. */
  onPeerUp(listener: (id: NodeId) => void): void {
    this.peerUpListeners.push(listener);
  }

  /** Publishes this node's sync state (an owner field, spread by gossip). */
  setState(state: 'ready' | 'syncing'): void {
    const own = this.records.get(this.deps.self);
    if (own === undefined || own.state === state) return;
    this.records.set(this.deps.self, { ...own, state, heartbeat: this.increment(own.heartbeat, 'heartbeat', own.id) ?? own.heartbeat });
    // Peers take our owner fields only from us: tell them at once rather than one per round.
    this.spreadSoon();
  }

  ring(): Ring | undefined {
    return this.currentRing;
  }

  table(): MemberRecord[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  record(id: NodeId): MemberRecord | undefined {
    return this.records.get(id);
  }

  history(): readonly ChangeLogEntry[] {
    return this.changeLog;
  }

  /**
   * This node's own failure detector verdict. Requests are routed by it rather than by the
   * gossiped status, so a node cut off from the others (which sees everyone as down and gossips
   * that once healed) cannot make healthy nodes avoid each other.
   */
  isLocallyDown(id: NodeId): boolean {
    return this.down.has(id);
  }

  /**
   * `id` may be failing, though not held down: its last ping failed, or it has not answered for
   * longer than a ping interval and a ping timeout (or it is held down).
   */
  isSuspect(id: NodeId): boolean {
    if (id === this.deps.self) return false;
    if (this.down.has(id) || this.pingFailed.has(id)) return true;
    const lastMs = this.detector.lastHeartbeatMs(id);
    return lastMs !== undefined && this.deps.clock.monotonicMs() - lastMs > this.pingEveryMs + this.deps.config.pingTimeoutMs;
  }

  lastHeard(id: NodeId): number | undefined {
    return id === this.deps.self ? this.deps.clock.nowMs() : this.lastHeardMs.get(id);
  }

  /** host/port for the transport: members by id, join seeds by their pseudo id. */
  addressOf(id: NodeId): { host: string; port: number } | undefined {
    const text = id.startsWith(SEED_PREFIX) ? id.slice(SEED_PREFIX.length) : this.records.get(id)?.peer;
    return text === undefined ? undefined : parseHostPort(text);
  }

  /**
   * Operator changes are made through a ring member: members merge only members' gossip, so a
   * change made on a removed (or not yet added) node would stay on it alone.
   */
  private assertMemberForChanges(): void {
    const own = this.records.get(this.deps.self);
    if (own === undefined || !isRingMember(own)) {
      throw new MembershipError('NOT_A_MEMBER', `node ${this.deps.self} is not a ring member (${own?.status ?? 'never added'}), so no other node would take this change from it; make it through a member`);
    }
  }

  /** Operator action: put a node into the ring. */
  addMember(id: NodeId, peer: string, http: string): MemberRecord {
    this.assertMemberForChanges();
    if (!isNodeId(id)) throw new MembershipError('BAD_MEMBER', `bad node id ${JSON.stringify(id)}: use ${NODE_ID_RULE}`);
    if (parseHostPort(peer) === undefined) throw new MembershipError('BAD_MEMBER', `bad peer address "${peer}": expected HOST:PORT`);
    if (http !== '' && parseHostPort(http) === undefined) throw new MembershipError('BAD_MEMBER', `bad http address "${http}": expected HOST:PORT`);
    const existing = this.records.get(id);
    if (existing !== undefined && existing.status !== 'removed') throw new MembershipError('MEMBER_EXISTS', `node ${id} is already a member (${existing.status})`);
    if (existing === undefined && this.records.size >= MEMBERS_MAX) {
      throw new MembershipError('TOO_MANY_MEMBERS', `the table already holds ${MEMBERS_MAX} records (removed nodes included); re-add a removed id instead`);
    }
    for (const r of this.records.values()) {
      if (r.id !== id && r.status !== 'removed' && (r.peer === peer || (http !== '' && r.http === http))) {
        throw new MembershipError('ADDRESS_IN_USE', `address already used by member ${r.id}`);
      }
    }
    const record: MemberRecord = {
      id,
      peer,
      http,
      status: 'up',
      // An operator change opens a new epoch, which no older detector verdict can override.
      epoch: this.nextEpoch(existing, id),
      version: existing === undefined ? 1 : nextVersionInNewEpoch(existing),
      changedBy: this.deps.self,
      changedAtMs: this.deps.clock.nowMs(),
      heartbeat: existing?.heartbeat ?? 0,
      transfer: null,
      state: 'ready',
    };
    this.apply(record, this.deps.self);
    this.afterChange();
    this.spreadNow();
    return this.records.get(id)!;
  }

  /** Operator action: take a node out of the ring (its data moves to the new replicas). */
  removeMember(id: NodeId): MemberRecord {
    this.assertMemberForChanges();
    const existing = this.records.get(id);
    if (existing === undefined || existing.status === 'removed') throw new MembershipError('UNKNOWN_MEMBER', `node ${id} is not a member`);
    const members = [...this.records.values()].filter(isRingMember).length;
    if (members - 1 < this.deps.config.n) {
      throw new MembershipError('TOO_FEW_NODES', `removing ${id} would leave ${members - 1} nodes, fewer than N=${this.deps.config.n} replicas`);
    }
    this.apply({
      ...existing,
      status: 'removed',
      epoch: this.nextEpoch(existing, id),
      version: nextVersionInNewEpoch(existing),
      changedBy: this.deps.self,
      changedAtMs: this.deps.clock.nowMs(),
    }, this.deps.self);
    this.afterChange();
    this.spreadNow();
    return this.records.get(id)!;
  }

  /** Publishes this node's transfer progress (an owner field, spread by gossip). */
  setTransfer(transfer: TransferStatus | null): void {
    const own = this.records.get(this.deps.self);
    if (own === undefined) return;
    if (transfer !== null && transfer.targets.length > TRANSFER_TARGETS_MAX) throw new Error(`assertion: transfer to ${transfer.targets.length} targets, more than ${TRANSFER_TARGETS_MAX}`);
    this.records.set(this.deps.self, { ...own, transfer, heartbeat: this.increment(own.heartbeat, 'heartbeat', own.id) ?? own.heartbeat });
    // A transfer starting or ending is news every peer should have at once (the CLI follows
    // transfers through any node); progress in between travels with the rounds.
    if ((own.transfer === null) !== (transfer === null)) this.spreadSoon();
  }

  /**
   * What `id` may do on our peer port, by its record in our table (see peer-authority.ts): a ring
   * member; a node removed less than removedHandoffWindowMs ago by our clock (handing off); or a
   * stranger (never added, or removed longer ago, or removed before we ever knew it as a member).
   */
  standingOf(id: NodeId): PeerStanding {
    const record = this.records.get(id);
    if (record === undefined || id === this.deps.self) return 'stranger';
    if (isRingMember(record)) return 'member';
    return this.removalWindowOpen(id, record.epoch) ? 'handing-off' : 'stranger';
  }

  /**
   * Whether `id`, re-added after its removal at `removedAtEpoch`, may still hand off here what it
   * held before that removal (replica_put_batch with removedAtEpoch; src/handoff/stale-handoff.ts):
   * only within our hand-off window for that very removal, during which we purge no tombstone, so
   * a value deleted while it was away meets its tombstone here. A node that never saw the removal
   * (it heard of the re-add directly) has no window, and refuses.
   */
  staleHandoffOpen(id: NodeId, removedAtEpoch: number): boolean {
    const record = this.records.get(id);
    if (record === undefined || id === this.deps.self) return false;
    // Its record here is the removal itself, or the re-add right after it.
    if (record.epoch !== removedAtEpoch && !(isRingMember(record) && record.epoch === removedAtEpoch + 1)) return false;
    return this.removalWindowOpen(id, removedAtEpoch);
  }

  /**
   * Whether some node removed from the ring (and possibly re-added since) may still hand data off
   * here (see standingOf, staleHandoffOpen): while it may, no tombstone is purged. Windows that
   * ended are forgotten.
   */
  removedHandoffOpen(): boolean {
    let open = false;
    for (const [id, removal] of [...this.removalLearnedMs]) {
      if (this.removalWindowOpen(id, removal.epoch)) open = true;
      else if (this.deps.clock.monotonicMs() - removal.atMs >= this.deps.config.removedHandoffWindowMs) this.removalLearnedMs.delete(id);
    }
    return open;
  }

  /** Whether we learned of `id`'s removal at `epoch` less than the hand-off window ago. */
  private removalWindowOpen(id: NodeId, epoch: number): boolean {
    const removal = this.removalLearnedMs.get(id);
    return removal !== undefined && removal.epoch === epoch && this.deps.clock.monotonicMs() - removal.atMs < this.deps.config.removedHandoffWindowMs;
  }

  /**
   * Answers a gossip exchange from `from` (push-pull): returns our table to anyone, and merges
   * theirs only if `from` is a ring member here. A node handing off contributes its own owner
   * fields (its transfer progress) and nothing else; a stranger nothing at all: a node being
   * added learns the table this way, and a removed node learns that it was removed.
   */
  receiveGossip(from: NodeId, records: readonly MemberRecord[]): MemberRecord[] {
    switch (this.standingOf(from)) {
      case 'member':
        this.merge(records, from);
        break;
      case 'handing-off':
        this.mergeOwnerFieldsOf(from, records);
        break;
      case 'stranger':
        break;
    }
    return this.table();
  }

  /**
   * Merges records a peer sent (parsed at the boundary: src/protocol/messages.ts); `from` is that
   * peer, or undefined for a join seed (an operator-given address whose node id we do not know).
   */
  private merge(records: readonly MemberRecord[], from: NodeId | undefined): void {
    let changed = false;
    let news = false;
    for (const r of records) {
      if (!this.records.has(r.id) && this.records.size >= MEMBERS_MAX) {
        // Only concurrent adds at the limit (or a hostile peer) get here; gossip could not carry more.
        this.deps.log.warn({ member: r.id, membersMax: MEMBERS_MAX }, 'membership table full: ignoring a new member');
        continue;
      }
      const transferBefore = this.records.get(r.id)?.transfer ?? null;
      if (this.apply(r, from)) changed = true;
      // A transfer starting or ending is news too (the CLI follows transfers through any node).
      if ((transferBefore === null) !== ((this.records.get(r.id)?.transfer ?? null) === null)) news = true;
    }
    if (changed) this.afterChange();
    // News to us is likely news to others: pass it on (see SPREAD_FANOUT).
    if (changed || news) this.spreadSoon();
    if (from === undefined || this.standingOf(from) === 'member') {
      this.heardTable = true;
      for (const listener of this.tableHeardListeners) listener();
    }
  }

  /** From a node handing off: only its own record's owner fields (heartbeat, transfer, state). */
  private mergeOwnerFieldsOf(from: NodeId, records: readonly MemberRecord[]): void {
    const theirs = records.find((r) => r.id === from);
    const ours = this.records.get(from);
    if (theirs === undefined || ours === undefined) return;
    this.apply({ ...ours, heartbeat: theirs.heartbeat, transfer: theirs.transfer, state: theirs.state }, from);
  }

  // --- internals -----------------------------------------------------------------------------

  /**
   * Merges one record told by `from` (this node itself for its own changes, undefined for a join
   * seed); returns true when a versioned field changed (log + persist + ring). Owner fields are
   * their owner's word alone: a record told by anyone else keeps our copy's (a peer's copy is
   * taken only for a node we had no record of), and our own are always ours.
   */
  private apply(told: MemberRecord, from: NodeId | undefined): boolean {
    const before = this.records.get(told.id);
    const incoming = before !== undefined && from !== told.id ? { ...told, heartbeat: before.heartbeat, transfer: before.transfer, state: before.state } : told;
    let merged = before === undefined ? incoming : mergeRecord(before, incoming);
    // Someone thinks we are down, or an observer's copy of our record won without our addresses
    // (one that marked us down, then up, before it learned our HTTP address): refute with a
    // higher version carrying our own addresses, as SWIM does. The refutation stays in the
    // winning record's epoch, so it can never undo an operator change at a higher one, and a
    // removal is never refuted: only an operator brings a node back.
    const { self, selfHttp, selfPeer } = this.deps;
    if (merged.id === self && merged.status !== 'removed' && (merged.status === 'down' || merged.http !== selfHttp || merged.peer !== selfPeer)) {
      // At the bound the refutation is refused (logged): the record stays as it came until an
      // operator's remove and re-add opens a new epoch, which restarts the version.
      const version = this.increment(merged.version, 'version', self);
      if (version !== undefined) merged = { ...merged, status: 'up', http: selfHttp, peer: selfPeer, version, changedBy: self, changedAtMs: this.deps.clock.nowMs() };
    }
    // Our record as a peer kept it may be ahead of us in heartbeats (we restarted, and heartbeats
    // are saved only with versioned changes), or level with different owner fields: jump past
    // it, so our owner fields win from now on, and tell everyone. Never adopt its state or
    // transfer: those describe an earlier life. (A copy level with ours is just our news.)
    if (told.id === self && before !== undefined && from !== self && (told.heartbeat > before.heartbeat || (told.heartbeat === before.heartbeat && !sameOwnerFields(told, before)))) {
      merged = { ...merged, heartbeat: nextCount(told.heartbeat) ?? MEMBERSHIP_COUNT_MAX };
      this.spreadSoon();
    }
    this.records.set(told.id, merged);
    if (merged.id === self && before !== undefined && merged.epoch !== before.epoch) for (const listener of this.ownEpochListeners) listener(before, merged);
    const change = changeOf(before, merged);
    if (change === undefined) return false;
    // A node we knew as a member was removed: its hand-off window opens now, by our clock.
    // A re-add leaves the window open (see staleHandoffOpen); it ends on its own.
    if (change === 'removed' && before !== undefined && isRingMember(before)) this.removalLearnedMs.set(merged.id, { atMs: this.deps.clock.monotonicMs(), epoch: merged.epoch });
    this.changeLog.push({
      atMs: this.deps.clock.nowMs(),
      node: merged.id,
      change,
      epoch: merged.epoch,
      version: merged.version,
      by: merged.changedBy,
      changedAtMs: merged.changedAtMs,
    });
    if (this.changeLog.length > this.deps.config.logEntriesMax) this.changeLog.splice(0, this.changeLog.length - this.deps.config.logEntriesMax);
    // `by` is what the record claims (relayed by gossip, not authenticated); `via` is the member
    // that told us, as its certificate proved (absent for our own changes).
    this.deps.log.info({ member: merged.id, change, epoch: merged.epoch, version: merged.version, by: merged.changedBy, ...(from !== self ? { via: from ?? 'join seed' } : {}) }, 'membership change');
    return true;
  }

  private afterChange(): void {
    this.persist();
    const ids = [...this.records.values()].filter(isRingMember).map((r) => r.id).sort();
    const previous = this.currentRing;
    const previousIds = previous === undefined ? [] : previous.nodes.map((n) => n.id).sort();
    if (ids.join(',') === previousIds.join(',')) return;
    this.currentRing = ids.length === 0 ? undefined : Ring.of(ids);
    for (const listener of this.listeners) listener(previous, this.currentRing);
  }

  /** Makes sure our own record carries our current addresses. */
  private publishSelf(): void {
    const own = this.records.get(this.deps.self);
    if (own === undefined || own.status === 'removed') return;
    if (own.http === this.deps.selfHttp && own.peer === this.deps.selfPeer && own.status === 'up') return;
    const version = this.increment(own.version, 'version', own.id);
    if (version === undefined) return;
    this.apply({ ...own, http: this.deps.selfHttp, peer: this.deps.selfPeer, status: 'up', version, changedBy: this.deps.self, changedAtMs: this.deps.clock.nowMs() }, this.deps.self);
    this.afterChange();
  }

  /**
   * Live peers; until this node has heard a table, every ring member: a table saved before a
   * crash may hold every peer as down, and waiting for their pings would delay serving.
   */
  private gossipTargets(): NodeId[] {
    if (!this.heardTable) return this.otherMembers();
    return [...this.records.values()].filter((r) => r.id !== this.deps.self && r.status === 'up').map((r) => r.id);
  }

  private gossipRound(): void {
    const own = this.records.get(this.deps.self);
    if (own !== undefined) this.records.set(this.deps.self, { ...own, heartbeat: this.increment(own.heartbeat, 'heartbeat', own.id) ?? own.heartbeat });
    const targets = this.gossipTargets();
    if (targets.length === 0 && this.seeds.length > 0) {
      const seed = this.seeds[this.deps.random.nextInt(this.seeds.length)]!;
      void this.exchange(SEED_PREFIX + seed);
    } else if (targets.length > 0) {
      void this.exchange(targets[this.deps.random.nextInt(targets.length)]!);
    }
    this.gossipRounds++;
    this.schedule(this.deps.config.gossipIntervalMs, () => this.gossipRound());
  }

  /** Sends our table to SPREAD_FANOUT live peers at once: changes should not wait for rounds. */
  private spreadNow(): void {
    const targets = this.gossipTargets();
    for (let i = 0; i < SPREAD_FANOUT && targets.length > 0; i++) void this.exchange(targets.splice(this.deps.random.nextInt(targets.length), 1)[0]!);
  }

  /**
   * One push-pull exchange with `to`. Its answer is merged like its gossip would be (only a
   * member's; a join seed's too, since an operator named it), so a removed peer's table never
   * rewrites ours.
   */
  private async exchange(to: NodeId): Promise<void> {
    let reply: PeerReply;
    try {
      reply = await this.deps.transport.request(to, { kind: 'gossip', records: this.table() }, this.deps.config.pingTimeoutMs * 2);
    } catch {
      return; // a lost exchange is repaired by the next round
    }
    if (reply.kind !== 'gossip_ok' || this.stopped) return;
    if (to.startsWith(SEED_PREFIX)) this.merge(reply.records, undefined);
    else if (this.standingOf(to) === 'member') this.merge(reply.records, to);
  }

  /**
   * A member treats us as something our table does not say (it sent us data while we hold
   * ourselves removed): gossip with every live peer soon, at most once per gossip interval.
   */
  askForNews(): void {
    const nowMs = this.deps.clock.nowMs();
    if (this.lastNewsAskMs !== undefined && nowMs - this.lastNewsAskMs < this.deps.config.gossipIntervalMs) return;
    this.lastNewsAskMs = nowMs;
    this.spreadSoon();
  }

  /** Gossips with every live peer on the next tick; calls before then share that one spread. */
  private spreadSoon(): void {
    if (this.spreadTimer !== undefined || this.stopped) return;
    this.spreadTimer = this.deps.clock.setTimer(0, () => {
      this.spreadTimer = undefined;
      if (!this.stopped) this.spreadNow();
    });
  }

  /**
   * Pings every peer not removed, each ping waiting up to PING_WAIT_PINGS_TIMEOUTS ping timeouts
   * (a late pong still shows the peer alive; pings overlap rather than wait for each other), and
   * judges each peer by the detector.
   */
  private pingRound(): void {
    const nowMs = this.deps.clock.monotonicMs();
    const peers: MemberRecord[] = [];
    for (const r of this.records.values()) {
      if (r.id === this.deps.self) continue;
      if (r.status === 'removed') this.forgetPeer(r.id);
      else peers.push(r);
    }
    peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.pingEveryMs = this.deps.config.pingIntervalMs * Math.max(1, Math.ceil(peers.length / PINGS_PER_ROUND_MAX));
    for (const r of peers) {
      this.detector.watch(r.id, nowMs, this.pingEveryMs);
      this.judge(r, nowMs);
    }
    const count = Math.min(PINGS_PER_ROUND_MAX, peers.length);
    for (let i = 0; i < count; i++) void this.ping(peers[(this.pingCursor + i) % peers.length]!.id);
    this.pingCursor = peers.length === 0 ? 0 : (this.pingCursor + count) % peers.length;
    this.schedule(this.deps.config.pingIntervalMs, () => this.pingRound());
  }

  private forgetPeer(id: NodeId): void {
    this.detector.forget(id);
    this.down.delete(id);
    this.pingFailed.delete(id);
  }

  private async ping(id: NodeId): Promise<void> {
    const { transport, config, clock } = this.deps;
    const sentMs = clock.monotonicMs();
    let ok = false;
    try {
      ok = (await transport.request(id, { kind: 'ping' }, config.pingTimeoutMs * PING_WAIT_PINGS_TIMEOUTS)).kind === 'pong';
    } catch {
      ok = false;
    }
    if (this.stopped) return;
    const record = this.records.get(id);
    if (record === undefined || record.status === 'removed') return;
    const nowMs = clock.monotonicMs();
    if (!ok) {
      // A ping sent before the peer's last answer says nothing new.
      if (sentMs >= (this.detector.lastHeartbeatMs(id) ?? -Infinity)) this.pingFailed.add(id);
      this.judge(record, nowMs);
      return;
    }
    this.pingFailed.delete(id);
    const wasDown = this.down.delete(id);
    this.detector.heartbeat(id, nowMs, wasDown);
    this.lastHeardMs.set(id, clock.nowMs());
    if (wasDown) {
      this.detectorTransitions.up++;
      this.deps.log.info({ member: id }, 'failure detector: peer answers again');
      for (const listener of this.peerUpListeners) listener(id);
      // Contact is back, with this peer at least: ask every other peer held down at once rather
      // than keep them down (and route around them) until the next round.
      this.probeDownPeersSoon();
    }
    if (record.status === 'down') this.observe(record, 'up');
  }

  /**
   * Holds `record`'s node down once the detector says so, and publishes that verdict (a new
   * version of its record, gossiped) only while this node is in contact with the cluster (see
   * inContact): a node cut off from the others finds them all silent, and gossiping that once
   * healed would only make the others doubt healthy nodes.
   */
  private judge(record: MemberRecord, nowMs: number): void {
    const id = record.id;
    if (!this.down.has(id)) {
      if (!this.detector.isDown(id, nowMs)) return;
      this.down.add(id);
      this.detectorTransitions.down++;
      this.deps.log.info({ member: id, phi: Math.round(this.detector.phi(id, nowMs) * 10) / 10, silentMs: Math.round(nowMs - (this.detector.lastHeartbeatMs(id) ?? nowMs)) }, 'failure detector: peer silent, holding it down');
    }
    if (record.status === 'up' && this.inContact(nowMs)) this.observe(record, 'down');
  }

  /**
   * At least half the other ring members answered a ping within CONTACT_PINGS ping intervals: the
   * silence of a peer is then likely its own, not this node's.
   */
  private inContact(nowMs: number): boolean {
    const others = this.otherMembers();
    const windowMs = CONTACT_PINGS * this.pingEveryMs;
    const answered = others.filter((id) => {
      const lastMs = this.detector.lastHeartbeatMs(id);
      return lastMs !== undefined && !this.down.has(id) && nowMs - lastMs <= windowMs;
    }).length;
    return answered * 2 >= others.length;
  }

  private probeDownPeersSoon(): void {
    if (this.probeTimer !== undefined || this.stopped) return;
    this.probeTimer = this.deps.clock.setTimer(0, () => {
      this.probeTimer = undefined;
      if (this.stopped) return;
      for (const id of this.down) void this.ping(id);
    });
  }

  /** A detector verdict: a new version within the record's epoch, never a new epoch. */
  private observe(record: MemberRecord, status: 'up' | 'down'): void {
    const version = this.increment(record.version, 'version', record.id);
    if (version === undefined) return;
    this.apply({ ...record, status, version, changedBy: this.deps.self, changedAtMs: this.deps.clock.nowMs() }, this.deps.self);
    this.afterChange();
    this.spreadNow();
  }

  /**
   * `n + 1` for a count of `member`'s record, or undefined when that would pass
   * MEMBERSHIP_COUNT_MAX: the caller then leaves the record as it is. Only a hostile or broken
   * peer can drive a count there (it arrives at the bound, and we may not go past it), so the
   * first refusal per count is logged as a warning and the rest are silent.
   */
  private increment(n: number, what: 'version' | 'heartbeat', member: NodeId): number | undefined {
    const next = nextCount(n);
    if (next === undefined && !this.countsAtLimit.has(`${member}\u0000${what}`)) {
      this.countsAtLimit.add(`${member}\u0000${what}`);
      this.deps.log.warn({ member, count: what, limit: MEMBERSHIP_COUNT_MAX }, `membership: the ${what} of ${member}'s record is at its bound; changes that would pass it are refused (an operator remove and re-add restarts a version)`);
    }
    return next;
  }

  /** The epoch of an operator change to `existing` (1 for a new id); refused at the bound. */
  private nextEpoch(existing: MemberRecord | undefined, id: NodeId): number {
    if (existing === undefined) return 1;
    const epoch = nextCount(existing.epoch);
    if (epoch === undefined) throw new MembershipError('COUNT_LIMIT', `node ${id}'s operator epoch is at its bound (${MEMBERSHIP_COUNT_MAX}); it can no longer change: add the node under a new id`);
    return epoch;
  }

  private schedule(delayMs: number, fn: () => void): void {
    if (this.stopped) return;
    const timer = this.deps.clock.setTimer(delayMs, () => {
      this.timers = this.timers.filter((t) => t !== timer);
      if (!this.stopped) fn();
    });
    this.timers.push(timer);
  }

  /** Reads table and log back; a table that does not parse stops the node with what is wrong. */
  private load(): void {
    const table = this.deps.storage.get('meta', META_TABLE);
    const log = this.deps.storage.get('meta', META_LOG);
    if (table !== undefined) {
      const clamped: string[] = [];
      const parsed = decodeTable(table, (what) => clamped.push(what));
      if (clamped.length > 0) this.deps.log.warn({ counts: clamped.slice(0, 10), limit: MEMBERSHIP_COUNT_MAX }, `membership table (meta key ${META_TABLE}): counts above the bound clamped to it`);
      if (!parsed.ok) throw new MembershipError('CORRUPT_TABLE', `corrupt membership table (meta key ${META_TABLE}): ${parsed.problem}`);
      for (const r of parsed.value) this.records.set(r.id, r);
    }
    if (log !== undefined) {
      const { entries, dropped } = decodeLog(log);
      if (dropped.length > 0) this.deps.log.warn({ dropped: dropped.length, first: dropped[0] }, `membership change log (meta key ${META_LOG}): dropped entries that do not parse`);
      this.changeLog = entries.slice(-this.deps.config.logEntriesMax);
    }
    const ids = [...this.records.values()].filter(isRingMember).map((r) => r.id);
    this.currentRing = ids.length === 0 ? undefined : Ring.of(ids);
    this.restoreHandoffWindows();
  }

  /**
   * A restart does not close a hand-off window: the change log says when (on our wall clock) we
   * learned of each removal, if we knew the node as a member before (an earlier entry about it).
   * The age is read once across the restart; a wall-clock step then can shift it, never lengthen
   * the window past removedHandoffWindowMs from now.
   */
  private restoreHandoffWindows(): void {
    const nowMs = this.deps.clock.nowMs();
    const windowMs = this.deps.config.removedHandoffWindowMs;
    for (const r of this.records.values()) {
      // A removed node's window, or a re-added one's (its removal was the epoch before).
      const epoch = isRingMember(r) ? r.epoch - 1 : r.epoch;
      let at = this.changeLog.length - 1;
      while (at >= 0 && !(this.changeLog[at]!.node === r.id && this.changeLog[at]!.change === 'removed' && this.changeLog[at]!.epoch === epoch)) at--;
      if (at < 0 || !this.changeLog.slice(0, at).some((e) => e.node === r.id && e.change !== 'removed')) continue;
      const ageMs = nowMs - this.changeLog[at]!.atMs;
      if (ageMs >= 0 && ageMs < windowMs) this.removalLearnedMs.set(r.id, { atMs: this.deps.clock.monotonicMs() - ageMs, epoch });
    }
  }

  /**
   * Resolves once the table and log as they are now are durable; rejects with the storage's error
   * if that write failed. An operator's add or remove returns its record at once (so a caller in
   * a synchronous try/catch sees refusals as throws); whoever answers the operator awaits this
   * before saying the change is made (the HTTP routes do).
   */
  persisted(): Promise<void> {
    return this.persisting;
  }

  /** Writes table and log; writes run one after another so the newest state lands last. */
  private persist(): void {
    const writes = [
      { space: 'meta' as const, key: META_TABLE, value: encodeTable(this.table()) },
      { space: 'meta' as const, key: META_LOG, value: encodeLog(this.changeLog) },
    ];
    this.persisting = this.persisting.then(
      () => this.deps.storage.commit(writes),
      () => this.deps.storage.commit(writes),
    );
    this.persisting.catch((err: unknown) => this.deps.log.error({ err }, 'could not persist the membership table'));
  }
}

