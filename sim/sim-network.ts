// The simulated network: one Transport per node over the shared scheduler. Every message is
// framed, encoded and validated as on the wire (frame-codec's msgpack, the frame limit enforced
// as TcpTransport does: an oversized request rejects OVERLOADED at the sender, an oversized reply
// answers REPLY_TOO_LARGE), delayed by a seeded amount, and may be dropped by the fault rules. A
// node that is down refuses connections (UNREACHABLE at once); a dropped message just never
// arrives, so the caller times out, as behind a real partition. As over TCP, more than
// inFlightMax requests to one peer reject OVERLOADED at the sender, a closing transport rejects
// its own requests in flight with CLOSED, and their callers learn of a closing peer (CLOSED, one
// network delay later, unless a fault rule cuts them off). With authentication on (the
// production peer port's mutual TLS), only senders holding a certificate get through; any other
// is refused like a failed handshake. During message-loss bursts of the harsh profile an answered
// reply may be dropped for REPLY_DROPPED, as TcpTransport does on a full link. `sendRaw` lets a
// hostile or buggy endpoint send anything.
// test/transport/transport-contract.ts holds it to the same contract as TcpTransport.
import { RefusedUnread, requestTimeoutMsMax, TransportError, type NodeId, type RequestHandler, type Transport } from '../src/env/transport.ts';
import { decodePayload, encodeFrame, FrameError, frameBytesMaxDefault, frameHeaderBytes } from '../src/transport/frame-codec.ts';
import { errorCodeLengthMax, errorMessageLengthMax } from '../src/transport/envelope.ts';
import { RemoteError, REPLY_DROPPED_CODE } from '../src/transport/remote-error.ts';
import { inFlightMaxDefault } from '../src/transport/tcp-transport.ts';
import type { Scheduler } from './scheduler.ts';
import type { SeededRandom } from './seeded-random.ts';

export interface NetworkOptions {
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Largest frame payload, both ways (TcpTransport's default: 32 MiB). */
  readonly frameBytesMax?: number;
  /**
   * Requests from one node to one peer awaiting their reply, past which request() rejects
   * OVERLOADED at the sender without sending (TcpTransport's inFlightMax; default
   * inFlightMaxDefault, 1024). A request counts from its call until it settles, its TIMEOUT
   * included, as over TCP. sendRaw's requests are not counted (no checks on that side).
   */
  readonly inFlightMax?: number;
  /**
   * Which requests a duplication burst may deliver twice: those a retrying layer could resend
   * without changing their meaning. Default: all.
   */
  readonly duplicable?: (request: unknown) => boolean;
}

/** Decides whether a message from `from` to `to` is lost. */
export type DropRule = (from: NodeId, to: NodeId) => boolean;

/** What the receiving transport did with one frame (for the trace and for tests). */
type Outcome = 'delivered' | 'dropped' | 'refused' | 'unauthenticated' | 'malformed' | 'too-large' | 'overloaded';

/** One request awaiting its reply. */
interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  /** A transport's own request (counted against inFlightMax), not sendRaw's. */
  readonly counted: boolean;
  /** The peer sent its answer: its closing no longer cuts the request off (the bytes are on their way). */
  answered: boolean;
  /** Settles the request with `error` (a no-op once it settled). */
  readonly fail: (error: TransportError) => void;
}

