// Production diagnostics: notices when a node's event loop was blocked or starved of CPU long
// enough to matter (every client request and peer reply on the node waits it out) and reports
// how late it ran. Uses real timers, so it lives beside production.ts, not in the core.

export interface StallWatchOptions {
  /** How often the watch ticks. */
  readonly tickMs?: number;
  /** A tick this late or later is reported. */
  readonly reportMs?: number;
}

/** Calls `report(lateMs)` whenever a tick runs `reportMs` or more late; stop() ends the watch. */
export function watchEventLoopStalls(report: (lateMs: number) => void, { tickMs = 250, reportMs = 500 }: StallWatchOptions = {}): { stop(): void } {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const lateMs = now - last - tickMs;
    last = now;
    if (lateMs >= reportMs) report(Math.round(lateMs));
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
