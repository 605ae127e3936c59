// The seed's failure detection, as this node runs it: pings its peers in turn (a bounded number
// per round), feeds answers to the phi-accrual detector (failure-detector.ts), holds a peer down
// when the detector says so, and lets Membership publish that verdict only while this node is in
// contact with the cluster. Requests are routed by these local verdicts (isLocallyDown,
// isSuspect), never by gossiped ones. Sans-IO: the injected clock and transport.
import type { Clock, Timer } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { NodeId, Transport } from '../env/transport.ts';
import type { PeerReply, PeerRequest } from '../protocol/messages.ts';
import { FailureDetector } from './failure-detector.ts';
import type { MemberRecord } from './table.ts';

/**
 * A ping waits for its pong up to this many ping timeouts (2 s at the defaults): a pong delayed
 * by a busy peer is still a heartbeat.
 */
const PING_WAIT_PINGS_TIMEOUTS = 4;
/** A peer that answered within this many of its ping intervals counts as in contact (see inContact). */
const CONTACT_PINGS = 3;
/**
 * Peers pinged per ping interval at most, in turn: every peer each interval up to 33 nodes; in a
 * larger cluster each peer every ceil(peers / PINGS_PER_ROUND_MAX) intervals (4 at 100 nodes:
 * 2 s), so a node's ping traffic stays bounded as the cluster grows and the cluster's grows
 * linearly, not as n^2. The detector learns each peer's interval (it waits longer in a large
 * cluster: about 5 s to hold a dead node down at 100 nodes, 2.5 s at 5, in the simulator).
 */
export const PINGS_PER_ROUND_MAX = 32;

export interface PingMonitorDeps {
  readonly self: NodeId;
  readonly clock: Clock;
  readonly transport: Transport<PeerRequest, PeerReply>;
  readonly log: Log;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly acceptablePauseMs: number;
  /** Every record of the table (this node's included). */
  readonly records: () => Iterable<MemberRecord>;
  readonly record: (id: NodeId) => MemberRecord | undefined;
  readonly otherMembers: () => NodeId[];
  /** Publish a verdict about `record` (a new version of it, gossiped). */
  readonly publish: (record: MemberRecord, status: 'up' | 'down') => void;
  /** A peer held down answered again. */
  readonly peerUp: (id: NodeId) => void;
  readonly stopped: () => boolean;
}

export class PingMonitor {
  private readonly detector: FailureDetector;
  /** Peers this node's detector holds down (this and the maps below: at most MEMBERS_MAX, one per member; removed ones are forgotten). */
  private readonly down = new Set<NodeId>();
  /** Peers whose last ping failed (an error, or no answer in time) since they last answered. */
  private readonly pingFailed = new Set<NodeId>();
  /** Where the next ping round starts in the sorted peers (see PINGS_PER_ROUND_MAX). */
  private pingCursor = 0;
  /** How often each peer is pinged now: pingIntervalMs, or a multiple in a large cluster. */
  private pingEveryMs: number;
  /** A probe of every peer held down is scheduled (after one answered again). */
  private probeTimer: Timer | undefined;
  /** When each peer last answered, on our wall clock (for the CLI and dashboard). */
  private readonly lastHeardMs = new Map<NodeId, number>();
  /** Times this node's own failure detector started (down) or stopped (up) holding a peer down. */
  readonly transitions = { down: 0, up: 0 };

  constructor(private readonly deps: PingMonitorDeps) {
    this.detector = new FailureDetector({ acceptablePauseMs: deps.acceptablePauseMs });
    this.pingEveryMs = deps.pingIntervalMs;
  }

  /** This node's own verdict: it holds `id` down. */
  isLocallyDown(id: NodeId): boolean {
    return this.down.has(id);
  }

  /**
   * `id` may be failing, though not held down: its last ping failed, or it has not answered for
   * longer than a ping interval and a ping timeout (or it is held down).
   */
  isSuspect(id: NodeId): boolean {
    if (id === this.deps.self) return false;
    if (this.down.has(id) || this.pingFailed.has(id)) return true;
    const lastMs = this.detector.lastHeartbeatMs(id);
    return lastMs !== undefined && this.deps.clock.monotonicMs() - lastMs > this.pingEveryMs + this.deps.pingTimeoutMs;
  }

  lastHeard(id: NodeId): number | undefined {
    return this.lastHeardMs.get(id);
  }

  stop(): void {
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
  }

