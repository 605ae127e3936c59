// A whole dynakv cluster in one process: real DynakvNode instances wired to the simulated
// network, virtual clocks and in-memory storage, all derived from one seed. Tests and the
// simulator drive it; nothing here touches real time, sockets or disks.
import { createHash } from 'node:crypto';
import { silentLog } from '../src/env/log.ts';
import { DEFAULT_CONFIG, type NodeConfig } from '../src/node/config.ts';
import { DynakvNode } from '../src/node/node.ts';
import { parsePeerReply, parsePeerRequest, type PeerReply, type PeerRequest } from '../src/protocol/messages.ts';
import { insecureClusterSecret } from '../src/security/cluster-secret.ts';
import { MemoryStorage } from '../src/storage/memory-storage.ts';
import { FencedStorage } from './fenced-storage.ts';
import { Scheduler } from './scheduler.ts';
import { SeededRandom } from './seeded-random.ts';
import { SimClock } from './sim-clock.ts';
import { SimNetwork } from './sim-network.ts';

export interface SimClusterOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly config?: Partial<NodeConfig>;
  /** Test-only defects, to prove the simulator catches the bugs they stand for. */
  readonly defect?: 'dot-reuse';
}

export class SimCluster {
  readonly scheduler = new Scheduler();
  readonly random: SeededRandom;
  readonly network: SimNetwork<PeerRequest, PeerReply>;
  readonly nodes = new Map<string, DynakvNode>();
  readonly storages = new Map<string, MemoryStorage>();
  private readonly fences = new Map<string, FencedStorage>();
  readonly ids: string[];

  private constructor(readonly options: SimClusterOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork(), parsePeerRequest, parsePeerReply);
    this.ids = Array.from({ length: options.nodes ?? 5 }, (_, i) => `n${i + 1}`);
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

  /** Starts (or restarts, keeping its storage) one node. */
  async startNode(id: string): Promise<DynakvNode> {
    let storage = this.storages.get(id);
    if (storage === undefined) {
      storage = new MemoryStorage();
      this.storages.set(id, storage);
    }
    const skewMs = this.random.nextInt(200) - 100;
    if (this.options.defect === 'dot-reuse') {
      // The bug: forgetting the durable dot ceiling on restart, so counters repeat.
      await storage.commit([{ space: 'meta', key: 'dot-ceiling', value: null }]);
    }
    const fenced = new FencedStorage(storage);
    this.fences.set(id, fenced);
    const world = {
      clock: new SimClock(this.scheduler, skewMs),
      random: this.random.fork(),
      storage: fenced,
      transport: this.network.transportFor(id),
      log: silentLog,
    };
    const node = await this.scheduler.complete(DynakvNode.open(this.configOf(id), world));
    this.nodes.set(id, node);
    return node;
  }

  /** Stops a node as a crash would: it vanishes from the network; committed storage survives. */
  async crashNode(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    this.nodes.delete(id);
    this.fences.get(id)?.fence();
    node.stop();
    await node.world.transport.close();
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
}
