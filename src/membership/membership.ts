// This node's view of the cluster: the membership table (table.ts), kept durable in the meta
// space with its change log (change-log.ts, persisted.ts), spread by gossip (gossip.ts) and
// updated by ping failure detection (ping-monitor.ts, failure-detector.ts). Nodes enter or
// leave the ring only through an operator's add or remove (operator-actions.ts), which open a
// new epoch that detector verdicts and refutations cannot override; `down` is a transient
// status that never changes the ring. Only members' gossip is merged, and a node's owner fields
// only from that node (see standingOf, receiveGossip); a removed node may hand off within its
// window (handoff-windows.ts). Runs on the injected clock, random and transport only.
import { assert } from '../env/assert.ts';
import type { Clock, Timer } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import type { Storage, StorageWrite } from '../env/storage.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import { isNodeId, NODE_ID_RULE, parseHostPort } from '../protocol/ids.ts';
import { Ring } from '../ring/ring.ts';
import { ChangeLog } from './change-log.ts';
import { MembershipError } from './errors.ts';
import { Gossip, SEED_PREFIX } from './gossip.ts';
import { HandoffWindows } from './handoff-windows.ts';
import { addedRecord, removedRecord } from './operator-actions.ts';
import { encodeLogEntry, encodeRecord, logKey, readPersisted, recordKey, type PersistedState } from './persisted.ts';
import type { PeerStanding } from './peer-authority.ts';
import { PingMonitor } from './ping-monitor.ts';
import { changeOf, isRingMember, MEMBERS_MAX, MEMBERSHIP_COUNT_MAX, mergeRecord, nextCount, sameOwnerFields, TRANSFER_TARGETS_MAX, type ChangeLogEntry, type MemberRecord, type TransferStatus } from './table.ts';

export { MembershipError, type MembershipErrorCode } from './errors.ts';
export { SEED_PREFIX, SPREAD_FANOUT } from './gossip.ts';
export { PINGS_PER_ROUND_MAX } from './ping-monitor.ts';

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

export class Membership {
  private readonly records = new Map<NodeId, MemberRecord>();
  private readonly changeLog: ChangeLog;
  private currentRing: Ring | undefined;
  private readonly listeners: RingListener[] = [];
  private readonly peerUpListeners: Array<(id: NodeId) => void> = [];
  private readonly tableHeardListeners: Array<() => void> = [];
  private readonly ownEpochListeners: Array<(before: MemberRecord, after: MemberRecord) => void> = [];
  /** Merged a table from a ring member (or a join seed) since start. */
  private heardTable = false;
  /** This node's own record's epoch as the table was read back from disk (undefined: no saved table, or not in it). */
  readonly persistedOwnEpoch: number | undefined;
  private readonly pings: PingMonitor;
  private readonly gossip: Gossip;
  /** Removed nodes' hand-off windows (kept through a re-add until they close). */
  private readonly windows: HandoffWindows;
  private timers: Timer[] = [];
  private persisting: Promise<void> = Promise.resolve();
  /** What is on disk: each record's saved versioned fields (see savedForm), and the log's saved sequences. */
  private readonly savedRecords = new Map<NodeId, string>();
  private savedLog = { firstSeq: 0, endSeq: 0 };
  /** Keys read at start that the first save replaces (the legacy layout, or a log with gaps). */
  private keysToReplace: readonly string[] = [];
  private stopped = false;
  /** Counts already reported as stuck at MEMBERSHIP_COUNT_MAX (one warning each; at most 2 x MEMBERS_MAX). */
  private readonly countsAtLimit = new Set<string>();

  constructor(private readonly deps: MembershipDeps) {
    this.changeLog = new ChangeLog(deps.config.logEntriesMax);
    this.windows = new HandoffWindows(deps.clock, deps.config.removedHandoffWindowMs);
    this.pings = new PingMonitor({
      self: deps.self,
      clock: deps.clock,
      transport: deps.transport,
      log: deps.log,
      pingIntervalMs: deps.config.pingIntervalMs,
      pingTimeoutMs: deps.config.pingTimeoutMs,
      acceptablePauseMs: deps.config.acceptablePauseMs,
      records: () => this.records.values(),
      record: (id) => this.records.get(id),
      otherMembers: () => this.otherMembers(),
      publish: (record, status) => this.observe(record, status),
      peerUp: (id) => {
        for (const listener of this.peerUpListeners) listener(id);
      },
      stopped: () => this.stopped,
    });
    this.gossip = new Gossip({
      clock: deps.clock,
      random: deps.random,
      transport: deps.transport,
      gossipIntervalMs: deps.config.gossipIntervalMs,
      pingTimeoutMs: deps.config.pingTimeoutMs,
      table: () => this.table(),
      targets: () => this.gossipTargets(),
      merge: (records, from) => this.merge(records, from),
      isMember: (id) => this.standingOf(id) === 'member',
      stopped: () => this.stopped,
    });
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
    this.gossip.joinVia(seeds);
  }

