// Test helpers for transport tests: wait on a condition (never a fixed sleep) and a logger that
// records what it is told. Test-only; no production code imports this.
import type { Log } from '../../src/env/log.ts';

/** Polls `predicate` until it returns true; rejects with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const pollMs = 5;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (performance.now() > deadline) throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string;
}

/** A Log that keeps every entry, so tests can assert that a warning was given (and about what). */
export class RecordingLog implements Log {
  readonly entries: LogEntry[] = [];
  debug(obj: object, msg: string): void {
    this.entries.push({ level: 'debug', obj, msg });
  }
  info(obj: object, msg: string): void {
    this.entries.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  /** Warnings whose fields or message mention `text`. */
  warnings(text = ''): LogEntry[] {
    return this.entries.filter((e) => e.level === 'warn' && (e.msg + JSON.stringify(e.obj)).includes(text));
  }
}