  /**
   * One round: pings up to PINGS_PER_ROUND_MAX peers not removed, in turn, each ping waiting up
   * to PING_WAIT_PINGS_TIMEOUTS ping timeouts (a late pong still shows the peer alive; pings
   * overlap rather than wait for each other), and judges every peer by the detector.
   */
  round(): void {
    const nowMs = this.deps.clock.monotonicMs();
    const peers: MemberRecord[] = [];
    for (const r of this.deps.records()) {
      if (r.id === this.deps.self) continue;
      if (r.status === 'removed') this.forget(r.id);
      else peers.push(r);
    }
    peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.pingEveryMs = this.deps.pingIntervalMs * Math.max(1, Math.ceil(peers.length / PINGS_PER_ROUND_MAX));
    for (const r of peers) {
      this.detector.watch(r.id, nowMs, this.pingEveryMs);
      this.judge(r, nowMs);
    }
    const count = Math.min(PINGS_PER_ROUND_MAX, peers.length);
    for (let i = 0; i < count; i++) void this.ping(peers[(this.pingCursor + i) % peers.length]!.id);
    this.pingCursor = peers.length === 0 ? 0 : (this.pingCursor + count) % peers.length;
  }

  private forget(id: NodeId): void {
    this.detector.forget(id);
    this.down.delete(id);
    this.pingFailed.delete(id);
  }

  private async ping(id: NodeId): Promise<void> {
    const { transport, pingTimeoutMs, clock } = this.deps;
    const sentMs = clock.monotonicMs();
    let ok = false;
    try {
      ok = (await transport.request(id, { kind: 'ping' }, pingTimeoutMs * PING_WAIT_PINGS_TIMEOUTS)).kind === 'pong';
    } catch {
      ok = false;
    }
    if (this.deps.stopped()) return;
    const record = this.deps.record(id);
    if (record === undefined || record.status === 'removed') return;
    const nowMs = clock.monotonicMs();
    if (!ok) {
      // A ping sent before the peer's last answer says nothing new.
      if (sentMs >= (this.detector.lastHeartbeatMs(id) ?? -Infinity)) this.pingFailed.add(id);
      this.judge(record, nowMs);
      return;
    }
    this.pingFailed.delete(id);
    const wasDown = this.down.delete(id);
    this.detector.heartbeat(id, nowMs, wasDown);
    this.lastHeardMs.set(id, clock.nowMs());
    if (wasDown) {
      this.transitions.up++;
      this.deps.log.info({ member: id }, 'failure detector: peer answers again');
      this.deps.peerUp(id);
      // Contact is back, with this peer at least: ask every other peer held down at once rather
      // than keep them down (and route around them) until the next round.
      this.probeDownPeersSoon();
    }
    if (record.status === 'down') this.deps.publish(record, 'up');
  }

  /**
   * Holds `record`'s node down once the detector says so, and publishes that verdict (a new
   * version of its record, gossiped) only while this node is in contact with the cluster (see
   * inContact): a node cut off from the others finds them all silent, and gossiping that once
   * healed would only make the others doubt healthy nodes.
   */
  private judge(record: MemberRecord, nowMs: number): void {
    const id = record.id;
    if (!this.down.has(id)) {
      if (!this.detector.isDown(id, nowMs)) return;
      this.down.add(id);
      this.transitions.down++;
      this.deps.log.info({ member: id, phi: Math.round(this.detector.phi(id, nowMs) * 10) / 10, silentMs: Math.round(nowMs - (this.detector.lastHeartbeatMs(id) ?? nowMs)) }, 'failure detector: peer silent, holding it down');
    }
    if (record.status === 'up' && this.inContact(nowMs)) this.deps.publish(record, 'down');
  }

  /**
   * At least half the other ring members answered a ping within CONTACT_PINGS ping intervals: the
   * silence of a peer is then likely its own, not this node's.
   */
  private inContact(nowMs: number): boolean {
    const others = this.deps.otherMembers();
    const windowMs = CONTACT_PINGS * this.pingEveryMs;
    const answered = others.filter((id) => {
      const lastMs = this.detector.lastHeartbeatMs(id);
      return lastMs !== undefined && !this.down.has(id) && nowMs - lastMs <= windowMs;
    }).length;
    return answered * 2 >= others.length;
  }

  private probeDownPeersSoon(): void {
    if (this.probeTimer !== undefined || this.deps.stopped()) return;
    this.probeTimer = this.deps.clock.setTimer(0, () => {
      this.probeTimer = undefined;
      if (this.deps.stopped()) return;
      for (const id of this.down) void this.ping(id);
    });
  }
}
