// The injected clock: wall time, a monotonic time for local intervals, and timers. Core modules
// read time and schedule work only through this interface, so the simulator can run them in
// virtual time (FoundationDB style). Production: src/env/real-clock.ts. Simulation: sim/sim-clock.ts.

/** A scheduled callback that may be cancelled before it fires. */
export interface Timer {
  /** Cancels the timer; cancelling a timer that already fired or was cancelled does nothing. */
  cancel(): void;
}

export interface Clock {
  /**
   * Milliseconds since the Unix epoch on this node. May jump, backwards too (NTP step, VM
   * restore), and may differ between nodes (skew): for timestamps others read, never for
   * measuring how long ago something happened here.
   */
  nowMs(): number;
  /**
   * Milliseconds on a clock that never goes back, for local intervals (ages, deadlines,
   * backoffs). Meaningless across nodes and across restarts of this node: never persist it or
   * send it to another node.
   */
  monotonicMs(): number;
  /** Calls `fn` once after at least `delayMs`; never synchronously inside setTimer. */
  setTimer(delayMs: number, fn: () => void): Timer;
}
