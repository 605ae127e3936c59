// The node-wide budget for answer bytes not yet taken by their clients (finding 7 of the attack
// review of issue 13: readers that never read made a node hold hundreds of MB). An answer's bytes
// count from the moment it is written until node:http has handed all of it to the kernel
// (its 'close' right after 'finish') or its connection closed. At the limit, answers that have waited at least
// answerStallMs, oldest first, lose their connections to make room; if that is not enough, the
// new answer is refused (the caller answers 503 with Retry-After). One answer alone always fits,
// so held bytes stay below httpAnswerBytesMax plus one largest answer.
import { assert } from '../env/assert.ts';
import type { ServerResponse } from 'node:http';
import type { Log } from '../env/log.ts';
import { LogLimiter } from '../env/log-limiter.ts';

/** An answer whose client has not taken it for this long may be closed to make room for a new one. */
export const answerStallMsDefault = 1_000;

interface Held {
  readonly bytes: number;
  readonly sinceMs: number;
}

export class AnswerBudget {
  /** Answers being sent, oldest first (a Map keeps insertion order). */
  private readonly held = new Map<ServerResponse, Held>();
  private heldBytesNow = 0;
  private closedStalled = 0;
  private refused = 0;
  private readonly warnings: LogLimiter;

  constructor(
    private readonly bytesMax: number,
    log: Pick<Log, 'warn'>,
    private readonly stallMs = answerStallMsDefault,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    if (!Number.isSafeInteger(bytesMax) || bytesMax < 1) throw new RangeError(`httpAnswerBytesMax must be a positive integer, got ${bytesMax}`);
    this.warnings = new LogLimiter(log);
  }

  get stats(): { heldBytes: number; heldAnswers: number; closedStalled: number; refused: number } {
    return { heldBytes: this.heldBytesNow, heldAnswers: this.held.size, closedStalled: this.closedStalled, refused: this.refused };
  }

  /**
   * Counts `bytes` of answer on `res` until it is sent or its connection closes; returns false
   * (and counts nothing) when they do not fit even after closing stalled answers.
   */
  hold(res: ServerResponse, bytes: number): boolean {
    // Its client is gone (or it was sent): nothing will be held, and no 'finish' or 'close' would
    // ever come to release it.
    if (res.destroyed || res.writableEnded) return true;
    if (this.heldBytesNow > 0 && this.heldBytesNow + bytes > this.bytesMax) this.closeStalled(bytes);
    if (this.heldBytesNow > 0 && this.heldBytesNow + bytes > this.bytesMax) {
      this.refused += 1;
      this.warnings.warn('refused', { bytes, heldBytes: this.heldBytesNow, answerBytesMax: this.bytesMax }, 'HTTP: answer refused (503): too many answer bytes not yet taken by their clients');
      return false;
    }
    assert(!this.held.has(res), 'two answers held for one response');
    this.held.set(res, { bytes, sinceMs: this.nowMs() });
    this.heldBytesNow += bytes;
    // node:http emits 'close' on a response right after 'finish' (all of it handed to the kernel),
    // or when its connection closes first: one listener serves both...
    res.once('close', () => this.release(res));
    // ...except for a pipelined answer still queued behind an earlier one: it has no socket yet,
    // and if the connection closes first node:http emits nothing on it (a client could leave
    // such answers held until closeStalled took them). Its connection's close releases it.
    const queuedOn = res.socket === null ? res.req?.socket : undefined;
    if (queuedOn !== undefined && queuedOn !== null) {
      const onConnectionClose = () => this.release(res);
      queuedOn.once('close', onConnectionClose);
      // Sent after all: keep-alive connections must not gather one listener per answer.
      res.once('close', () => queuedOn.off('close', onConnectionClose));
    }
    return true;
  }

  /** Closes answers that waited at least stallMs, oldest first, until `bytes` more fit. */
  private closeStalled(bytes: number): void {
    const now = this.nowMs();
    for (const [res, answer] of this.held) {
      if (this.heldBytesNow + bytes <= this.bytesMax || now - answer.sinceMs < this.stallMs) return;
      this.closedStalled += 1;
      this.warnings.warn('stalled', { bytes: answer.bytes, waitedMs: Math.round(now - answer.sinceMs), answerBytesMax: this.bytesMax }, 'HTTP: closing a connection whose client has not taken its answer, to make room');
      this.release(res);
      res.destroy();
    }
  }

  private release(res: ServerResponse): void {
    const answer = this.held.get(res);
    if (answer === undefined) return;
    this.held.delete(res);
    this.heldBytesNow -= answer.bytes;
  }
}
