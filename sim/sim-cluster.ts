// A whole dynakv cluster in one process: real DynakvNode instances wired to the simulated
// network, virtual clocks and simulated disks (asynchronous, failing on demand, losing in-flight
// commits on a crash, wiped on demand), all derived from one seed. Tests and the simulator
// drive it; nothing here touches real time, sockets or disks.
import { createHash } from 'node:crypto';
import { silentLog } from '../src/env/log.ts';
import { DEFAULT_CONFIG, type NodeConfig } from '../src/node/config.ts';
import { DynakvNode } from '../src/node/node.ts';
import { parsePeerReply, parsePeerRequest, type PeerReply, type PeerRequest } from '../src/protocol/messages.ts';
import { insecureClusterSecret } from '../src/security/cluster-secret.ts';
import { MemoryStorage } from '../src/storage/memory-storage.ts';
import { FencedStorage, healthyDisk, type DiskFaults } from './fenced-storage.ts';
import { Scheduler } from './scheduler.ts';
import { SeededRandom } from './seeded-random.ts';
import { SimClock } from './sim-clock.ts';
import { SimNetwork } from './sim-network.ts';

export interface SimClusterOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly config?: Partial<NodeConfig>;
  /**
   * Test-only defects, to prove the simulator catches the bugs they stand for: `dot-reuse`
   * forgets the dot ceiling on restart; `lying-disk` acknowledges commits before they are durable.
   */
  readonly defect?: 'dot-reuse' | 'lying-disk';
  /** Commits complete at once and never fail (the simulator before issue 13). Default false. */
  readonly syncDisks?: boolean;
  /**
   * Mutual TLS on the peer port: only the nodes (and `certifiedExtra`) hold certificates, any
   * other sender is refused. Default true, as production requires it.
   */
  readonly authentication?: boolean;
  /** Further ids the cluster CA issued certificates to (e.g. a buggy or hostile endpoint). */
  readonly certifiedExtra?: readonly string[];
}

export class SimCluster {
  readonly scheduler = new Scheduler();
  readonly random: SeededRandom;
  readonly network: SimNetwork<PeerRequest, PeerReply>;
  readonly nodes = new Map<string, DynakvNode>();
  /** Each node's durable disk: what survives a crash (replaced by an empty one when wiped). */
  readonly storages = new Map<string, MemoryStorage>();
  /** The current incarnation's view of each disk. */
  private readonly fences = new Map<string, FencedStorage>();
  /** Disk faults per node, changed by the nemesis; they outlive restarts (it is the machine's disk). */
  readonly diskFaults = new Map<string, DiskFaults>();
  private readonly diskRandoms = new Map<string, SeededRandom>();
  /** Each machine's wall-clock skew (ms); survives restarts. */
  private readonly skews = new Map<string, number>();
  private readonly clocks = new Map<string, SimClock>();
  readonly ids: string[];
  private readonly crashListeners: Array<(id: string) => void> = [];
  /** Commits that failed and commits lost in flight by crashes, over every incarnation. */
  readonly diskTotals = { failed: 0, lost: 0 };

  private constructor(readonly options: SimClusterOptions) {
    this.random = new SeededRandom(options.seed);
    // TCP never delivers a request twice, and no layer of dynakv resends a forwarded write (the
    // coordinator refuses to, as a second coordination would create a second version). Every
    // other request is a join or a read, which a retry could repeat harmlessly.
    this.network = new SimNetwork(this.scheduler, this.random.fork(), parsePeerRequest, parsePeerReply, {
      delayMinMs: 1,
      delayMaxMs: 5,
      duplicable: (request) => (request as { kind?: unknown }).kind !== 'forward_put',
    });
    this.ids = Array.from({ length: options.nodes ?? 5 }, (_, i) => `n${i + 1}`);
    if (options.authentication !== false) this.network.certified = new Set([...this.ids, ...(options.certifiedExtra ?? [])]);
    for (const id of this.ids) {
      this.diskFaults.set(id, healthyDisk());
      this.diskRandoms.set(id, this.random.fork());
    }
  }

  static async start(options: SimClusterOptions): Promise<SimCluster> {
    const cluster = new SimCluster(options);
    for (const id of cluster.ids) await cluster.startNode(id);
    return cluster;
  }

