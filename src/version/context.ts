// The client-facing causal context: a vector clock serialised as an opaque URL-safe string
// (base64url of msgpack). Clients get it from reads and hand it back on writes; they must not
// build or edit it. Decoding validates the shape and the size, so a bad header is a 400.
import { Packr } from 'msgpackr';
import { EMPTY_CLOCK, isVClock, type ClockEntry, type VClock } from './vclock.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Contexts larger than this are refused: a clock has one entry per node, so this is generous. */
export const CONTEXT_CHARS_MAX = 16 * 1024;

export function encodeContext(clock: VClock): string {
  if (clock.length === 0) return '';
  const wire = clock.map((e) => [e.node, e.counter, e.timeMs]);
  return Buffer.from(packr.pack(wire)).toString('base64url');
}

export class ContextError extends Error {
  readonly code = 'BAD_CONTEXT' as const;
}

/** Parses a context string; the empty string is the empty context. Throws ContextError. */
export function decodeContext(text: string): VClock {
  if (text === '') return EMPTY_CLOCK;
  if (text.length > CONTEXT_CHARS_MAX) throw new ContextError(`context is longer than ${CONTEXT_CHARS_MAX} characters`);
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new ContextError('context is not a base64url string');
  let wire: unknown;
  try {
    wire = packr.unpack(Buffer.from(text, 'base64url'));
  } catch {
    throw new ContextError('context does not decode');
  }
  if (!Array.isArray(wire)) throw new ContextError('context does not decode to a clock');
  const clock: ClockEntry[] = [];
  for (const item of wire as unknown[]) {
    if (!Array.isArray(item) || item.length !== 3) throw new ContextError('context has a malformed entry');
    const [node, counter, timeMs] = item as unknown[];
    clock.push({ node, counter, timeMs } as ClockEntry);
  }
  if (!isVClock(clock)) throw new ContextError('context has an invalid clock');
  return clock;
}
