// What this node's clients asked of it in the last minute, one slot per second: the dashboard's
// ops/s and latency sparkline. A fixed ring of slots (bounded memory, O(1) per request);
// Prometheus histograms (node-metrics.ts) answer the long-run questions, this one answers
// "what is the node doing right now". Only key-value operations are counted.

/** One second of requests: how many, and their mean and slowest latency. */
export interface RequestSecond {
  /** Start of the second, ms since the epoch. */
  readonly atMs: number;
  readonly count: number;
  readonly meanMs: number;
  readonly maxMs: number;
}

interface Slot {
  second: number;
  count: number;
  sumMs: number;
  maxMs: number;
}

/** Seconds kept: one minute is what a sparkline beside a node can show legibly. */
export const WINDOW_SECONDS = 60;
/** ops/s averages this many complete seconds, so one idle second does not read as zero. */
const RATE_SECONDS = 5;

export class RequestWindow {
  private readonly slots: Slot[] = Array.from({ length: WINDOW_SECONDS }, () => ({ second: -1, count: 0, sumMs: 0, maxMs: 0 }));

  constructor(private readonly nowMs: () => number = Date.now) {}

  record(latencyMs: number): void {
    const second = Math.floor(this.nowMs() / 1000);
    const slot = this.slots[second % WINDOW_SECONDS]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.count = 0;
      slot.sumMs = 0;
      slot.maxMs = 0;
    }
    slot.count++;
    slot.sumMs += latencyMs;
    if (latencyMs > slot.maxMs) slot.maxMs = latencyMs;
  }

  /** The last WINDOW_SECONDS complete seconds, oldest first; a second without requests is zero. */
  recent(): RequestSecond[] {
    const now = Math.floor(this.nowMs() / 1000);
    const out: RequestSecond[] = [];
    for (let second = now - WINDOW_SECONDS; second < now; second++) {
      const slot = this.slots[second % WINDOW_SECONDS]!;
      const live = slot.second === second && slot.count > 0;
      out.push({
        atMs: second * 1000,
        count: live ? slot.count : 0,
        meanMs: live ? slot.sumMs / slot.count : 0,
        maxMs: live ? slot.maxMs : 0,
      });
    }
    return out;
  }

  /** Requests per second over the last few complete seconds. */
  opsPerSec(): number {
    const recent = this.recent().slice(-RATE_SECONDS);
    return recent.reduce((sum, s) => sum + s.count, 0) / RATE_SECONDS;
  }
}
