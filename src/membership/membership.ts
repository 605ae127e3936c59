// This node's view of the cluster: the membership table and its change log, kept durable in
// the meta space, spread by push-pull gossip and updated by ping failure detection (the seed's
// rules). Nodes enter or leave the ring only through addMember/removeMember, i.e. an operator,
// whose changes open a new epoch that detector verdicts and refutations cannot override;
// `down` is a transient status that never changes the ring. Runs on the injected clock, random
// and transport only.
import type { Clock, Timer } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import type { Storage } from '../env/storage.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import { isNodeId, NODE_ID_RULE, parseHostPort } from '../protocol/ids.ts';
import { Ring } from '../ring/ring.ts';
import { decodeLog, decodeTable, encodeLog, encodeTable, META_LOG, META_TABLE } from './persisted.ts';
import { changeOf, isRingMember, MEMBERS_MAX, mergeRecord, TRANSFER_TARGETS_MAX, type ChangeLogEntry, type MemberRecord, type TransferStatus } from './table.ts';

export interface MembershipConfig {
  /** How often this node gossips with one random peer. */
  readonly gossipIntervalMs: number;
  /** How often every peer is pinged. */
  readonly pingIntervalMs: number;
  /** A ping without a pong within this is a miss. */
  readonly pingTimeoutMs: number;
  /** Consecutive misses before a peer is marked down: one lost ping under load is not a failure. */
  readonly missedPingsMax: number;
  /** Change log entries kept (oldest dropped first). */
  readonly logEntriesMax: number;
  /** Replicas per key: a remove that leaves fewer nodes is refused. */
  readonly n: number;
}

export const DEFAULT_MEMBERSHIP_CONFIG: Omit<MembershipConfig, 'n'> = {
  gossipIntervalMs: 1_000,
  pingIntervalMs: 500,
  pingTimeoutMs: 500,
  missedPingsMax: 3,
  logEntriesMax: 1_000,
};

export type MembershipErrorCode =
  | 'MEMBER_EXISTS'
  | 'ADDRESS_IN_USE'
  | 'UNKNOWN_MEMBER'
  | 'TOO_FEW_NODES'
  | 'TOO_MANY_MEMBERS' // the table already holds MEMBERS_MAX records
  | 'BAD_MEMBER'
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

/** Pseudo node id prefix for a join address whose node id is not known yet. */
export const SEED_PREFIX = 'seed:';

export class Membership {
  private readonly records = new Map<NodeId, MemberRecord>();
  private changeLog: ChangeLogEntry[] = [];
  private currentRing: Ring | undefined;
  private readonly listeners: RingListener[] = [];
  private readonly peerUpListeners: Array<(id: NodeId) => void> = [];
  private readonly misses = new Map<NodeId, number>();
  private readonly lastHeardMs = new Map<NodeId, number>();
  private timers: Timer[] = [];
  private persisting: Promise<void> = Promise.resolve();
  private stopped = false;
  private seeds: string[] = [];
  gossipRounds = 0;
  /** Times this node's own failure detector started (down) or stopped (up) holding a peer down. */
  readonly detectorTransitions = { down: 0, up: 0 };

