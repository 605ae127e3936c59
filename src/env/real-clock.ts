// Production clock: the machine's wall time, a monotonic clock and Node's timers. The only place
// outside tests and tools that calls Date.now and setTimeout for core logic.
import type { Clock, Timer } from './clock.ts';

export const realClock: Clock = {
  nowMs: () => Date.now(),
  // performance.now() counts from timeOrigin on a monotonic clock: wall-clock steps do not move it.
  monotonicMs: () => performance.timeOrigin + performance.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};
