// Test support: real DynakvNodes on the simulator's scheduler, clocks and network, but with a peer
// transport that enforces the TCP transport's frame limit (a request too large rejects
// OVERLOADED before it is sent, a reply too large answers REMOTE_ERROR REPLY_TOO_LARGE, as
// src/transport/tcp-transport.ts does) and with a chosen clock skew per node. The simulator's
// own network does not enforce frames, so batches larger than a frame pass there unnoticed.
import { FencedStorage } from '../../sim/fenced-storage.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { SeededRandom } from '../../sim/seeded-random.ts';
import { SimClock } from '../../sim/sim-clock.ts';
import { SimNetwork } from '../../sim/sim-network.ts';
import { silentLog } from '../../src/env/log.ts';
import type { Storage } from '../../src/env/storage.ts';
import { TransportError, type Transport } from '../../src/env/transport.ts';
import { DEFAULT_CONFIG, type NodeConfig } from '../../src/node/config.ts';
import { DynakvNode } from '../../src/node/node.ts';
import { parsePeerReply, parsePeerRequest, type PeerReply, type PeerRequest } from '../../src/protocol/messages.ts';
import { insecureClusterSecret } from '../../src/security/cluster-secret.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { encodeFrame, FrameError, frameBytesMaxDefault } from '../../src/transport/frame-codec.ts';
import { RemoteError } from '../../src/transport/remote-error.ts';

/** Wraps a transport so that frames larger than `frameBytesMax` fail as they do over TCP. */
export function frameLimited<Req, Rep>(inner: Transport<Req, Rep>, frameBytesMax: number = frameBytesMaxDefault): Transport<Req, Rep> {
  const fits = (t: 'req' | 'rep', body: unknown): string | undefined => {
    try {
      encodeFrame({ t, id: 0, body }, frameBytesMax);
      return undefined;
    } catch (err) {
      if (err instanceof FrameError) return err.message;
      throw err;
    }
  };
  return {
    request(to, request, timeoutMs) {
      const tooLarge = fits('req', request);
      if (tooLarge !== undefined) return Promise.reject(new TransportError('OVERLOADED', `request to ${to} too large: ${tooLarge}`));
      return inner.request(to, request, timeoutMs);
    },
    serve(handler) {
      inner.serve(async (from, request) => {
        const reply = await handler(from, request);
        const tooLarge = fits('rep', reply);
        if (tooLarge !== undefined) throw new RemoteError('REPLY_TOO_LARGE', tooLarge);
        return reply;
      });
    },
    close: () => inner.close(),
  };
}

export interface FrameLimitedClusterOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly config?: Partial<NodeConfig>;
  /** Clock skew per node id in ms (others run on true virtual time). */
  readonly skewMs?: Readonly<Record<string, number>>;
  readonly frameBytesMax?: number;
}

export class FrameLimitedCluster {
  readonly scheduler = new Scheduler();
  readonly random: SeededRandom;
  readonly network: SimNetwork<PeerRequest, PeerReply>;
  readonly nodes = new Map<string, DynakvNode>();
  readonly storages = new Map<string, MemoryStorage>();
  private readonly fences = new Map<string, FencedStorage>();
  readonly ids: string[];

  private constructor(readonly options: FrameLimitedClusterOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork(), parsePeerRequest, parsePeerReply);
    this.ids = Array.from({ length: options.nodes ?? 5 }, (_, i) => `n${i + 1}`);
  }

  static async start(options: FrameLimitedClusterOptions): Promise<FrameLimitedCluster> {
    const cluster = new FrameLimitedCluster(options);
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

  /** Starts (or restarts, keeping its storage) one node; `wrap` may interpose on its storage. */
  async startNode(id: string, wrap: (storage: Storage) => Storage = (s) => s): Promise<DynakvNode> {
    let storage = this.storages.get(id);
    if (storage === undefined) {
      storage = new MemoryStorage();
      this.storages.set(id, storage);
    }
    const fenced = new FencedStorage(storage);
    this.fences.set(id, fenced);
    const world = {
      clock: new SimClock(this.scheduler, this.options.skewMs?.[id] ?? 0),
      random: this.random.fork(),
      storage: wrap(fenced),
      transport: frameLimited(this.network.transportFor(id), this.options.frameBytesMax),
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
}
