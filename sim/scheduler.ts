// Virtual time for the simulator: a single event queue ordered by (time, insertion order).
// Between events it lets pending promise callbacks settle, so async code runs exactly as it
// would between real timer ticks, and the whole run is a pure function of the seed.

interface Event {
  readonly atMs: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Gives every promise callback queued so far a chance to run (microtasks drain before it). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Scheduler {
  private nowMsValue = 0;
  private seq = 0;
  private heap: Event[] = [];
  eventsRun = 0;
  /**
   * Told of an exception thrown by an event (in production: an uncaught exception, i.e. a
   * crashed process). Unset, the exception propagates out of runUntil/runWhile.
   */
  onError: ((err: unknown) => void) | undefined;

  get nowMs(): number {
    return this.nowMsValue;
  }

  schedule(delayMs: number, fn: () => void): { cancel(): void } {
    const event: Event = { atMs: this.nowMsValue + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.push(event);
    return {
      cancel: () => {
        event.cancelled = true;
      },
    };
  }

  /** Runs events until virtual time passes `untilMs` or the queue empties. */
  async runUntil(untilMs: number): Promise<void> {
    await settle();
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.atMs > untilMs) break;
      this.pop();
      if (next.cancelled) continue;
      this.nowMsValue = next.atMs;
      this.eventsRun++;
      this.run(next);
      await settle();
    }
    this.nowMsValue = Math.max(this.nowMsValue, untilMs);
  }

  /** Runs events until `done()` holds, failing after `limitMs` of virtual time. */
  async runWhile(pending: () => boolean, limitMs: number): Promise<void> {
    const deadline = this.nowMsValue + limitMs;
    await settle();
    while (pending()) {
      const next = this.heap[0];
      if (next === undefined || next.atMs > deadline) throw new Error(`simulation: condition still pending after ${limitMs} ms of virtual time`);
      this.pop();
      if (next.cancelled) continue;
      this.nowMsValue = next.atMs;
      this.eventsRun++;
      this.run(next);
      await settle();
    }
  }

  /** Runs `work` to completion, advancing virtual time as it waits. */
  async complete<T>(work: Promise<T>, limitMs = 600_000): Promise<T> {
    let done = false;
    const tracked = work.finally(() => {
      done = true;
    });
    tracked.catch(() => {});
    await this.runWhile(() => !done, limitMs);
    return tracked;
  }

  private run(event: Event): void {
    if (this.onError === undefined) return event.fn();
    try {
      event.fn();
    } catch (err) {
      this.onError(err);
    }
  }

  private push(event: Event): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}

function before(a: Event, b: Event): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