  configOf(id: string): NodeConfig {
    return {
      ...DEFAULT_CONFIG,
      id,
      clusterSecret: insecureClusterSecret('sim'),
      peers: this.ids.map((peer, i) => ({ id: peer, host: 'sim', port: 1 + i })),
      advertisePeer: `sim:${1 + this.ids.indexOf(id)}`,
      advertiseHttp: '',
      ...this.options.config,
    };
  }

  /** Starts (or restarts, keeping its storage) one node. Rejects if the node cannot open its store. */
  async startNode(id: string): Promise<DynakvNode> {
    let storage = this.storages.get(id);
    if (storage === undefined) {
      storage = new MemoryStorage();
      this.storages.set(id, storage);
    }
    let skewMs = this.skews.get(id);
    if (skewMs === undefined) this.skews.set(id, (skewMs = this.random.nextInt(200) - 100));
    if (this.options.defect === 'dot-reuse') {
      // The bug: forgetting the durable dot ceiling on restart, so counters repeat.
      await storage.commit([{ space: 'meta', key: 'dot-ceiling', value: null }]);
    }
    const fenced = new FencedStorage(
      storage,
      this.options.syncDisks === true
        ? undefined
        : { scheduler: this.scheduler, random: this.diskRandoms.get(id)!, faults: this.diskFaults.get(id)!, lying: this.options.defect === 'lying-disk', owner: this },
    );
    this.fences.set(id, fenced);
    const clock = new SimClock(this.scheduler, skewMs);
    this.clocks.set(id, clock);
    const world = {
      clock,
      random: this.random.fork(),
      storage: fenced,
      transport: this.network.transportFor(id),
      log: silentLog,
    };
    let node: DynakvNode;
    try {
      node = await this.scheduler.complete(DynakvNode.open(this.configOf(id), world));
    } catch (err) {
      // A process that fails to start is down: it serves nothing and writes nothing more.
      this.retire(id, fenced);
      await world.transport.close();
      throw err;
    }
    this.nodes.set(id, node);
    return node;
  }

  /** Fallback-coordinated writes of node incarnations that crashed (their counters died with them). */
  crashedFallbackWrites = 0;

  /** Calls `listener` whenever a node crashes (its clients' connections break). Returns a remover. */
  onCrash(listener: (id: string) => void): () => void {
    this.crashListeners.push(listener);
    return () => {
      const i = this.crashListeners.indexOf(listener);
      if (i >= 0) this.crashListeners.splice(i, 1);
    };
  }

  /** Stops a node as a crash would: it vanishes from the network, its timers stop, commits still in flight are lost. */
  async crashNode(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    this.crashedFallbackWrites += node.coordinator.fallbackWrites;
    this.nodes.delete(id);
    const fenced = this.fences.get(id);
    if (fenced !== undefined) this.retire(id, fenced);
    this.clocks.get(id)?.stop();
    for (const listener of this.crashListeners) listener(id);
    node.stop();
    await node.world.transport.close();
  }

  /**
   * The node's disk is lost (replaced, or its data directory deleted): it crashes, and its next
   * start finds an empty store under the same id.
   */
  async wipeNode(id: string): Promise<void> {
    await this.crashNode(id);
    this.storages.set(id, new MemoryStorage());
  }

  /** Sets a machine's wall-clock skew, at once for a running node (an NTP step) and for later starts. */
  setSkew(id: string, skewMs: number): void {
    this.skews.set(id, skewMs);
    const clock = this.clocks.get(id);
    if (clock !== undefined) clock.skewMs = skewMs;
  }

  skewOf(id: string): number {
    return this.skews.get(id) ?? 0;
  }

  node(id: string): DynakvNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`node ${id} is not running`);
    return node;
  }

  /** A digest of everything that crossed the network: equal seeds must give equal digests. */
  traceHash(): string {
    return createHash('sha256').update(this.network.trace.join('\n')).digest('hex');
  }

  private retire(id: string, fenced: FencedStorage): void {
    fenced.fence();
    this.diskTotals.failed += fenced.commitsFailed;
    this.diskTotals.lost += fenced.commitsLost;
    if (this.fences.get(id) === fenced) this.fences.delete(id);
  }

  /** Disk totals including the running incarnations. */
  diskStats(): { failed: number; lost: number } {
    let { failed, lost } = this.diskTotals;
    for (const f of this.fences.values()) {
      failed += f.commitsFailed;
      lost += f.commitsLost;
    }
    return { failed, lost };
  }
}