  constructor(private readonly deps: MembershipDeps) {
    // Our own record travels in every gossip, where peers refuse a frame with a bad field: a bad
    // id or address here would silently cut this node off, so it stops the start instead.
    const { self, selfPeer, selfHttp } = deps;
    if (!isNodeId(self)) throw new MembershipError('BAD_MEMBER', `bad node id ${JSON.stringify(self)}: use ${NODE_ID_RULE}`);
    if (parseHostPort(selfPeer) === undefined) throw new MembershipError('BAD_MEMBER', `bad advertised peer address ${JSON.stringify(selfPeer)}: expected HOST:PORT`);
    if (selfHttp !== '' && parseHostPort(selfHttp) === undefined) throw new MembershipError('BAD_MEMBER', `bad advertised http address ${JSON.stringify(selfHttp)}: expected HOST:PORT`);
    this.load();
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
      });
    }
    this.publishSelf();
    this.afterChange();
  }

  /** Addresses (host:port) to pull the table from when this node knows no cluster yet. */
  joinVia(seeds: readonly string[]): void {
    this.seeds = [...seeds];
  }

  start(): void {
    this.publishSelf();
    this.schedule(this.deps.config.gossipIntervalMs, () => this.gossipRound());
    this.schedule(this.deps.config.pingIntervalMs, () => this.pingRound());
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) t.cancel();
    this.timers = [];
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
    this.records.set(this.deps.self, { ...own, state, heartbeat: own.heartbeat + 1 });
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
    if (id === this.deps.self) return false;
    return (this.misses.get(id) ?? 0) >= this.deps.config.missedPingsMax;
  }

  /** The last ping to `id` went unanswered: it may be failing, though not yet marked down. */
  isSuspect(id: NodeId): boolean {
    return id !== this.deps.self && (this.misses.get(id) ?? 0) >= 1;
  }

  lastHeard(id: NodeId): number | undefined {
    return id === this.deps.self ? this.deps.clock.nowMs() : this.lastHeardMs.get(id);
  }

  /** host/port for the transport: members by id, join seeds by their pseudo id. */
  addressOf(id: NodeId): { host: string; port: number } | undefined {
    const text = id.startsWith(SEED_PREFIX) ? id.slice(SEED_PREFIX.length) : this.records.get(id)?.peer;
    return text === undefined ? undefined : parseHostPort(text);
  }

  /** Operator action: put a node into the ring. */
  addMember(id: NodeId, peer: string, http: string): MemberRecord {
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
      epoch: (existing?.epoch ?? 0) + 1,
      version: (existing?.version ?? 0) + 1,
      changedBy: this.deps.self,
      changedAtMs: this.deps.clock.nowMs(),
      heartbeat: existing?.heartbeat ?? 0,
      transfer: null,
      state: 'ready',
    };
    this.apply(record);
    this.afterChange();
    this.spreadNow();
    return this.records.get(id)!;
  }

  /** Operator action: take a node out of the ring (its data moves to the new replicas). */
  removeMember(id: NodeId): MemberRecord {
    const existing = this.records.get(id);
    if (existing === undefined || existing.status === 'removed') throw new MembershipError('UNKNOWN_MEMBER', `node ${id} is not a member`);
    const members = [...this.records.values()].filter(isRingMember).length;
    if (members - 1 < this.deps.config.n) {
      throw new MembershipError('TOO_FEW_NODES', `removing ${id} would leave ${members - 1} nodes, fewer than N=${this.deps.config.n} replicas`);
    }
    this.apply({
      ...existing,
      status: 'removed',
      epoch: existing.epoch + 1,
      version: existing.version + 1,
      changedBy: this.deps.self,
      changedAtMs: this.deps.clock.nowMs(),
    });
    this.afterChange();
    this.spreadNow();
    return this.records.get(id)!;
  }

  /** Publishes this node's transfer progress (an owner field, spread by gossip). */
  setTransfer(transfer: TransferStatus | null): void {
    const own = this.records.get(this.deps.self);
    if (own === undefined) return;
    if (transfer !== null && transfer.targets.length > TRANSFER_TARGETS_MAX) throw new Error(`assertion: transfer to ${transfer.targets.length} targets, more than ${TRANSFER_TARGETS_MAX}`);
    this.records.set(this.deps.self, { ...own, transfer, heartbeat: own.heartbeat + 1 });
  }

  /** Answers a gossip exchange: merge theirs, return ours (push-pull). */
  receiveGossip(records: readonly MemberRecord[]): MemberRecord[] {
    this.mergeAll(records);
    return this.table();
  }

  /** Merges records learned from a peer (parsed at the boundary: src/protocol/messages.ts). */
  mergeAll(records: readonly MemberRecord[]): void {
    let changed = false;
    for (const r of records) {
      if (!this.records.has(r.id) && this.records.size >= MEMBERS_MAX) {
        // Only concurrent adds at the limit (or a hostile peer) get here; gossip could not carry more.
        this.deps.log.warn({ member: r.id, membersMax: MEMBERS_MAX }, 'membership table full: ignoring a new member');
        continue;
      }
      if (this.apply(r)) changed = true;
    }
    if (changed) this.afterChange();
  }

  // --- internals -----------------------------------------------------------------------------

  /** Merges one record; returns true when a versioned field changed (log + persist + ring). */
  private apply(incoming: MemberRecord): boolean {
    const before = this.records.get(incoming.id);
    let merged = before === undefined ? incoming : mergeRecord(before, incoming);
    // Someone thinks we are down, or an observer's copy of our record won without our addresses
    // (one that marked us down, then up, before it learned our HTTP address): refute with a
    // higher version carrying our own addresses, as SWIM does. The refutation stays in the
    // winning record's epoch, so it can never undo an operator change at a higher one, and a
    // removal is never refuted: only an operator brings a node back.
    const { self, selfHttp, selfPeer } = this.deps;
    if (merged.id === self && merged.status !== 'removed' && (merged.status === 'down' || merged.http !== selfHttp || merged.peer !== selfPeer)) {
      merged = { ...merged, status: 'up', http: selfHttp, peer: selfPeer, version: merged.version + 1, changedBy: self, changedAtMs: this.deps.clock.nowMs() };
    }
    this.records.set(incoming.id, merged);
    const change = changeOf(before, merged);
    if (change === undefined) return false;
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
    this.deps.log.info({ member: merged.id, change, epoch: merged.epoch, version: merged.version, by: merged.changedBy }, 'membership change');
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
    this.apply({ ...own, http: this.deps.selfHttp, peer: this.deps.selfPeer, status: 'up', version: own.version + 1, changedBy: this.deps.self, changedAtMs: this.deps.clock.nowMs() });
    this.afterChange();
  }

  private gossipTargets(): NodeId[] {
    return [...this.records.values()].filter((r) => r.id !== this.deps.self && r.status === 'up').map((r) => r.id);
  }

  private gossipRound(): void {
    const own = this.records.get(this.deps.self);
    if (own !== undefined) this.records.set(this.deps.self, { ...own, heartbeat: own.heartbeat + 1 });
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

  /** Sends our table to every live peer at once: operator changes should not wait for rounds. */
  private spreadNow(): void {
    for (const id of this.gossipTargets()) void this.exchange(id);
  }

  private async exchange(to: NodeId): Promise<void> {
    try {
      const reply = await this.deps.transport.request(to, { kind: 'gossip', records: this.table() }, this.deps.config.pingTimeoutMs * 2);
      if (reply.kind === 'gossip_ok') this.mergeAll(reply.records);
    } catch {
      // A lost exchange is repaired by the next round.
    }
  }

  private pingRound(): void {
    for (const r of this.records.values()) {
      if (r.id === this.deps.self || r.status === 'removed') continue;
      void this.ping(r.id);
    }
    this.schedule(this.deps.config.pingIntervalMs, () => this.pingRound());
  }

  private async ping(id: NodeId): Promise<void> {
    const { transport, config, clock } = this.deps;
    let ok = false;
    try {
      ok = (await transport.request(id, { kind: 'ping' }, config.pingTimeoutMs)).kind === 'pong';
    } catch {
      ok = false;
    }
    if (this.stopped) return;
    const record = this.records.get(id);
    if (record === undefined || record.status === 'removed') return;
    if (ok) {
      const wasDown = (this.misses.get(id) ?? 0) >= config.missedPingsMax;
      this.misses.set(id, 0);
      if (wasDown) {
        this.detectorTransitions.up++;
        this.deps.log.info({ member: id }, 'failure detector: peer answers again');
        for (const listener of this.peerUpListeners) listener(id);
      }
      this.lastHeardMs.set(id, clock.nowMs());
      if (record.status === 'down') this.observe(record, 'up');
      return;
    }
    const misses = (this.misses.get(id) ?? 0) + 1;
    this.misses.set(id, misses);
    if (misses === config.missedPingsMax) {
      this.detectorTransitions.down++;
      this.deps.log.info({ member: id, missedPings: misses }, 'failure detector: peer silent, holding it down');
    }
    if (misses >= config.missedPingsMax && record.status === 'up') this.observe(record, 'down');
  }

  /** A detector verdict: a new version within the record's epoch, never a new epoch. */
  private observe(record: MemberRecord, status: 'up' | 'down'): void {
    this.apply({ ...record, status, version: record.version + 1, changedBy: this.deps.self, changedAtMs: this.deps.clock.nowMs() });
    this.afterChange();
    this.spreadNow();
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
      const parsed = decodeTable(table);
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

