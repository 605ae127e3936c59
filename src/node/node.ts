// A dynakv node assembled from its parts and the injected world (clock, random, storage,
// transport, log): membership (gossip, failure detection), ring-change transfers, and the
// coordinator the API uses. It answers peer requests (by the asking node's standing) and
// sequences start-up: it serves and pushes no data until Admission says so (it heard the
// table from a member, and discarded data from an earlier membership). The same class runs in
// production (src/node/production.ts) and in the simulator (sim/).
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import { StorageError, type Storage } from '../env/storage.ts';
import { compareKeys } from '../storage/storage-keys.ts';
import { assert } from '../env/assert.ts';
import { TransportError, type NodeId, type Transport } from '../env/transport.ts';
import { AntiEntropy } from '../antientropy/anti-entropy.ts';
import { loadOf } from '../handoff/fallback-loads.ts';
import { HintDelivery } from '../handoff/hint-delivery.ts';
import { RingTransfer } from '../handoff/ring-transfer.ts';
import { handOffStale } from '../handoff/stale-handoff.ts';
import { Admission } from '../membership/admission.ts';
import { handoffWindowMs, Membership } from '../membership/membership.ts';
import { isDataRequest, mayAsk, PeerRefusal } from '../membership/peer-authority.ts';
import { seenStatus } from '../membership/seen-status.ts';
import type { MemberRecord } from '../membership/table.ts';
import type { NodeActivity } from '../protocol/activity.ts';
import { batchEntryBytes, TRANSFER_BATCH_BYTES_MAX, TRANSFER_BATCH_KEYS_MAX, type BatchEntry, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import { DotCounter } from '../replication/dot-counter.ts';
import { CoordinationError } from '../replication/errors.ts';
import { Coordinator, type ReadResult, type WriteRequest } from '../replication/coordinator.ts';
import type { VClock } from '../version/vclock.ts';
import { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import { deriveKey } from '../security/cluster-secret.ts';
import { ContextCodec } from '../version/context.ts';
import { joinClocks } from '../version/siblings.ts';
import type { NodeConfig } from './config.ts';
import type { ClientDelete, ClientWrite, KeyLookup, MembersTable, NodeFrontDoor, NodeStats, RangeRead, ReplicaVersions, VersionsRead } from './front-door.ts';

export interface NodeWorld {
  readonly clock: Clock;
  readonly random: Random;
  readonly storage: Storage;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly log: Log;
}

// The front door's types, where they were defined before it (src/node/front-door.ts).
export type { ClientWrite, NodeStats, VersionsRead } from './front-door.ts';

/** Keys deleted per round when stale data is discarded (one group commit each). */
const DISCARD_PAGE_KEYS = 1_000;
/** After a Merkle tree build failed (a storage error), it is tried again this much later, for the same ring. */
const TREE_REBUILD_RETRY_MS = 10_000;

export class DynakvNode implements NodeFrontDoor {
  readonly coordinator: Coordinator;
  /** Whether this node serves and pushes data yet (see src/membership/admission.ts). */
  readonly admission: Admission;
  /** The 'hints' space, discarded with the replicas when they are from an earlier membership. */
  private readonly hintStore: ReplicaStore;
  /** Started serving at least once (the background loops run from then on). */
  private servedBefore = false;
  /** Issues and checks client contexts (authenticated with the cluster's context key). */
  private readonly contexts: ContextCodec;
  readonly membership: Membership;
  readonly transfer: RingTransfer;
  readonly hints: HintDelivery;
  readonly antiEntropy: AntiEntropy;
  /** Answers peers' `activity` requests; installed by whoever serves a dashboard (src/ui/routes.ts). */
  private activitySource: (() => NodeActivity) | undefined;

  private constructor(
    readonly config: NodeConfig,
    readonly world: NodeWorld,
    readonly store: ReplicaStore,
    private readonly dots: DotCounter,
  ) {
    this.contexts = new ContextCodec(deriveKey(config.clusterSecret, 'context'));
    this.membership = new Membership({
      self: config.id,
      selfPeer: config.advertisePeer,
      selfHttp: config.advertiseHttp,
      clock: world.clock,
      random: world.random,
      storage: world.storage,
      transport: world.transport,
      log: world.log,
      config: {
        gossipIntervalMs: config.gossipIntervalMs,
        pingIntervalMs: config.pingIntervalMs,
        pingTimeoutMs: config.pingTimeoutMs,
        acceptablePauseMs: config.acceptablePauseMs,
        logEntriesMax: 1_000,
        n: config.n,
        removedHandoffWindowMs: handoffWindowMs(config.tombstoneGraceMs),
      },
    });
    // Read before bootstrap seeds an empty table: the epoch the disk's data was stored under.
    const persistedOwnEpoch = this.membership.persistedOwnEpoch;
    this.membership.bootstrap(config.peers.map((p) => ({ id: p.id, peer: `${p.host}:${p.port}` })));
    this.membership.joinVia(config.join);
    this.hintStore = new ReplicaStore(world.storage, 'hints', world.log);
    this.admission = new Admission({
      self: config.id,
      clock: world.clock,
      storage: world.storage,
      log: world.log,
      ownRecord: () => this.membership.record(config.id),
      persistedOwnEpoch,
      discard: () => this.discardStoredData(),
      handOffStale: (removedAtEpoch) =>
        handOffStale(
          {
            self: config.id,
            n: config.n,
            replicas: store,
            hints: this.hintStore,
            transport: world.transport,
            clock: world.clock,
            log: world.log,
            requestTimeoutMs: config.requestTimeoutMs,
            ring: () => this.membership.ring(),
            stopped: () => this.stopped,
          },
          removedAtEpoch,
          // Peers take it only within their window (opened when they learned of the removal).
          world.clock.monotonicMs() + handoffWindowMs(config.tombstoneGraceMs),
        ),
    });
    this.membership.onTableHeard(() => this.admission.tableHeard());
    this.membership.onOwnEpochChange((before, after) => this.admission.ownEpochChanged(before, after));
    this.admission.onServing(() => this.startServing());
    // What pushes or reads data talks through this gate: nothing leaves while not serving (a
    // batch read before a discard must not be sent after it).
    const transport = this.gatedTransport(world.transport);
    this.transfer = new RingTransfer(
      {
        self: config.id,
        n: config.n,
        store,
        transport,
        clock: world.clock,
        log: world.log,
        requestTimeoutMs: config.requestTimeoutMs,
        onProgress: (status) => this.membership.setTransfer(status),
        currentRing: () => this.membership.ring(),
      },
      this.membership.ring(),
    );
    this.antiEntropy = new AntiEntropy({
      self: config.id,
      n: config.n,
      store,
      transport,
      clock: world.clock,
      random: world.random,
      log: world.log,
      intervalMs: config.antiEntropyIntervalMs,
      requestTimeoutMs: config.requestTimeoutMs,
      onState: (state) => this.membership.setState(state),
      tombstoneGraceMs: config.tombstoneGraceMs,
      removedHandoffOpen: () => this.membership.removedHandoffOpen(),
    });
    this.membership.onRingChange((previous, next) => {
      world.log.info({ from: previous?.nodes.map((x) => x.id), to: next?.nodes.map((x) => x.id) }, 'ring changed; moving data');
      // Not serving yet: startServing places the data for whatever ring is current then.
      if (!this.admission.serving()) return;
      this.rebuildTrees(next);
      void this.transfer.rebalance(next);
    });
    this.membership.onPeerUp((peer) => {
      if (this.admission.serving()) this.antiEntropy.peerReturned(peer);
    });
    store.observe((key, _before, after) => {
      if (after !== undefined) this.checkPlacement(key);
    });
    this.hints = new HintDelivery({
      self: config.id,
      hints: this.hintStore,
      replicas: store,
      transport,
      clock: world.clock,
      log: world.log,
      n: config.n,
      ring: () => this.membership.ring(),
      // A removed owner's hints go to the keys' current replicas whatever the detector last saw
      // of it: removed members are no longer pinged, so that verdict would never change.
      statusOf: (id) => {
        const status = this.membership.record(id)?.status;
        if (status === undefined || status === 'removed') return status;
        return this.membership.isLocallyDown(id) ? 'down' : status;
      },
      intervalMs: config.hintIntervalMs,
      requestTimeoutMs: config.requestTimeoutMs,
      siblingsMax: config.siblingsMax,
      storage: world.storage,
    });
    this.coordinator = new ServingCoordinator(this.admission, config.requestTimeoutMs, () => this.membership.record(config.id)?.status === 'removed', () => this.discardsStarted, {
      self: config.id,
      ring: () => {
        const ring = this.membership.ring();
        if (ring === undefined) throw new CoordinationError('COORDINATOR_UNREACHABLE', `node ${config.id} has not learned the ring yet`);
        return ring;
      },
      store,
      dots,
      transport,
      clock: world.clock,
      log: world.log,
      config,
      isDown: (id) => this.membership.isLocallyDown(id),
      isSuspect: (id) => this.membership.isSuspect(id),
      fallbackRecords: this.hints.fallbackRecords,
    });
    world.transport.serve((from, request) => this.handle(from, request));
  }

  /**
   * Opens the node's durable state and starts answering peers, gossiping and pinging. It serves
   * and pushes data only once Admission lets it (see startServing): peers' data requests get
   * NOT_READY and client requests wait (up to requestTimeoutMs) until then.
   */
  static async open(config: NodeConfig, world: NodeWorld): Promise<DynakvNode> {
    const dots = await DotCounter.open(world.storage, config.id, world.random);
    const node = new DynakvNode(config, world, new ReplicaStore(world.storage, 'data', world.log), dots);
    await node.hints.openLoads();
    await node.admission.init();
    node.membership.setState('syncing');
    node.membership.start();
    if (node.membership.otherMembers().length === 0 && config.join.length === 0) node.admission.startAlone();
    return node;
  }

  /** Merges a batch a peer sent; a tombstone this node already purged is not taken back (see isPurgedTombstone). */
  private async mergeBatch(entries: readonly BatchEntry[]): Promise<void> {
    await Promise.all(entries.filter((e) => !this.antiEntropy.isPurgedTombstone(e.key, e.record.siblings)).map((e) => this.store.merge(e.key, e.record)));
  }

  /** Builds the Merkle trees for `ring` in the background (exchanges wait for it). */
  private rebuildTrees(ring: Ring | undefined): void {
    this.antiEntropy.rebuild(ring).catch((err: unknown) => {
      this.world.log.error({ err, retryInMs: TREE_REBUILD_RETRY_MS }, 'building the Merkle trees failed; no anti-entropy until a build succeeds');
      this.world.clock.setTimer(TREE_REBUILD_RETRY_MS, () => {
        if (!this.stopped && this.membership.ring() === ring) this.rebuildTrees(ring);
      });
    });
  }

  /** Admission let this node serve (at start, or again after discarding stale data while running). */
  private startServing(): void {
    const ring = this.membership.ring();
    this.rebuildTrees(ring);
    if (!this.servedBefore) {
      this.servedBefore = true;
      this.hints.start();
      this.antiEntropy.start();
    }
    // The seed's recovery rule: at once pull and push every range with its other replicas.
    void this.antiEntropy.recover();
    // Leftovers of a transfer interrupted by a crash (keys this node no longer replicates), and
    // whatever ring changes happened while it was not serving.
    void this.transfer.rebalance(ring);
  }

  /**
   * Deletes every replica and hint this node stores (Admission found them from an earlier
   * membership), a page at a time, each page one group commit. Nothing else writes meanwhile:
   * data requests are refused while not serving.
   */
  /** Discards of stale data started (a write that ran across one is not acknowledged). */
  private discardsStarted = 0;

  private async discardStoredData(): Promise<{ replicas: number; hints: number }> {
    this.discardsStarted++;
    const discardAll = async (store: ReplicaStore): Promise<number> => {
      let removed = 0;
      let start: string | undefined;
      for (;;) {
        const page = store.keys(start, DISCARD_PAGE_KEYS + 1);
        const results = await Promise.all(page.slice(0, DISCARD_PAGE_KEYS).map((key) => store.removeIfUnchanged(key, store.read(key))));
        removed += results.filter(Boolean).length;
        start = page[DISCARD_PAGE_KEYS];
        if (start === undefined) return removed;
      }
    };
    const totals = { replicas: await discardAll(this.store), hints: await discardAll(this.hintStore) };
    // Its versions are gone from this node but may live on elsewhere: a new actor, so that its
    // next versions do not claim them (simulator harsh seed 50092).
    const before = this.dots.actor;
    await this.dots.rotate(this.world.random);
    this.world.log.warn({ before, after: this.dots.actor }, 'data from an earlier membership discarded; this node now writes as a new actor');
    return totals;
  }

  private isOwnRecordMember(): boolean {
    const own = this.membership.record(this.config.id);
    return own !== undefined && own.status !== 'removed';
  }

  /** `inner`, except that data requests fail at once (UNREACHABLE) while this node is not serving. */
  private gatedTransport(inner: Transport<PeerRequest, PeerReply>): Transport<PeerRequest, PeerReply> {
    return {
      request: (to, request, timeoutMs) =>
        isDataRequest(request.kind) && !this.admission.serving()
          ? Promise.reject(new TransportError('UNREACHABLE', `${this.config.id} is not serving data yet (${this.admission.state})`))
          : inner.request(to, request, timeoutMs),
      serve: (handler) => inner.serve(handler),
      close: () => inner.close(),
    };
  }

  get id(): NodeId {
    return this.config.id;
  }

  ring(): Ring | undefined {
    return this.membership.ring();
  }

  /** Client read through a quorum of R replicas (default config.r). */
  async get(key: string, r?: number): Promise<VersionsRead> {
    const { siblings } = await this.coordinator.get(key, r);
    return { siblings, context: this.contexts.encode(key, joinClocks(siblings)) };
  }

  /**
   * Client write (or delete), acknowledged once W replicas hold it durably; returns the new
   * version's context. A context this cluster did not issue for this key is refused with
   * ContextError (BAD_CONTEXT) before anything happens.
   */
  async put(write: ClientWrite): Promise<string> {
    const context = this.contexts.decode(write.key, write.context);
    const clock = await this.coordinator.put({ key: write.key, value: write.value, contentType: write.contentType, context, ...(write.w !== undefined ? { w: write.w } : {}) });
    return this.contexts.encode(write.key, clock);
  }

  /** The versions this node's own replica holds (no quorum), with their context. */
  readLocal(key: string): VersionsRead {
    const siblings = this.store.read(key);
    return { siblings, context: this.contexts.encode(key, joinClocks(siblings)) };
  }

  /** A client's delete: a tombstone written like a value (see put). */
  delete(request: ClientDelete): Promise<string> {
    return this.put({ key: request.key, value: null, contentType: '', context: request.context, ...(request.w !== undefined ? { w: request.w } : {}) });
  }

  /** Up to `limit` keys of this node's own replica in key order, from `start` (inclusive). */
  localKeys(start: string | undefined, limit: number): string[] {
    return this.store.keys(start, limit);
  }

  /**
   * The key's preference list in this node's ring and the versions each replica stores: this
   * node's own read from its store, every other's with a replica_get over the peer link (never
   * from an HTTP address a member published: that would let a member point this node's
   * requests anywhere). Undefined while this node knows no ring.
   */
  async lookup(key: string, timeoutMs: number): Promise<KeyLookup | undefined> {
    const ring = this.membership.ring();
    if (ring === undefined) return undefined;
    const preferenceList = ring.preferenceList(key, this.config.n);
    const replicas = await Promise.all(preferenceList.map((id) => this.replicaVersions(id, key, timeoutMs)));
    return { key, preferenceList, replicas };
  }

  /**
   * Node `node`'s replicas of the keys in [start, end), in key order: this node's own store, any
   * other's with a replica_range over the peer link. Rejects when the node cannot answer in time.
   */
  async readRange(node: NodeId, start: string, end: string, limit: number, reverse: boolean, timeoutMs: number): Promise<RangeRead> {
    assert(Number.isInteger(limit) && limit >= 1 && limit <= TRANSFER_BATCH_KEYS_MAX, () => `readRange: limit ${limit} outside 1..${TRANSFER_BATCH_KEYS_MAX}`);
    let read: { readonly entries: readonly BatchEntry[]; readonly more: boolean };
    if (node === this.config.id) {
      if (!this.admission.serving()) throw new TransportError('UNREACHABLE', `${this.config.id} is not serving data yet (${this.admission.state})`);
      read = this.localRange(start, end, limit, reverse);
    } else {
      const reply = await this.world.transport.request(node, { kind: 'replica_range', start, end, limit, reverse }, timeoutMs);
      if (reply.kind !== 'replica_range_ok') throw new Error(`${node} answered a range read with ${reply.kind}`);
      // A peer's answer is checked like any input: keys inside the range asked, in the order
      // asked, strictly moving (a merge relies on it to move forward).
      for (let i = 0; i < reply.entries.length; i++) {
        const key = reply.entries[i]!.key;
        const previous = i === 0 ? undefined : reply.entries[i - 1]!.key;
        const inside = compareKeys(key, start) >= 0 && compareKeys(key, end) < 0;
        const ordered = previous === undefined || (reverse ? compareKeys(key, previous) < 0 : compareKeys(key, previous) > 0);
        if (!inside || !ordered) throw new Error(`${node} answered a range read with ${inside ? 'keys out of order' : 'a key outside the range asked'}`);
      }
      if (reply.more && reply.entries.length === 0) throw new Error(`${node} answered a range read with more to come and no key`);
      if (reply.entries.length > limit) throw new Error(`${node} answered a range read with ${reply.entries.length} keys, more than the ${limit} asked`);
      read = reply;
    }
    return { entries: read.entries.map((e) => ({ key: e.key, siblings: e.record.siblings })), more: read.more };
  }

  /** This replica's keys in [start, end): at most `limit`, and no more than fit one batch. */
  private localRange(start: string, end: string, limit: number, reverse: boolean): { readonly entries: BatchEntry[]; readonly more: boolean } {
    const keys = this.store.rangeKeys(start, end, limit + 1, reverse);
    const entries: BatchEntry[] = [];
    let bytes = 0;
    for (const key of keys.slice(0, limit)) {
      const record = this.store.readEncoded(key);
      const size = batchEntryBytes(key, record);
      if (entries.length > 0 && bytes + size > TRANSFER_BATCH_BYTES_MAX) return { entries, more: true };
      entries.push({ key, record });
      bytes += size;
    }
    return { entries, more: keys.length > limit };
  }

  private async replicaVersions(id: NodeId, key: string, timeoutMs: number): Promise<ReplicaVersions> {
    if (id === this.config.id) return { node: id, status: 'up', siblings: this.store.read(key), error: null };
    const record = this.membership.record(id);
    const status = record === undefined ? 'unknown' : this.seenStatusOf(record);
    try {
      const reply = await this.world.transport.request(id, { kind: 'replica_get', key }, timeoutMs);
      if (reply.kind !== 'replica_get_ok') return { node: id, status, siblings: [], error: `unexpected reply ${reply.kind}` };
      return { node: id, status, siblings: reply.record.siblings, error: null };
    } catch (err) {
      const error = err instanceof TransportError ? (err.code === 'UNREACHABLE' || err.code === 'CLOSED' ? 'unreachable' : err.code === 'TIMEOUT' ? 'no answer in time' : err.message) : (err as Error).message;
      return { node: id, status, siblings: [], error };
    }
  }

  private seenStatusOf(record: MemberRecord): ReturnType<typeof seenStatus> {
    return seenStatus(record, (id) => this.membership.isLocallyDown(id));
  }

  members(): MembersTable {
    return {
      members: this.membership.table().map((record) => ({ record, seen: this.seenStatusOf(record), lastHeardMs: this.membership.lastHeard(record.id) ?? null })),
      log: this.membership.history().slice(),
    };
  }

  async addMember(id: NodeId, peer: string, http: string): Promise<MemberRecord> {
    const record = this.membership.addMember(id, peer, http);
    await this.durableChange('add');
    return record;
  }

  async removeMember(id: NodeId): Promise<MemberRecord> {
    const record = this.membership.removeMember(id);
    await this.durableChange('remove');
    return record;
  }

  /**
   * An operator's change is answered once the table holding it is durable here. If it cannot be
   * (a full or failing disk), the change is in this node's memory and may already be gossiped,
   * or may be lost in a crash: the operator is told it is uncertain.
   */
  private async durableChange(what: 'add' | 'remove'): Promise<void> {
    try {
      await this.membership.persisted();
    } catch (err) {
      throw new StorageError(
        `the ${what} was made in this node's memory but its table could not be written to disk (${err instanceof Error ? err.message : String(err)}); it may or may not take effect: check the members list, and make the change again through another member`,
        { cause: err },
      );
    }
  }

  /** Gathered from the parts' counters; every object in it is a fresh copy. */
  stats(): NodeStats {
    const progress = this.antiEntropy.status();
    const totals = this.antiEntropy.totals;
    const discarded = this.admission.totals;
    return {
      node: this.config.id,
      keys: this.store.count(),
      transfer: { active: this.transfer.active, keysSent: this.transfer.keysSent, keysDropped: this.transfer.keysDropped, keysTooLarge: this.transfer.keysTooLarge },
      hints: this.hints.heldPerOwner(),
      hintsStored: this.hints.stored,
      hintsDelivered: this.hints.delivered,
      hintsTooLarge: this.hints.tooLarge,
      hintedWrites: this.coordinator.hintedWrites,
      fallbackWrites: this.coordinator.fallbackWrites,
      readRepairs: this.coordinator.readRepairs,
      corruptRecords: this.store.corruptRecords + this.hints.corruptRecords,
      sync: {
        // Not serving: recovery has not even started.
        state: this.admission.serving() ? progress.state : 'syncing',
        pairsDone: progress.pairsDone,
        pairsTotal: progress.pairsTotal,
        syncs: totals.syncs,
        keysPulled: totals.keysPulled,
        keysPushed: totals.keysPushed,
        hashesCompared: totals.hashesCompared,
        bytesSent: totals.bytesSent,
        bytesReceived: totals.bytesReceived,
        tombstonesPurged: totals.tombstonesPurged,
      },
      admission: this.admission.state,
      discarded: { discards: discarded.discards, replicas: discarded.replicas, hints: discarded.hints },
      gossipRounds: this.membership.gossipRounds,
      detectorTransitions: { down: this.membership.detectorTransitions.down, up: this.membership.detectorTransitions.up },
    };
  }

  /** What member `id` answers to an `activity` request; null if it does not answer for itself in time. */
  async peerActivity(id: NodeId, timeoutMs: number): Promise<NodeActivity | null> {
    try {
      const reply = await this.world.transport.request(id, { kind: 'activity' }, timeoutMs);
      // A peer answers for itself only.
      return reply.kind === 'activity_ok' && reply.activity?.node === id ? reply.activity : null;
    } catch {
      return null; // unreachable, timed out, or an old node that does not know the request
    }
  }

  /** Installs what this node answers to a peer's `activity` request (none: it answers null). */
  setActivitySource(source: () => NodeActivity): void {
    this.activitySource = source;
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    this.admission.stop();
    this.membership.stop();
    this.hints.stop();
    this.antiEntropy.stop();
  }

  /**
   * Every committed write is accepted (its sender may know a newer ring than ours), but a key
   * this node does not replicate in its current ring is handed off. Watching commits, not
   * request kinds, covers every path: replica writes, anti-entropy pulls, a coordinator's own
   * write racing a ring change.
   */
  private checkPlacement(key: string): void {
    const ring = this.membership.ring();
    if (ring !== undefined && !ring.preferenceList(key, this.config.n).includes(this.config.id)) this.transfer.strayWrite(key);
  }

  /**
   * Answers one peer request from `from` (the transport proved that id). What a node that is not
   * a ring member here may ask is limited (peer-authority.ts): anything else is refused with a
   * PeerRefusal, which the transport answers as an error reply (the connection stays open).
   * Operating errors become replies; only bugs reject.
   */
  async handle(from: NodeId, request: PeerRequest): Promise<PeerReply> {
    const standing = this.membership.standingOf(from);
    if (!mayAsk(standing, request.kind)) {
      throw new PeerRefusal('NOT_A_MEMBER', `${from} is not a ring member of ${this.config.id}'s table${standing === 'stranger' ? '' : ' (removed: only its hand-off is taken)'}; it may only ping and pull the table`);
    }
    if (isDataRequest(request.kind)) {
      if (!this.admission.serving()) throw new PeerRefusal('NOT_READY', `${this.config.id} serves no data yet (${this.admission.state}): ask again later`);
      // A member sends us data only if it holds us as a member: if we do not (we were removed,
      // and may not have heard of our re-add yet), our store is not a replica of anything now,
      // and data taken into it would be discarded with it once we hear. Ask for the news.
      if (!this.isOwnRecordMember()) {
        this.membership.askForNews();
        throw new PeerRefusal('NOT_READY', `${this.config.id} is not a ring member in its own table (${this.membership.record(this.config.id)?.status ?? 'never added'}): ask again once it has heard of its addition`);
      }
    }
    switch (request.kind) {
      case 'replica_put':
        await this.store.merge(request.key, request.record);
        return { kind: 'replica_put_ok' };
      case 'stale_put_batch':
        if (!this.membership.staleHandoffOpen(from, request.removedAtEpoch)) {
          throw new PeerRefusal('HANDOFF_CLOSED', `${this.config.id} takes no data ${from} held before its removal at epoch ${request.removedAtEpoch}: its hand-off window for that removal is closed, or it never saw it`);
        }
        await this.mergeBatch(request.entries);
        return { kind: 'replica_put_ok' };
      case 'replica_put_batch':
        await this.mergeBatch(request.entries);
        return { kind: 'replica_put_ok' };
      case 'replica_get':
        return { kind: 'replica_get_ok', record: this.store.readEncoded(request.key) };
      case 'replica_load': {
        const record = this.store.readEncoded(request.key);
        return { kind: 'replica_load_ok', ...loadOf(record.siblings, record.bytes.length) };
      }
      case 'replica_range':
        return { kind: 'replica_range_ok', ...this.localRange(request.start, request.end, request.limit, request.reverse) };
      case 'hint_put':
        await this.hints.store(request.owner, request.key, request.record);
        return { kind: 'replica_put_ok' };
      case 'forward_put':
        try {
          const context = await this.coordinator.putForwarded(request);
          return { kind: 'forward_put_ok', context };
        } catch (err) {
          if (!(err instanceof CoordinationError)) throw err;
          return { kind: 'forward_put_failed', code: err.code, message: err.message, ...err.replies };
        }
      case 'gossip':
        return { kind: 'gossip_ok', records: this.membership.receiveGossip(from, request.records) };
      case 'ae_level':
      case 'ae_bucket':
      case 'replica_get_batch':
        return this.antiEntropy.handle(request);
      case 'activity':
        return { kind: 'activity_ok', activity: this.activitySource?.() ?? null };
      case 'ping':
        return { kind: 'pong' };
    }
  }
}

/**
 * The coordinator, waiting (up to `waitMs`) for this node to serve before each client operation:
 * a node that has not heard the cluster's table, or is discarding stale data, neither reads its
 * replica for a client nor takes a write.
 */
class ServingCoordinator extends Coordinator {
  constructor(
    private readonly admission: Admission,
    private readonly waitMs: number,
    private readonly isRemoved: () => boolean,
    /** How many discards of stale data this node has started. */
    private readonly discardsStarted: () => number,
    deps: ConstructorParameters<typeof Coordinator>[0],
  ) {
    super(deps);
  }

  override get(key: string, r?: number): Promise<ReadResult> {
    // The common case, a serving member, without a wait in between.
    if (!this.isRemoved() && this.admission.serving()) return super.get(key, r);
    return this.ready().then(() => super.get(key, r));
  }

  override async put(request: WriteRequest): Promise<VClock> {
    await this.ready();
    return this.outlivingNoDiscard(() => super.put(request));
  }

  override async putForwarded(request: WriteRequest): Promise<VClock> {
    await this.ready();
    return this.outlivingNoDiscard(() => super.putForwarded(request));
  }

  /**
   * A write this node coordinated counts its own replica; if the node discarded its data while
   * the write ran (it heard of its re-add), that replica is gone, and the write may be on fewer
   * than W nodes: it is not acknowledged (simulator harsh seed 54043).
   */
  private async outlivingNoDiscard(write: () => Promise<VClock>): Promise<VClock> {
    const discardsBefore = this.discardsStarted();
    const clock = await write();
    if (this.discardsStarted() !== discardsBefore) {
      throw new CoordinationError('QUORUM_FAILED', 'this node discarded its data (from an earlier membership) while the write ran; the write may or may not have been applied');
    }
    return clock;
  }

  private async ready(): Promise<void> {
    // A removed node takes no client requests: its peers refuse its data requests, so it could
    // only fail them later, and less clearly.
    if (this.isRemoved()) {
      throw new CoordinationError('NOT_A_MEMBER', 'this node was removed from the cluster; send requests to a ring member');
    }
    if (this.admission.serving()) return;
    if (!(await this.admission.whenServing(this.waitMs))) {
      throw new CoordinationError('COORDINATOR_UNREACHABLE', `this node serves no data yet (${this.admission.state}: it has not heard the cluster's table from a member, or is discarding data from an earlier membership)`);
    }
  }
}
