// The injected clock: wall time and timers. Core modules read time and schedule work only
// through this interface, so the simulator can run them in virtual time (FoundationDB style).
// Production: src/env/real-clock.ts. Simulation: sim/sim-clock.ts.

/** A scheduled callback that may be cancelled before it fires. */
export interface Timer {
  /** Cancels the timer; cancelling a timer that already fired or was cancelled does nothing. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch on this node. May jump (NTP) and may differ between nodes (skew). */
  nowMs(): number;
  /** Calls `fn` once after at least `delayMs`; never synchronously inside setTimer. */
  setTimer(delayMs: number, fn: () => void): Timer;
}
