// Rate-limited warnings for events strangers can cause at will (refused or evicted connections on
// the peer and HTTP ports): the first of a kind is logged at once, later ones of that kind within
// the interval are counted, and one line per kind and interval then reports how many were
// suppressed. Bounded: at most kindsMax kinds are told apart per message; the rest share one.
// Production infrastructure like real-clock.ts (its timers do not hold the process open).
import type { Log } from './log.ts';

/** One line per kind per interval: a flood of 3,000 refusals a second then costs a line every 10 s. */
export const logIntervalMsDefault = 10_000;
/** Kinds told apart per message (reason texts an attacker varies would otherwise each get a line). */
export const logKindsMaxDefault = 16;
/** The kind every event shares once kindsMax kinds of its message are open. */
export const OTHER_KIND = 'other reasons';

export interface LogLimiterOptions {
  readonly intervalMs?: number;
  readonly kindsMax?: number;
  /** Calls fn once after delayMs; default an unref'd setTimeout. Returns a cancel function. */
  readonly setTimer?: (delayMs: number, fn: () => void) => () => void;
}

interface Window {
  /** Events counted but not logged since the window opened. */
  suppressed: number;
  /** The fields of the latest suppressed event: the summary line carries them. */
  fields: object;
  cancel: () => void;
}

const unrefTimer = (delayMs: number, fn: () => void): (() => void) => {
  const handle = setTimeout(fn, delayMs);
  handle.unref();
  return () => clearTimeout(handle);
};

export class LogLimiter {
  private readonly intervalMs: number;
  private readonly kindsMax: number;
  private readonly setTimer: (delayMs: number, fn: () => void) => () => void;
  /** Open windows by message, then by kind. */
  private readonly windows = new Map<string, Map<string, Window>>();

  constructor(
    private readonly log: Pick<Log, 'warn'>,
    options: LogLimiterOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? logIntervalMsDefault;
    this.kindsMax = options.kindsMax ?? logKindsMaxDefault;
    this.setTimer = options.setTimer ?? unrefTimer;
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs < 1) throw new RangeError(`intervalMs must be a positive integer, got ${this.intervalMs}`);
    if (!Number.isSafeInteger(this.kindsMax) || this.kindsMax < 1) throw new RangeError(`kindsMax must be a positive integer, got ${this.kindsMax}`);
  }

  /** Logs `msg` with `fields` now if no event of (msg, kind) was logged within the interval; else counts it. */
  warn(kind: string, fields: object, msg: string): void {
    const kinds = this.kindsOf(msg);
    const key = kinds.has(kind) || kinds.size < this.kindsMax ? kind : OTHER_KIND;
    const open = kinds.get(key);
    if (open !== undefined) {
      open.suppressed += 1;
      open.fields = fields;
      return;
    }
    this.log.warn(fields, msg);
    this.openWindow(msg, kinds, key);
  }

  /** Logs every pending count now and forgets all windows (call when the owner closes). */
  flush(): void {
    for (const [msg, kinds] of this.windows) {
      for (const window of kinds.values()) {
        window.cancel();
        this.report(msg, window);
      }
    }
    this.windows.clear();
  }

  private openWindow(msg: string, kinds: Map<string, Window>, kind: string): void {
    const window: Window = { suppressed: 0, fields: {}, cancel: () => {} };
    kinds.set(kind, window);
    window.cancel = this.setTimer(this.intervalMs, () => {
      kinds.delete(kind);
      if (kinds.size === 0) this.windows.delete(msg);
      if (window.suppressed === 0) return;
      this.report(msg, window);
      // Still flooding: the next interval again gets one line, not one per event.
      this.openWindow(msg, this.kindsOf(msg), kind);
    });
  }

  private kindsOf(msg: string): Map<string, Window> {
    let kinds = this.windows.get(msg);
    if (kinds === undefined) {
      kinds = new Map();
      this.windows.set(msg, kinds);
    }
    return kinds;
  }

  private report(msg: string, window: Window): void {
    if (window.suppressed === 0) return;
    this.log.warn({ ...window.fields, suppressed: window.suppressed, suppressedForMs: this.intervalMs }, msg);
  }
}
