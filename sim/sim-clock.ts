// A node's clock in the simulator: virtual time from the shared scheduler, offset by a per-node
// skew so that nodes disagree about wall time as real machines do. The skew may change while the
// node runs (an NTP step, or a clock minutes off), which the nemesis uses.
import type { Clock, Timer } from '../src/env/clock.ts';
import type { Scheduler } from './scheduler.ts';

/** Virtual time starts at a fixed, plausible epoch so timestamps look like real ones. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

export class SimClock implements Clock {
  constructor(
    private readonly scheduler: Scheduler,
    /** Wall-clock offset from true (virtual) time; timers are unaffected, as with a monotonic clock. */
    public skewMs = 0,
  ) {}

  nowMs(): number {
    return SIM_EPOCH_MS + this.scheduler.nowMs + this.skewMs;
  }

  /** Virtual time without the skew: it never goes back, whatever the wall clock does. */
  monotonicMs(): number {
    return this.scheduler.nowMs;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    return this.scheduler.schedule(delayMs, () => {
      if (!this.stopped) fn();
    });
  }

  private stopped = false;

  /** The process died: none of its timers fire any more. */
  stop(): void {
    this.stopped = true;
  }
}
