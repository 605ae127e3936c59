// A window of recent latencies and its p99, for speculative retry (Cassandra's speculative_retry,
// "The Tail at Scale"): how long a read waits for its first replicas before asking another. Pure:
// the caller measures with its injected clock. The p99 is recomputed every RECOMPUTE_EVERY
// samples, not per read, so the hot path pays one array write per sample.
import { assert } from '../env/assert.ts';

/** Latencies kept (the most recent ones). */
export const LATENCY_WINDOW_SAMPLES = 512;
/** Below this many samples there is no p99 yet and the fallback is used. */
export const LATENCY_WINDOW_SAMPLES_MIN = 64;
/** The p99 is recomputed after this many new samples. */
const RECOMPUTE_EVERY = 64;

export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  private sinceRecompute = 0;
  private p99Ms: number | undefined;

  /** Adds one latency (ms); non-finite or negative values (a clock step) are ignored. */
  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.samples.length < LATENCY_WINDOW_SAMPLES) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % LATENCY_WINDOW_SAMPLES;
    if (++this.sinceRecompute >= RECOMPUTE_EVERY && this.samples.length >= LATENCY_WINDOW_SAMPLES_MIN) {
      this.sinceRecompute = 0;
      const sorted = [...this.samples].sort((a, b) => a - b);
      this.p99Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
    }
    assert(this.samples.length <= LATENCY_WINDOW_SAMPLES, 'the latency window holds at most LATENCY_WINDOW_SAMPLES');
  }

  /** The p99 clamped to [minMs, maxMs], or `maxMs` while there are too few samples for a p99. */
  p99Within(minMs: number, maxMs: number): number {
    if (this.p99Ms === undefined) return maxMs;
    return Math.min(maxMs, Math.max(minMs, this.p99Ms));
  }
}
