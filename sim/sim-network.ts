// The simulated network: one Transport per node over the shared scheduler. Every message is
// encoded and validated as on the wire (msgpack), delayed by a seeded amount, and may be
// dropped by the fault rules. A node that is down refuses connections (UNREACHABLE at once);
// a dropped message just never arrives, so the caller times out, as behind a real partition.
import { Packr } from 'msgpackr';
import { TransportError, type NodeId, type RequestHandler, type Transport } from '../src/env/transport.ts';
import type { Scheduler } from './scheduler.ts';
import type { SeededRandom } from './seeded-random.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface NetworkOptions {
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
}

/** Decides whether a message from `from` to `to` is lost. */
export type DropRule = (from: NodeId, to: NodeId) => boolean;

export class SimNetwork<Req, Rep> {
  private readonly handlers = new Map<NodeId, RequestHandler<Req, Rep>>();
  private readonly down = new Set<NodeId>();
  private dropRules: DropRule[] = [];
  readonly trace: string[] = [];
  /** Probability that any one message is lost (message-loss bursts set it for a while). */
  lossRate = 0;
  /** Probability that a request is delivered twice (its second reply is discarded). */
  duplicateRate = 0;
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: SeededRandom,
    private readonly parseRequest: (x: unknown) => Req | undefined,
    private readonly parseReply: (x: unknown) => Rep | undefined,
    private readonly options: NetworkOptions = { delayMinMs: 1, delayMaxMs: 5 },
  ) {}

  transportFor(self: NodeId): Transport<Req, Rep> {
    this.down.delete(self);
    let closed = false;
    const network = this;
    return {
      request(to: NodeId, request: Req, timeoutMs: number): Promise<Rep> {
        if (closed) return Promise.reject(new TransportError('CLOSED', 'transport closed'));
        return network.send(self, to, request, timeoutMs);
      },
      serve(handler: RequestHandler<Req, Rep>): void {
        network.handlers.set(self, handler);
      },
      async close(): Promise<void> {
        closed = true;
        network.handlers.delete(self);
        network.down.add(self);
      },
    };
  }

  /** Adds a fault rule; returns a function that removes it (heals). */
  addDropRule(rule: DropRule): () => void {
    this.dropRules.push(rule);
    return () => {
      this.dropRules = this.dropRules.filter((r) => r !== rule);
    };
  }

  /** Drops everything to and from `node` (a node cut off entirely). */
  isolate(node: NodeId): () => void {
    return this.addDropRule((from, to) => from === node || to === node);
  }

  private shouldDrop(from: NodeId, to: NodeId): boolean {
    if (this.dropRules.some((rule) => rule(from, to))) return true;
    return this.lossRate > 0 && this.random.nextFloat() < this.lossRate;
  }

  private delay(): number {
    const { delayMinMs, delayMaxMs } = this.options;
    return delayMinMs + this.random.nextFloat() * (delayMaxMs - delayMinMs);
  }

  private send(from: NodeId, to: NodeId, request: Req, timeoutMs: number): Promise<Rep> {
    return new Promise<Rep>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        fn();
      };
      const timer = this.scheduler.schedule(timeoutMs, () =>
        finish(() => reject(new TransportError('TIMEOUT', `no reply from ${to} within ${timeoutMs} ms`))),
      );
      if (!this.handlers.has(to)) {
        this.record(from, to, request, 'refused');
        finish(() => reject(new TransportError('UNREACHABLE', `${to} refused the connection`)));
        return;
      }
      const wire = packr.pack(request);
      if (this.shouldDrop(from, to)) {
        this.dropped++;
        this.record(from, to, request, 'dropped');
        return;
      }
      if (this.duplicateRate > 0 && this.random.nextFloat() < this.duplicateRate) {
        this.scheduler.schedule(this.delay(), () => {
          const decoded = this.parseRequest(packr.unpack(wire));
          const handler = this.handlers.get(to);
          if (handler !== undefined && decoded !== undefined) handler(from, decoded).catch(() => {});
        });
      }
      this.scheduler.schedule(this.delay(), () => {
        const handler = this.handlers.get(to);
        const decoded = this.parseRequest(packr.unpack(wire));
        if (handler === undefined || decoded === undefined) return; // crashed meanwhile, or malformed
        this.delivered++;
        this.record(from, to, request, 'delivered');
        handler(from, decoded).then(
          (reply) => this.reply(to, from, reply, (rep) => finish(() => resolve(rep))),
          (err: unknown) =>
            this.reply(to, from, null, () =>
              finish(() => reject(new TransportError('REMOTE_ERROR', `${to} failed: ${(err as Error).message}`))),
            ),
        );
      });
    });
  }

  private reply(from: NodeId, to: NodeId, reply: Rep | null, deliver: (rep: Rep) => void): void {
    if (this.shouldDrop(from, to)) {
      this.dropped++;
      return;
    }
    const wire = reply === null ? null : packr.pack(reply);
    this.scheduler.schedule(this.delay(), () => {
      if (this.down.has(to)) return;
      if (wire === null) return deliver(null as Rep);
      const decoded = this.parseReply(packr.unpack(wire));
      if (decoded !== undefined) deliver(decoded);
    });
  }

  private record(from: NodeId, to: NodeId, request: Req, what: string): void {
    const kind = (request as { kind?: string }).kind ?? '?';
    const key = (request as { key?: string }).key ?? '';
    this.trace.push(`${this.scheduler.nowMs.toFixed(3)} ${from}->${to} ${kind} ${key} ${what}`);
  }
}
