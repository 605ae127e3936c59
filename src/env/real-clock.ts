// Production clock: the machine's wall time and Node's timers. The only place outside tests
// and tools that calls Date.now and setTimeout for core logic.
import type { Clock, Timer } from './clock.ts';

export const realClock: Clock = {
  nowMs: () => Date.now(),
  setTimer(delayMs: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};