  /**
   * Starts gossip and pings, and at once asks a few ring members (gossip.ts STARTUP_EXCHANGES_MAX, picked
   * at random) for their table: until one answers, this node serves no data (see admission.ts),
   * so it should not wait for a round.
   */
  start(): void {
    this.publishSelf();
    this.gossip.startup(this.otherMembers());
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
    this.gossip.stop();
    this.pings.stop();
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
    return this.changeLog.entries;
  }

  /** Gossip rounds this node started. */
  get gossipRounds(): number {
    return this.gossip.rounds;
  }

  /** Times this node's own failure detector started (down) or stopped (up) holding a peer down. */
  get detectorTransitions(): { readonly down: number; readonly up: number } {
    return this.pings.transitions;
  }

  /**
   * This node's own failure detector verdict. Requests are routed by it rather than by the
   * gossiped status, so a node cut off from the others (which sees everyone as down and gossips
   * that once healed) cannot make healthy nodes avoid each other.
   */
  isLocallyDown(id: NodeId): boolean {
    return this.pings.isLocallyDown(id);
  }

  /** See PingMonitor.isSuspect. */
  isSuspect(id: NodeId): boolean {
    return this.pings.isSuspect(id);
  }

  lastHeard(id: NodeId): number | undefined {
    return id === this.deps.self ? this.deps.clock.nowMs() : this.pings.lastHeard(id);
  }

  /** host/port for the transport: members by id, join seeds by their pseudo id. */
  addressOf(id: NodeId): { readonly host: string; readonly port: number } | undefined {
    const text = id.startsWith(SEED_PREFIX) ? id.slice(SEED_PREFIX.length) : this.records.get(id)?.peer;
    if (text === undefined) return undefined;
    // Asked on every peer request: parsed once per id and address text.
    const known = this.addresses.get(id);
    if (known?.text === text) return known.address;
    const address = parseHostPort(text);
    if (address !== undefined) this.addresses.set(id, { text, address: Object.freeze(address) });
    return address;
  }

  /** addressOf's parsed addresses, by id: one per member or seed asked for (both bounded). */
  private readonly addresses = new Map<NodeId, { readonly text: string; readonly address: { readonly host: string; readonly port: number } }>();

  /** Operator action: put a node into the ring (operator-actions.ts says when it is refused). */
  addMember(id: NodeId, peer: string, http: string): MemberRecord {
    return this.makeChange(addedRecord(this.records, { self: this.deps.self, nowMs: this.deps.clock.nowMs() }, id, peer, http));
  }

  /** Operator action: take a node out of the ring (its data moves to the new replicas). */
  removeMember(id: NodeId): MemberRecord {
    return this.makeChange(removedRecord(this.records, { self: this.deps.self, nowMs: this.deps.clock.nowMs() }, id, this.deps.config.n));
  }

  private makeChange(record: MemberRecord): MemberRecord {
    this.apply(record, this.deps.self);
    this.afterChange();
    this.gossip.spreadNow();
    return this.records.get(record.id)!;
  }

  /** Publishes this node's transfer progress (an owner field, spread by gossip). */
  setTransfer(transfer: TransferStatus | null): void {
    const own = this.records.get(this.deps.self);
    if (own === undefined) return;
    assert(transfer === null || transfer.targets.length <= TRANSFER_TARGETS_MAX, () => `transfer to ${transfer?.targets.length} targets, more than ${TRANSFER_TARGETS_MAX}`);
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
    return this.windows.isOpen(id, record.epoch) ? 'handing-off' : 'stranger';
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
    return this.windows.isOpen(id, removedAtEpoch);
  }

  /**
   * Whether some node removed from the ring (and possibly re-added since) may still hand data off
   * here (see standingOf, staleHandoffOpen): while it may, no tombstone is purged. Windows that
   * ended are forgotten.
   */
  removedHandoffOpen(): boolean {
    return this.windows.anyOpen();
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
    // Operator epochs never go back (mergeRecord orders by epoch first), and the table stays bounded.
    assert(merged.id === told.id && (before === undefined || merged.epoch >= before.epoch), () => `merging ${told.id}: epoch ${before?.epoch} -> ${merged.epoch}`);
    this.records.set(told.id, merged);
    assert(this.records.size <= MEMBERS_MAX, () => `membership table of ${this.records.size} records, more than ${MEMBERS_MAX}`);
    if (merged.id === self && before !== undefined && merged.epoch !== before.epoch) for (const listener of this.ownEpochListeners) listener(before, merged);
    const change = changeOf(before, merged);
    if (change === undefined) return false;
    // A node we knew as a member was removed: its hand-off window opens now, by our clock.
    // A re-add leaves the window open (see staleHandoffOpen); it ends on its own.
    if (change === 'removed' && before !== undefined && isRingMember(before)) this.windows.opened(merged.id, merged.epoch);
    this.changeLog.push({
      atMs: this.deps.clock.nowMs(),
      node: merged.id,
      change,
      epoch: merged.epoch,
      version: merged.version,
      by: merged.changedBy,
      changedAtMs: merged.changedAtMs,
    });
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
    this.gossip.round();
    this.schedule(this.deps.config.gossipIntervalMs, () => this.gossipRound());
  }

