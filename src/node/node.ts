// A dynakv node assembled from its parts and the injected world (clock, random, storage,
// transport, log). It answers peer requests and exposes the coordinator to the API. The same
// class runs in production (src/node/production.ts) and in the simulator (sim/).
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Random } from '../env/random.ts';
import type { Storage } from '../env/storage.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import { DotCounter } from '../replication/dot-counter.ts';
import { CoordinationError } from '../replication/errors.ts';
import { Coordinator } from '../replication/coordinator.ts';
import { ReplicaStore } from '../replication/replica-store.ts';
import { Ring } from '../ring/ring.ts';
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
}

export class DynakvNode {
  readonly coordinator: Coordinator;
  private currentRing: Ring;

  private constructor(
    readonly config: NodeConfig,
    readonly world: NodeWorld,
    readonly store: ReplicaStore,
    dots: DotCounter,
  ) {
    this.currentRing = Ring.of(config.peers.map((p) => p.id));
    if (!this.currentRing.has(config.id)) throw new Error(`node ${config.id} is not in its own peer list`);
    this.coordinator = new Coordinator({
      self: config.id,
      ring: () => this.currentRing,
      store,
      dots,
      transport: world.transport,
      clock: world.clock,
      log: world.log,
      config,
    });
    world.transport.serve((from, request) => this.handle(from, request));
  }

  /** Opens the node's durable state and starts answering peers. */
  static async open(config: NodeConfig, world: NodeWorld): Promise<DynakvNode> {
    const dots = await DotCounter.open(world.storage);
    return new DynakvNode(config, world, new ReplicaStore(world.storage), dots);
  }

  get id(): NodeId {
    return this.config.id;
  }

  ring(): Ring {
    return this.currentRing;
  }

  stats(): LocalStats {
    return { node: this.config.id, keys: this.store.count() };
  }

  /** Answers one peer request. Operating errors become replies; only bugs reject. */
  async handle(_from: NodeId, request: PeerRequest): Promise<PeerReply> {
    switch (request.kind) {
      case 'replica_put':
        await this.store.merge(request.key, request.siblings);
        return { kind: 'replica_put_ok' };
      case 'replica_get':
        return { kind: 'replica_get_ok', siblings: this.store.read(request.key) };
      case 'forward_put':
        try {
          const context = await this.coordinator.putForwarded(request);
          return { kind: 'forward_put_ok', context };
        } catch (err) {
          if (!(err instanceof CoordinationError)) throw err;
          return { kind: 'forward_put_failed', code: err.code, message: err.message, ...err.replies };
        }
      case 'ping':
        return { kind: 'pong' };
    }
  }
}
