// A dynakv node assembled from its parts and the injected world (clock, random, storage,
// transport, log): membership (gossip, failure detection), ring-change transfers, and the
// coordinator the API uses. It answers peer requests. The same class runs in production
// (src/node/production.ts) and in the simulator (sim/).
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import type { Storage } from '../env/storage.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import { AntiEntropy, type SyncProgress, type SyncTotals } from '../antientropy/anti-entropy.ts';
import { HintDelivery } from '../handoff/hint-delivery.ts';
import { RingTransfer } from '../handoff/ring-transfer.ts';
import { Membership } from '../membership/membership.ts';
import type { NodeActivity } from '../protocol/activity.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import { DotCounter } from '../replication/dot-counter.ts';
import { CoordinationError } from '../replication/errors.ts';
import { Coordinator } from '../replication/coordinator.ts';
import { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import { deriveKey } from '../security/cluster-secret.ts';
import { ContextCodec } from '../version/context.ts';
import { joinClocks, type Sibling } from '../version/siblings.ts';
import type { NodeConfig } from './config.ts';

export interface NodeWorld {
  readonly clock: Clock;
  readonly random: Random;
  readonly storage: Storage;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly log: Log;
}

export interface LocalStats {
  readonly node: NodeId;
  readonly keys: number;
  readonly transfer: { readonly active: boolean; readonly keysSent: number; readonly keysDropped: number };
  /** Hints this node holds, per owner they wait for. */
  readonly hints: Record<NodeId, number>;
  readonly hintsDelivered: number;
  readonly hintedWrites: number;
  readonly readRepairs: number;
  /** Records found on disk that do not decode (data and hints): reported, read as absent, rewritten by repair. */
  readonly corruptRecords: number;
  /** Recovery / anti-entropy: `syncing` with progress until every range was compared. */
  readonly sync: SyncProgress & SyncTotals;
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

/** A key's versions (tombstones included) and the context a client sends back to supersede them. */
export interface VersionsRead {
  readonly siblings: readonly Sibling[];
  readonly context: string;
}

export class DynakvNode {
  readonly coordinator: Coordinator;
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
    dots: DotCounter,
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
        missedPingsMax: config.missedPingsMax,
        logEntriesMax: 1_000,
        n: config.n,
      },
    });
    this.membership.bootstrap(config.peers.map((p) => ({ id: p.id, peer: `${p.host}:${p.port}` })));
    this.membership.joinVia(config.join);
    this.transfer = new RingTransfer(
      {
        self: config.id,
        n: config.n,
        store,
        transport: world.transport,
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
      transport: world.transport,
      clock: world.clock,
      random: world.random,
      log: world.log,
      intervalMs: config.antiEntropyIntervalMs,
      requestTimeoutMs: config.requestTimeoutMs,
      onState: (state) => this.membership.setState(state),
      tombstoneGraceMs: config.tombstoneGraceMs,
    });
    this.membership.onRingChange((previous, next) => {
      world.log.info({ from: previous?.nodes.map((x) => x.id), to: next?.nodes.map((x) => x.id) }, 'ring changed; moving data');
      this.antiEntropy.rebuild(next);
      void this.transfer.rebalance(next);
    });
    this.membership.onPeerUp((peer) => this.antiEntropy.peerReturned(peer));
    store.observe((key, _before, after) => {
      if (after !== undefined) this.checkPlacement(key);
    });
    this.hints = new HintDelivery({
      self: config.id,
      hints: new ReplicaStore(world.storage, 'hints', world.log),
      replicas: store,
      transport: world.transport,
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
    });
    this.coordinator = new Coordinator({
      self: config.id,
      ring: () => {
        const ring = this.membership.ring();
        if (ring === undefined) throw new CoordinationError('COORDINATOR_UNREACHABLE', `node ${config.id} has not learned the ring yet`);
        return ring;
      },
      store,
      dots,
      transport: world.transport,
      clock: world.clock,
      log: world.log,
      config,
      isDown: (id) => this.membership.isLocallyDown(id),
      isSuspect: (id) => this.membership.isSuspect(id),
    });
    world.transport.serve((from, request) => this.handle(from, request));
  }

  /** Opens the node's durable state and starts answering peers, gossiping and pinging. */
  static async open(config: NodeConfig, world: NodeWorld): Promise<DynakvNode> {
    const dots = await DotCounter.open(world.storage, config.id, world.random);
    const node = new DynakvNode(config, world, new ReplicaStore(world.storage, 'data', world.log), dots);
    node.antiEntropy.rebuild(node.membership.ring());
    node.membership.start();
    node.hints.start();
    node.antiEntropy.start();
    // The seed's recovery rule: at once pull and push every range with its other replicas.
    void node.antiEntropy.recover();
    // Leftovers of a transfer interrupted by a crash: keys this node no longer replicates.
    void node.transfer.rebalance(node.membership.ring());
    return node;
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

  stats(): LocalStats {
    return {
      node: this.config.id,
      keys: this.store.count(),
      transfer: { active: this.transfer.active, keysSent: this.transfer.keysSent, keysDropped: this.transfer.keysDropped },
      hints: this.hints.heldPerOwner(),
      hintsDelivered: this.hints.delivered,
      hintedWrites: this.coordinator.hintedWrites,
      readRepairs: this.coordinator.readRepairs,
      corruptRecords: this.store.corruptRecords + this.hints.corruptRecords,
      sync: { ...this.antiEntropy.status(), ...this.antiEntropy.totals },
    };
  }

  /** Installs what this node answers to a peer's `activity` request (none: it answers null). */
  setActivitySource(source: () => NodeActivity): void {
    this.activitySource = source;
  }

  stop(): void {
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

  /** Answers one peer request. Operating errors become replies; only bugs reject. */
  async handle(_from: NodeId, request: PeerRequest): Promise<PeerReply> {
    switch (request.kind) {
      case 'replica_put':
        await this.store.merge(request.key, request.record);
        return { kind: 'replica_put_ok' };
      case 'replica_put_batch':
        // A tombstone this node already purged is not taken back (see isPurgedTombstone).
        await Promise.all(request.entries.filter((e) => !this.antiEntropy.isPurgedTombstone(e.key, e.record.siblings)).map((e) => this.store.merge(e.key, e.record)));
        return { kind: 'replica_put_ok' };
      case 'replica_get':
        return { kind: 'replica_get_ok', record: this.store.readEncoded(request.key) };
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
        return { kind: 'gossip_ok', records: this.membership.receiveGossip(request.records) };
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