export class SimNetwork<Req, Rep> {
  private readonly handlers = new Map<NodeId, RequestHandler<Req, Rep>>();
  private readonly down = new Set<NodeId>();
  private dropRules: DropRule[] = [];
  /** Requests awaiting their reply, in the order they were sent (so a close fails them in a seeded order). */
  private readonly inFlight = new Set<InFlight>();
  /** How many of them each node has to each peer (counted ones only): from -> to -> count. */
  private readonly inFlightCounts = new Map<NodeId, Map<NodeId, number>>();
  /** The latest transport handed out per id: an older one closing must not take the newer one down. */
  private readonly incarnations = new Map<NodeId, object>();
  private nextRequestId = 1;
  readonly trace: string[] = [];
  /** Probability that any one message is lost (message-loss bursts set it for a while). */
  lossRate = 0;
  /** Probability that a request is delivered twice (its second reply is discarded); see NetworkOptions.duplicable. */
  duplicateRate = 0;
  /**
   * Probability that an answered request's reply is dropped by the replica and the requester gets
   * REPLY_DROPPED instead (TcpTransport's answer when a link is full of replies not yet taken):
   * the handler ran, so what it applied stands. Drawn only while above 0.
   */
  replyDropRate = 0;
  /** Replies dropped that way. */
  repliesDropped = 0;
  /**
   * Ids holding a certificate of the cluster CA (mutual TLS on the peer port). Undefined: no
   * authentication, any sender gets through (the insecure mode, and main before issue 13).
   */
  certified: Set<NodeId> | undefined;
  delivered = 0;
  dropped = 0;
  /** Frames sent (requests and their replies) and their bytes, by request kind: what the protocol costs. */
  readonly traffic = new Map<string, { messages: number; bytes: number }>();
  /** Connections refused because the sender had no certificate. */
  refusedUnauthenticated = 0;
  /** Frames the receiving side found malformed (it closes that connection). */
  malformed = 0;
  /** Requests and replies refused for exceeding the frame limit. */
  oversized = 0;
  /** Requests refused at the sender because inFlightMax were already in flight to that peer. */
  overloaded = 0;
  readonly frameBytesMax: number;
  readonly inFlightMax: number;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: SeededRandom,
    private readonly parseRequest: (x: unknown) => Req | undefined,
    private readonly parseReply: (x: unknown) => Rep | undefined,
    private readonly options: NetworkOptions = { delayMinMs: 1, delayMaxMs: 5 },
  ) {
    this.frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault;
    this.inFlightMax = options.inFlightMax ?? inFlightMaxDefault;
    if (!Number.isSafeInteger(this.inFlightMax) || this.inFlightMax < 1) throw new RangeError(`inFlightMax must be a positive integer, got ${this.inFlightMax}`);
  }

  /** A new transport for `self` (a process starting, or restarting: the previous one is gone). */
  transportFor(self: NodeId): Transport<Req, Rep> {
    this.down.delete(self);
    const incarnation = {};
    this.incarnations.set(self, incarnation);
    let closed = false;
    let served = false;
    const network = this;
    return {
      request(to: NodeId, request: Req, timeoutMs: number): Promise<Rep> {
        // Programmer errors throw, as TcpTransport.request does.
        if (to === self) throw new Error(`SimNetwork: request from ${self} to itself: callers act locally`);
        if (!(timeoutMs > 0 && timeoutMs <= requestTimeoutMsMax)) throw new RangeError(`timeoutMs must be in (0, ${requestTimeoutMsMax}], got ${timeoutMs}`);
        if (closed) return Promise.reject(new TransportError('CLOSED', 'transport closed'));
        return network.send(self, to, request, timeoutMs, true, network.certified?.has(self) ?? true);
      },
      serve(handler: RequestHandler<Req, Rep>): void {
        if (served) throw new Error(`SimNetwork: serve called twice for ${self}`);
        served = true;
        if (closed || network.incarnations.get(self) !== incarnation) return;
        network.handlers.set(self, handler);
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        if (network.incarnations.get(self) !== incarnation) return;
        network.handlers.delete(self);
        network.down.add(self);
        network.closed(self);
      },
    };
  }

  /**
   * `self`'s transport closed (a process stopping or crashing): its own requests in flight reject
   * CLOSED at once; each caller still waiting on it learns one network delay later, as from the
   * FIN its kernel sends, unless a fault rule cuts them off (then that caller times out).
   */
  private closed(self: NodeId): void {
    for (const entry of [...this.inFlight]) {
      if (entry.from === self) {
        entry.fail(new TransportError('CLOSED', 'transport closed'));
      } else if (entry.to === self && !entry.answered) {
        if (this.shouldDrop(self, entry.from)) continue;
        this.scheduler.schedule(this.delay(), () => entry.fail(new TransportError('CLOSED', `${self} closed the connection`)));
      }
    }
  }

  private countInFlight(from: NodeId, to: NodeId, delta: 1 | -1): void {
    let perPeer = this.inFlightCounts.get(from);
    if (perPeer === undefined) this.inFlightCounts.set(from, (perPeer = new Map()));
    const count = (perPeer.get(to) ?? 0) + delta;
    if (count < 0) throw new Error(`assertion: negative in-flight count from ${from} to ${to}`);
    if (count === 0) perPeer.delete(to);
    else perPeer.set(to, count);
  }

  /** Requests `from` has in flight to `to` (counted against inFlightMax). */
  inFlightTo(from: NodeId, to: NodeId): number {
    return this.inFlightCounts.get(from)?.get(to) ?? 0;
  }

  /**
   * Sends any payload from `from` (a hostile or buggy endpoint: it need not be a node of the
   * simulation) to `to`, with no checks on the sending side. `certificate` says whether the
   * endpoint holds a certificate for the id it claims (a buggy member does; an intruder claiming
   * a member's id does not). Resolves with the reply body as decoded on the wire (unvalidated),
   * rejects with TransportError.
   */
  sendRaw(from: NodeId, to: NodeId, payload: unknown, timeoutMs: number, options: { readonly certificate: boolean }): Promise<unknown> {
    return this.send(from, to, payload as Req, timeoutMs, false, options.certificate) as Promise<unknown>;
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

  private send(from: NodeId, to: NodeId, request: Req, timeoutMs: number, validateReply: boolean, certificate: boolean): Promise<Rep> {
    return new Promise<Rep>((resolve, reject) => {
      let settled = false;
      let entry: InFlight | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (entry !== undefined) {
          this.inFlight.delete(entry);
          if (entry.counted) this.countInFlight(from, to, -1);
        }
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
      const counted = validateReply;
      if (counted && this.inFlightTo(from, to) >= this.inFlightMax) {
        // TcpTransport.request refuses it before anything is written.
        this.overloaded++;
        this.record(from, to, request, 'overloaded');
        finish(() => reject(new TransportError('OVERLOADED', `${this.inFlightMax} requests already in flight to ${to}`)));
        return;
      }
      if (this.certified !== undefined && !certificate) {
        // The TLS handshake fails before any frame is read: the handler never sees a byte.
        this.refusedUnauthenticated++;
        this.record(from, to, request, 'unauthenticated');
        finish(() => reject(new TransportError('UNREACHABLE', `${to} refused the handshake: no certificate for ${from}`)));
        return;
      }
      const id = this.nextRequestId++;
      let frame: Buffer;
      try {
        frame = encodeFrame({ t: 'req', id, body: request }, this.frameBytesMax);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        // TcpTransport.request refuses it before it costs a connection.
        this.oversized++;
        this.record(from, to, request, 'too-large');
        finish(() => reject(new TransportError('OVERLOADED', `request to ${to} too large: ${err.message}`)));
        return;
      }
      this.tally(request, frame.length);
      const sent: InFlight = { from, to, counted, answered: false, fail: (error) => finish(() => reject(error)) };
      entry = sent;
      this.inFlight.add(sent);
      if (counted) this.countInFlight(from, to, 1);
      if (this.shouldDrop(from, to)) {
        this.dropped++;
        this.record(from, to, request, 'dropped');
        return;
      }
      // A connection reaches one process: if `to` crashes and restarts meanwhile, the new one never sees this request.
      const target = this.handlers.get(to);
      const deliver = (duplicate: boolean) => {
        const handler = this.handlers.get(to);
        if (handler === undefined || handler !== target) return; // crashed meanwhile
        const decoded = this.decodeRequest(frame);
        if (decoded === undefined) {
          // TcpTransport closes a connection that carried a malformed frame: its requests fail.
          if (duplicate) return;
          this.malformed++;
          this.record(from, to, request, 'malformed');
          this.reply(to, from, handler, sent, () => finish(() => reject(new TransportError('CLOSED', `${to} closed the connection: malformed request`))));
          return;
        }
        if (duplicate) {
          handler(from, decoded).catch(() => {});
          return;
        }
        this.delivered++;
        this.record(from, to, request, 'delivered');
        let reply: Promise<Rep>;
        try {
          reply = handler(from, decoded);
        } catch (err) {
          reply = Promise.reject(err);
        }
        reply.then(
          (rep) => {
            let wire: Buffer;
            try {
              wire = encodeFrame({ t: 'rep', id, body: rep }, this.frameBytesMax);
            } catch (err) {
              if (!(err instanceof FrameError)) throw err;
              this.oversized++;
              const message = err.message.slice(0, errorMessageLengthMax);
              this.reply(to, from, handler, sent, () => finish(() => reject(new RemoteError('REPLY_TOO_LARGE', message))));
              return;
            }
            if (this.replyDropRate > 0 && this.random.nextFloat() < this.replyDropRate) {
              this.repliesDropped++;
              this.reply(to, from, handler, sent, () => finish(() => reject(new RemoteError(REPLY_DROPPED_CODE, `reply of ${wire.length} bytes dropped (simulated full link)`))));
              return;
            }
            this.tally(request, wire.length);
            this.reply(to, from, handler, sent, () => {
              const body = (decodePayload(wire.subarray(frameHeaderBytes)) as { body: unknown }).body;
              const parsed = validateReply ? this.parseReply(body) : (body as Rep);
              // TcpTransport drops a connection whose reply fails validation; the caller sees CLOSED.
              if (parsed === undefined) finish(() => reject(new TransportError('CLOSED', `${to} sent a malformed reply`)));
              else finish(() => resolve(parsed));
            });
          },
          (err: unknown) => {
            const { code, message } = remoteErrorOf(err);
            // As TcpTransport: only a RefusedUnread is flagged as refused before it was read.
            const unread = err instanceof RefusedUnread;
            this.reply(to, from, handler, sent, () => finish(() => reject(new RemoteError(code, message, unread))));
          },
        );
      };
      if (this.duplicateRate > 0 && this.random.nextFloat() < this.duplicateRate && (this.options.duplicable?.(request) ?? true)) {
        this.scheduler.schedule(this.delay(), () => deliver(true));
      }
      this.scheduler.schedule(this.delay(), () => deliver(false));
    });
  }

  private decodeRequest(frame: Buffer): Req | undefined {
    let envelope: unknown;
    try {
      envelope = decodePayload(frame.subarray(frameHeaderBytes));
    } catch {
      return undefined;
    }
    return this.parseRequest((envelope as { body: unknown }).body);
  }

  /**
   * Sends a reply back (subject to the fault rules); `deliver` runs on arrival unless the caller
   * is gone. A process that crashed after receiving the request (its handler is no longer the
   * one installed) sends nothing.
   */
  private reply(from: NodeId, to: NodeId, handler: RequestHandler<Req, Rep>, entry: InFlight, deliver: () => void): void {
    if (this.handlers.get(from) !== handler) return;
    if (this.shouldDrop(from, to)) {
      this.dropped++;
      return;
    }
    entry.answered = true;
    this.scheduler.schedule(this.delay(), () => {
      if (this.down.has(to)) return;
      deliver();
    });
  }

  private tally(request: Req, bytes: number): void {
    const field = typeof request === 'object' && request !== null ? (request as { kind?: unknown }).kind : undefined;
    const kind = typeof field === 'string' ? field.slice(0, 32) : '?';
    let t = this.traffic.get(kind);
    if (t === undefined) this.traffic.set(kind, (t = { messages: 0, bytes: 0 }));
    t.messages++;
    t.bytes += bytes;
  }

  private record(from: NodeId, to: NodeId, request: Req, what: Outcome): void {
    const fields = typeof request === 'object' && request !== null ? (request as { kind?: unknown; key?: unknown }) : {};
    const kind = typeof fields.kind === 'string' ? fields.kind.slice(0, 32) : '?';
    const key = typeof fields.key === 'string' ? fields.key.slice(0, 64) : '';
    this.trace.push(`${this.scheduler.nowMs.toFixed(3)} ${from}->${to} ${kind} ${key} ${what}`);
  }
}

/** The code and message an 'err' envelope would carry for a handler rejection (as TcpTransport). */
function remoteErrorOf(err: unknown): { code: string; message: string } {
  let code = 'HANDLER_FAILED';
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'string' && c.length > 0 && c.length <= errorCodeLengthMax) code = c;
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code, message: message.slice(0, errorMessageLengthMax) };
}
