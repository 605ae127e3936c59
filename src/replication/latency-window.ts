// Speculative retry's two parts (Cassandra's speculative_retry, "The Tail at Scale"): a window of
// recent latencies whose p99 says how long to wait for an answer before asking elsewhere, and a
// budget that bounds how often that may happen, so a slow cluster is not flooded with retries.
// Pure: callers measure with their own (injected) clock. Once the window is full the p99 is
// recomputed every RECOMPUTE_EVERY samples, not per request, so the hot path pays one array
// write per sample (and, while the window fills, one sort of at most 512 per read of the p99).
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
    this.sinceRecompute++;
    assert(this.samples.length <= LATENCY_WINDOW_SAMPLES, 'the latency window holds at most LATENCY_WINDOW_SAMPLES');
  }

  /** The p99 clamped to [minMs, maxMs], or `fallbackMs` (clamped too) while there are too few samples. */
  p99Within(minMs: number, maxMs: number, fallbackMs: number = maxMs): number {
    // While the window fills, every new sample counts; once full, a sort per RECOMPUTE_EVERY samples.
    const due = this.samples.length < LATENCY_WINDOW_SAMPLES ? this.sinceRecompute > 0 : this.sinceRecompute >= RECOMPUTE_EVERY;
    if (due && this.samples.length >= LATENCY_WINDOW_SAMPLES_MIN) {
      this.sinceRecompute = 0;
      const sorted = Float64Array.from(this.samples).sort(); // numeric order, no comparator calls
      this.p99Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
    }
    return Math.min(maxMs, Math.max(minMs, this.p99Ms ?? fallbackMs));
  }
}

/** Speculative requests allowed per request made, in the long run (token bucket refill). */
export const SPECULATION_SHARE_MAX = 0.1;
/** Speculative requests allowed in a burst (token bucket size). */
export const SPECULATION_BURST = 10;

/**
 * At most SPECULATION_SHARE_MAX extra requests per request, with bursts of SPECULATION_BURST:
 * when everything is slow, speculating on most requests would add load exactly when there is
 * none to spare (gRPC's and Finagle's retry budgets).
 */
export class SpeculationBudget {
  private tokens = SPECULATION_BURST;

  /** One request was made: it earns a share of a speculation. */
  earn(): void {
    this.tokens = Math.min(SPECULATION_BURST, this.tokens + SPECULATION_SHARE_MAX);
  }

  canSpend(): boolean {
    return this.tokens >= 1;
  }

  /** Takes one speculation; false (and nothing taken) when the budget is spent. */
  spend(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
