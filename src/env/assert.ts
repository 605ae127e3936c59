// The one way code states an invariant (STYLE.md section 4, TigerBeetle's assertions): a broken
// invariant is a bug, never an operating error, so it throws AssertionFailed (code ASSERTION),
// which no caller handles as an outcome; the simulator reports it as a failure. Operating errors
// (a peer down, a request malformed) are handled and answered instead, never asserted.

export class AssertionFailed extends Error {
  readonly code = 'ASSERTION';
  constructor(message: string) {
    super(`assertion: ${message}`);
    this.name = 'AssertionFailed';
  }
}

/** Throws AssertionFailed unless `condition` holds; `message` may be a function, built only on failure. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionFailed(typeof message === 'function' ? message() : message);
}
