// A hand-cranked world for membership tests: one manual clock whose timers fire only when a test
// runs it, and an in-memory network that carries pings and gossip between Membership instances
// through the real frame codec and peer validators, with drop rules per (from, to, kind). Each
// node keeps its MemoryStorage across restarts. Deterministic: no real time, seeded randomness.
import assert from 'node:assert/strict';
import { SeededRandom } from '../../sim/seeded-random.ts';
import type { Clock, Timer } from '../../src/env/clock.ts';
import { silentLog, type Log } from '../../src/env/log.ts';
import { TransportError, type NodeId, type Transport } from '../../src/env/transport.ts';
import { Membership, type MembershipConfig } from '../../src/membership/membership.ts';
import { parsePeerReply, parsePeerRequest, type PeerReply, type PeerRequest } from '../../src/protocol/messages.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { FrameDecoder, encodeFrame } from '../../src/transport/frame-codec.ts';

/** Encodes like the TCP transport does and decodes like the receiving side. */
export function overTheWire(message: unknown): unknown {
  const [payload, ...rest] = new FrameDecoder().push(encodeFrame(message));
  assert.equal(rest.length, 0);
  return payload;
}

interface PendingTimer {
  readonly atMs: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Timers fire in (time, creation) order, only inside step(). */
export class ManualClock implements Clock {
  private now: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startMs: number) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  monotonicMs(): number {
    return this.now;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const timer: PendingTimer = { atMs: this.now + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Fires the earliest timer and lets the promise chains it started settle; false if none is left. */
  async step(): Promise<boolean> {
    this.timers = this.timers.filter((t) => !t.cancelled);
    if (this.timers.length === 0) return false;
    const next = this.timers.reduce((a, b) => (b.atMs < a.atMs || (b.atMs === a.atMs && b.seq < a.seq) ? b : a));
    this.timers = this.timers.filter((t) => t !== next);
    this.now = next.atMs;
    next.fn();
    await new Promise<void>((resolve) => setImmediate(resolve));
    return true;
  }
}

export type DropRule = (from: NodeId, to: NodeId, kind: PeerRequest['kind']) => boolean;

/** A hand-off window of one minute, so tests can pass it in a few thousand timer steps. */
export const TEST_CONFIG: MembershipConfig = { gossipIntervalMs: 1_000, pingIntervalMs: 500, pingTimeoutMs: 500, acceptablePauseMs: 1_000, logEntriesMax: 100, n: 3, removedHandoffWindowMs: 60_000 };
/** One-way delivery delay of the in-memory network. */
const LATENCY_MS = 1;

export function peerOf(ids: readonly NodeId[], id: NodeId): string {
  return `127.0.0.1:${7101 + ids.indexOf(id)}`;
}

export function httpOf(ids: readonly NodeId[], id: NodeId): string {
  return `127.0.0.1:${7001 + ids.indexOf(id)}`;
}

export class World {
  readonly clock = new ManualClock(1_000_000);
  readonly storages = new Map<NodeId, MemoryStorage>();
  private readonly nodes = new Map<NodeId, Membership>();
  private dropRules: DropRule[] = [];
  /** Extra delay of each reply (a busy peer answering late); none by default. */
  private replyDelay: (from: NodeId, to: NodeId, kind: PeerRequest['kind']) => number = () => 0;
  private readonly missed = new Map<string, number>();
  private readonly answered = new Map<string, number>();

  constructor(
    readonly ids: readonly NodeId[],
    private readonly config: MembershipConfig = TEST_CONFIG,
    private readonly log: Log = silentLog,
  ) {
    for (const id of ids) this.storages.set(id, new MemoryStorage());
  }

  /** Starts (or restarts, on its kept storage) every node, bootstrapped with all ids. */
  startAll(): void {
    for (const id of this.ids) this.start(id);
  }

  start(id: NodeId): Membership {
    assert.ok(!this.nodes.has(id), `${id} is already running`);
    const m = new Membership({
      self: id,
      selfPeer: peerOf(this.ids, id),
      selfHttp: httpOf(this.ids, id),
      clock: this.clock,
      random: new SeededRandom(this.ids.indexOf(id) + 1),
      storage: this.storages.get(id)!,
      transport: this.transportOf(id),
      log: this.log,
      config: this.config,
    });
    m.bootstrap(this.ids.map((p) => ({ id: p, peer: peerOf(this.ids, p) })));
    m.start();
    this.nodes.set(id, m);
    return m;
  }

  stop(id: NodeId): void {
    this.node(id).stop();
    this.nodes.delete(id);
  }

  node(id: NodeId): Membership {
    const m = this.nodes.get(id);
    assert.ok(m !== undefined, `${id} is not running`);
    return m;
  }

  /** Drops matching requests (and the replies to them); returns the function that heals it. */
  drop(rule: DropRule): () => void {
    this.dropRules.push(rule);
    return () => {
      this.dropRules = this.dropRules.filter((r) => r !== rule);
    };
  }

  /** Delays each reply from `to` to `from` by `delayMs(...)` more; returns the function that undoes it. */
  delayReplies(delayMs: (from: NodeId, to: NodeId, kind: PeerRequest['kind']) => number): () => void {
    this.replyDelay = delayMs;
    return () => {
      this.replyDelay = () => 0;
    };
  }

  /** Pings from `from` to `to` that got no answer within the timeout. */
  missedPings(from: NodeId, to: NodeId): number {
    return this.missed.get(`${from}>${to}`) ?? 0;
  }

  answeredPings(from: NodeId, to: NodeId): number {
    return this.answered.get(`${from}>${to}`) ?? 0;
  }

  /** Runs timers until `done()` holds; fails after `msMax` of virtual time. */
  async runUntil(done: () => boolean, msMax: number): Promise<void> {
    const deadline = this.clock.nowMs() + msMax;
    while (!done()) {
      assert.ok(this.clock.nowMs() <= deadline, `condition not reached within ${msMax} ms`);
      assert.ok(await this.clock.step(), 'no timer left');
    }
  }

  async run(ms: number): Promise<void> {
    const until = this.clock.nowMs() + ms;
    await this.runUntil(() => this.clock.nowMs() >= until, ms + 1);
  }

  private dropped(from: NodeId, to: NodeId, kind: PeerRequest['kind']): boolean {
    return this.dropRules.some((rule) => rule(from, to, kind));
  }

  private count(map: Map<string, number>, from: NodeId, to: NodeId): void {
    map.set(`${from}>${to}`, (map.get(`${from}>${to}`) ?? 0) + 1);
  }

  private transportOf(from: NodeId): Transport<PeerRequest, PeerReply> {
    return {
      request: (to, request, timeoutMs) =>
        new Promise<PeerReply>((resolve, reject) => {
          let settled = false;
          const timeout = this.clock.setTimer(timeoutMs, () => {
            if (settled) return;
            settled = true;
            if (request.kind === 'ping') this.count(this.missed, from, to);
            reject(new TransportError('TIMEOUT', `no reply from ${to}`));
          });
          const wire = overTheWire(request);
          this.clock.setTimer(LATENCY_MS, () => {
            const target = this.nodes.get(to);
            if (target === undefined || this.dropped(from, to, request.kind)) return;
            const parsed = parsePeerRequest(wire);
            if (parsed === undefined) {
              // As the TCP transport does: a malformed frame closes the connection.
              settled = true;
              timeout.cancel();
              reject(new TransportError('CLOSED', 'malformed request'));
              return;
            }
            const reply = answer(target, from, parsed);
            const replyWire = overTheWire(reply);
            this.clock.setTimer(LATENCY_MS + this.replyDelay(from, to, request.kind), () => {
              if (settled || this.dropped(to, from, request.kind)) return;
              settled = true;
              timeout.cancel();
              const parsedReply = parsePeerReply(replyWire);
              if (parsedReply === undefined) {
                reject(new TransportError('CLOSED', 'malformed reply'));
                return;
              }
              if (request.kind === 'ping') this.count(this.answered, from, to);
              resolve(parsedReply);
            });
          });
        }),
      serve() {},
      close: () => Promise.resolve(),
    };
  }
}

/** What a node's handle() does for the membership messages, asked by `from`. */
export function answer(m: Membership, from: NodeId, request: PeerRequest): PeerReply {
  switch (request.kind) {
    case 'ping':
      return { kind: 'pong' };
    case 'gossip':
      return { kind: 'gossip_ok', records: m.receiveGossip(from, request.records) };
    default:
      throw new Error(`assertion: membership sends no ${request.kind}`);
  }
}