  /** See Gossip.askForNews. */
  askForNews(): void {
    this.gossip.askForNews();
  }

  private spreadSoon(): void {
    this.gossip.spreadSoon();
  }

  private pingRound(): void {
    this.pings.round();
    this.schedule(this.deps.config.pingIntervalMs, () => this.pingRound());
  }

  /** A detector verdict: a new version within the record's epoch, never a new epoch. */
  private observe(record: MemberRecord, status: 'up' | 'down'): void {
    const version = this.increment(record.version, 'version', record.id);
    if (version === undefined) return;
    this.apply({ ...record, status, version, changedBy: this.deps.self, changedAtMs: this.deps.clock.nowMs() }, this.deps.self);
    this.afterChange();
    this.gossip.spreadNow();
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
    const clamped: string[] = [];
    const saved: PersistedState = readPersisted(this.deps.storage, (what) => clamped.push(what));
    if (clamped.length > 0) this.deps.log.warn({ counts: clamped.slice(0, 10), limit: MEMBERSHIP_COUNT_MAX }, `membership table (${saved.tableSource}): counts above the bound clamped to it`);
    if (!saved.table.ok) throw new MembershipError('CORRUPT_TABLE', `corrupt membership table (${saved.tableSource}): ${saved.table.problem}`);
    if (saved.bothLayouts) this.deps.log.warn({}, 'membership table: found in both the per-record layout and the old one-key layout (written by an older version after this one?); reading the per-record one, and replacing the old one at the first save');
    for (const r of saved.table.value) this.records.set(r.id, r);
    if (saved.log.dropped.length > 0) this.deps.log.warn({ dropped: saved.log.dropped.length, first: saved.log.dropped[0] }, 'membership change log: dropped entries that do not parse');
    this.changeLog.restore(saved.log.entries, saved.nextLogSeq);
    // The first save writes table and log whole under the current layout and deletes what was
    // read (the old layout, or sequences with gaps); later saves write what changed.
    this.keysToReplace = saved.readKeys;
    const ids = [...this.records.values()].filter(isRingMember).map((r) => r.id);
    this.currentRing = ids.length === 0 ? undefined : Ring.of(ids);
    this.windows.restore(this.records.values(), this.changeLog);
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

  /**
   * Saves what changed since the last save that committed: records whose versioned fields
   * changed (heartbeats alone are not saved, as before) and new log entries, and deletes log
   * entries the bound dropped. Saves run one after another, each computed when it runs, so the
   * newest state lands last and a failed save is carried by the next.
   */
  private persist(): void {
    this.persisting = this.persisting.then(
      () => this.save(),
      () => this.save(),
    );
    this.persisting.catch((err: unknown) => this.deps.log.error({ err }, 'could not persist the membership table'));
  }

  private async save(): Promise<void> {
    const writes: StorageWrite[] = [];
    const replacing = this.keysToReplace;
    const replaced = new Set<string>();
    const records = new Map<NodeId, string>();
    for (const r of this.records.values()) {
      const form = savedForm(r);
      if (replacing.length === 0 && this.savedRecords.get(r.id) === form) continue;
      records.set(r.id, form);
      writes.push({ space: 'meta', key: recordKey(r.id), value: encodeRecord(r) });
      replaced.add(recordKey(r.id));
    }
    const { firstSeq, entries } = this.changeLog.withSequences();
    const endSeq = firstSeq + entries.length;
    const from = replacing.length === 0 ? Math.max(firstSeq, this.savedLog.endSeq) : firstSeq;
    for (let seq = from; seq < endSeq; seq++) {
      writes.push({ space: 'meta', key: logKey(seq), value: encodeLogEntry(entries[seq - firstSeq]!) });
      replaced.add(logKey(seq));
    }
    if (replacing.length === 0) for (let seq = this.savedLog.firstSeq; seq < Math.min(firstSeq, this.savedLog.endSeq); seq++) writes.push({ space: 'meta', key: logKey(seq), value: null });
    for (const key of replacing) if (!replaced.has(key)) writes.push({ space: 'meta', key, value: null });
    if (writes.length === 0) return;
    await this.deps.storage.commit(writes);
    for (const [id, form] of records) this.savedRecords.set(id, form);
    this.savedLog = { firstSeq, endSeq };
    if (this.keysToReplace === replacing) this.keysToReplace = [];
  }
}

/** A record's versioned fields: a save writes the record when these changed. */
function savedForm(r: MemberRecord): string {
  return `${r.peer} ${r.http} ${r.status} ${r.epoch} ${r.version} ${r.changedBy} ${r.changedAtMs}`;
}

