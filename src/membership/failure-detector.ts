// This node's own verdict on each peer, from when its pings were answered: a phi-accrual failure
// detector (Hayashibara et al. 2004, in the form Akka and Cassandra use). Each answered ping is a
// heartbeat; per peer the detector keeps a bounded window of the intervals between heartbeats,
// and phi says how unlikely the silence since the last one is under a normal distribution of
// that window (its mean plus an acceptable pause, its deviation at least a floor). A peer is down
// once phi reaches PHI_DOWN. Under load the intervals spread and the detector waits longer, so a
// busy node is not taken for a dead one (the fixed "3 missed pings of 500 ms" flapped under a
// CPU-saturating benchmark, issue 14); a quiet cluster still finds a dead peer in about 2 s.
// Sans-IO: times come from the caller (a monotonic clock).
import { assert } from '../env/assert.ts';
import type { NodeId } from '../env/transport.ts';

/** phi at which a peer is held down: the silence has about a 1 in 10^8 chance under its history. */
export const PHI_DOWN = 8;
/** Intervals remembered per peer (at one ping per 500 ms, the last 100 s). */
export const INTERVALS_MAX = 200;
/** The deviation is at least this: a perfectly regular history must not make a 50 ms hiccup fatal. */
export const MIN_STD_DEV_MS = 100;

export interface FailureDetectorConfig {
  /** Silence tolerated beyond the mean interval before phi starts to climb (a GC pause, a busy CPU). */
  readonly acceptablePauseMs: number;
}

/** One peer's heartbeat history: a ring of intervals with running sums. */
class History {
  private readonly intervals: number[] = [];
  private next = 0;
  private sum = 0;
  private squares = 0;
  lastMs: number;

  constructor(firstMs: number, expectedIntervalMs: number) {
    this.lastMs = firstMs;
    // A first guess (as Akka does), so a peer that never answers is still judged: the ping
    // interval with a quarter of it as deviation.
    this.add(expectedIntervalMs - expectedIntervalMs / 4);
    this.add(expectedIntervalMs + expectedIntervalMs / 4);
  }

  add(intervalMs: number): void {
    assert(intervalMs >= 0 && Number.isFinite(intervalMs), () => `heartbeat interval ${intervalMs}`);
    if (this.intervals.length < INTERVALS_MAX) {
      this.intervals.push(intervalMs);
    } else {
      const old = this.intervals[this.next]!;
      this.sum -= old;
      this.squares -= old * old;
      this.intervals[this.next] = intervalMs;
      this.next = (this.next + 1) % INTERVALS_MAX;
    }
    this.sum += intervalMs;
    this.squares += intervalMs * intervalMs;
  }

  get mean(): number {
    return this.sum / this.intervals.length;
  }

  get stdDev(): number {
    const mean = this.mean;
    return Math.sqrt(Math.max(0, this.squares / this.intervals.length - mean * mean));
  }
}

/**
 * -log10 of the probability that a heartbeat comes later than `elapsedMs` after the last one,
 * under a normal distribution (Akka's logistic approximation of its tail; finite for any input).
 */
export function phiOf(elapsedMs: number, meanMs: number, stdDevMs: number): number {
  const y = (elapsedMs - meanMs) / stdDevMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  if (elapsedMs > meanMs) return -Math.log10(e / (1 + e));
  return -Math.log10(1 - 1 / (1 + e));
}

export class FailureDetector {
  /** One per watched peer (at most MEMBERS_MAX; forget() drops a removed one), each INTERVALS_MAX long. */
  private readonly histories = new Map<NodeId, History>();

  constructor(private readonly config: FailureDetectorConfig) {}

  /**
   * Starts judging `id` from `nowMs` (its first ping), if not judged yet, expecting a heartbeat
   * every `expectedIntervalMs` (how often it is pinged) until its own history says otherwise.
   */
  watch(id: NodeId, nowMs: number, expectedIntervalMs: number): void {
    if (!this.histories.has(id)) this.histories.set(id, new History(nowMs, expectedIntervalMs));
  }

  /**
   * `id` answered at `nowMs`. The silence of a peer we held down is not an interval of its
   * heartbeats (it would teach the detector to wait that long next time).
   */
  heartbeat(id: NodeId, nowMs: number, wasDown: boolean): void {
    const history = this.histories.get(id);
    if (history === undefined) return;
    const intervalMs = nowMs - history.lastMs;
    if (!wasDown && intervalMs >= 0) history.add(intervalMs);
    history.lastMs = Math.max(history.lastMs, nowMs);
  }

  /** How unlikely the silence of `id` is at `nowMs` (0 for a peer not watched). */
  phi(id: NodeId, nowMs: number): number {
    const history = this.histories.get(id);
    if (history === undefined) return 0;
    const mean = history.mean + this.config.acceptablePauseMs;
    return phiOf(Math.max(0, nowMs - history.lastMs), mean, Math.max(history.stdDev, MIN_STD_DEV_MS));
  }

  isDown(id: NodeId, nowMs: number): boolean {
    return this.phi(id, nowMs) >= PHI_DOWN;
  }

  /** When `id` last answered (undefined if never watched). */
  lastHeartbeatMs(id: NodeId): number | undefined {
    return this.histories.get(id)?.lastMs;
  }

  forget(id: NodeId): void {
    this.histories.delete(id);
  }
}
