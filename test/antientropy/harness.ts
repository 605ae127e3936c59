// Test support for anti-entropy: one AntiEntropy and ReplicaStore per node of a 5-node ring,
// wired to each other by a direct in-memory transport (a request is the peer's handler, called
// at once; a node marked down rejects UNREACHABLE), each node with a clock whose wall time and
// monotonic time the test moves separately. Calls are driven by the test (no background loop).
import { silentLog, type Log } from '../../src/env/log.ts';
import type { Clock, Timer } from '../../src/env/clock.ts';
import { TransportError, type Transport } from '../../src/env/transport.ts';
import { AntiEntropy } from '../../src/antientropy/anti-entropy.ts';
import type { PeerReply, PeerRequest } from '../../src/protocol/messages.ts';
import { ReplicaStore } from '../../src/replication/replica-store.ts';
import { Ring } from '../../src/ring/ring.ts';
import type { Storage } from '../../src/env/storage.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { Sibling } from '../../src/version/siblings.ts';

/** Wall and monotonic time set by the test; timers run on the real event loop after `delayMs`=0. */
export class SteppedClock implements Clock {
  constructor(
    public wallMs: number,
    public monoMs: number,
  ) {}
  nowMs(): number {
    return this.wallMs;
  }
  monotonicMs(): number {
    return this.monoMs;
  }
  /** Both clocks move forward by `ms` (real time passing). */
  advance(ms: number): void {
    this.wallMs += ms;
    this.monoMs += ms;
  }
  setTimer(_delayMs: number, fn: () => void): Timer {
    const handle = setImmediate(fn);
    return { cancel: () => clearImmediate(handle) };
  }
}

export interface AeNode {
  readonly id: string;
  readonly store: ReplicaStore;
  readonly ae: AntiEntropy;
  readonly clock: SteppedClock;
}

export const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'] as const;

export function aeCluster(options: { readonly graceMs: number; readonly storages?: ReadonlyMap<string, Storage>; readonly log?: Log }) {
  const ring = Ring.of([...IDS]);
  const down = new Set<string>();
  /** Nodes whose handler refuses every pushed batch (a failing disk, say): REMOTE_ERROR. */
  const refusingPushes = new Set<string>();
  const nodes = new Map<string, AeNode>();
  for (const id of IDS) {
    const clock = new SteppedClock(1_000_000_000, 50_000);
    const store = new ReplicaStore(options.storages?.get(id) ?? new MemoryStorage(), 'data', options.log ?? silentLog);
    const transport: Transport<PeerRequest, PeerReply> = {
      async request(to, request) {
        if (down.has(to) || down.has(id)) throw new TransportError('UNREACHABLE', `${to} is down`);
        const peer = nodes.get(to)!;
        switch (request.kind) {
          case 'ae_level':
          case 'ae_bucket':
          case 'replica_get_batch':
            return peer.ae.handle(request);
          case 'replica_put_batch':
            if (refusingPushes.has(to)) throw new TransportError('REMOTE_ERROR', `${to}: commit failed: disk full`);
            await Promise.all(request.entries.filter((e) => !peer.ae.isPurgedTombstone(e.key, e.record.siblings)).map((e) => peer.store.merge(e.key, e.record)));
            return { kind: 'replica_put_ok' };
          default:
            throw new Error(`unexpected ${request.kind}`);
        }
      },
      serve() {},
      close: async () => {},
    };
    const ae = new AntiEntropy({
      self: id,
      n: 3,
      store,
      transport,
      clock,
      random: { nextFloat: () => 0, nextInt: () => 0 },
      log: options.log ?? silentLog,
      intervalMs: 10_000,
      requestTimeoutMs: 2_000,
      onState: () => {},
      tombstoneGraceMs: options.graceMs,
      removedHandoffOpen: () => false,
    });
    nodes.set(id, { id, store, ae, clock });
  }
  for (const node of nodes.values()) node.ae.rebuild(ring);
  return { ring, down, refusingPushes, nodes, node: (id: string) => nodes.get(id)! };
}

let counter = 0;
export function live(value: string): Sibling[] {
  return [{ dot: { node: 'w#aaaaaaaaaa', counter: ++counter, timeMs: 1 }, context: [], value: Buffer.from(value), contentType: 'text/plain' }];
}

/** A tombstone superseding `previous`. */
export function tombstoneOf(previous: readonly Sibling[]): Sibling[] {
  const context = previous.map((s) => ({ node: s.dot.node, counter: s.dot.counter, timeMs: s.dot.timeMs }));
  return [{ dot: { node: 'w#aaaaaaaaaa', counter: ++counter, timeMs: 1 }, context, value: null, contentType: '' }];
}

/** A key whose home range is `range` (its first replica), from a deterministic list. */
export function keysOfRange(ring: Ring, range: string, count: number, prefix = 'k'): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (ring.homeOf(`${prefix}${i}`) === range) out.push(`${prefix}${i}`);
  return out;
}
