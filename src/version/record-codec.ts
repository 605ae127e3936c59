// The on-disk and on-wire form of a key's sibling set. One compact msgpack array per record,
// with a format version, so a node can refuse (not misread) data it does not understand.
// Decoding validates every field: a corrupt record is an error, never a served value.
import { Packr } from 'msgpackr';
import { isActorId } from './actor.ts';
import { COUNTER_MAX, isVClock, type VClock } from './vclock.ts';
import type { Sibling } from './siblings.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const FORMAT_VERSION = 1;

/**
 * Largest record (all versions of one key, encoded) a coordinator creates: 4 MiB, four values of
 * the largest size. Replicas may still merge concurrent records past it, a few times over at
 * most (each of N coordinators is bounded), which stays far below the 32 MiB peer frame.
 */
export const RECORD_BYTES_MAX = 4 * 1024 * 1024;

type WireSibling = [string, number, number, [string, number, number][], Uint8Array | null, string];

export class RecordCorruptError extends Error {
  readonly code = 'RECORD_CORRUPT' as const;
}

export function siblingToWire(s: Sibling): WireSibling {
  return [s.dot.node, s.dot.counter, s.dot.timeMs, s.context.map((e) => [e.node, e.counter, e.timeMs]), s.value, s.contentType];
}

export function siblingFromWire(x: unknown): Sibling | undefined {
  if (!Array.isArray(x) || x.length !== 6) return undefined;
  const [node, counter, timeMs, ctx, value, contentType] = x as unknown[];
  if (!isActorId(node)) return undefined;
  if (!Number.isSafeInteger(counter) || (counter as number) < 1 || (counter as number) > COUNTER_MAX) return undefined;
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) return undefined;
  if (!Array.isArray(ctx)) return undefined;
  const context = (ctx as unknown[]).map((e) =>
    Array.isArray(e) && e.length === 3 ? { node: e[0], counter: e[1], timeMs: e[2] } : null,
  );
  if (!isVClock(context)) return undefined;
  if (value !== null && !(value instanceof Uint8Array)) return undefined;
  if (typeof contentType !== 'string') return undefined;
  return { dot: { node, counter: counter as number, timeMs }, context: context as VClock, value, contentType };
}

export function encodeRecord(siblings: readonly Sibling[]): Uint8Array {
  return packr.pack([FORMAT_VERSION, siblings.map(siblingToWire)]);
}

export function decodeRecord(bytes: Uint8Array): Sibling[] {
  let wire: unknown;
  try {
    wire = packr.unpack(bytes);
  } catch (err) {
    throw new RecordCorruptError(`record does not decode: ${(err as Error).message}`);
  }
  if (!Array.isArray(wire) || wire[0] !== FORMAT_VERSION || !Array.isArray(wire[1])) {
    throw new RecordCorruptError('record has an unknown format');
  }
  return (wire[1] as unknown[]).map((w) => {
    const s = siblingFromWire(w);
    if (s === undefined) throw new RecordCorruptError('record holds a malformed sibling');
    return s;
  });
}

/**
 * A sibling set together with its record bytes, so that a version crossing the network is
 * encoded once by its sender and stored by its receivers without re-encoding (the hot write
 * path). Built from siblings (`of`, encodes at once) or from received bytes (`received`, which
 * decodes only when `decoded()` is asked, so the protocol validator decides what a corrupt
 * record means).
 */
export class EncodedRecord {
  private constructor(
    readonly bytes: Uint8Array,
    private siblingsOrUndefined: readonly Sibling[] | undefined,
  ) {}

  static of(siblings: readonly Sibling[]): EncodedRecord {
    return new EncodedRecord(encodeRecord(siblings), siblings);
  }

  /** Siblings with bytes already known to be encodeRecord(siblings) (e.g. read from disk). */
  static ofEncoded(siblings: readonly Sibling[], bytes: Uint8Array): EncodedRecord {
    return new EncodedRecord(bytes, siblings);
  }

  /** Bytes the caller owns (they are kept, not copied), not yet validated. */
  static received(bytes: Uint8Array): EncodedRecord {
    return new EncodedRecord(bytes, undefined);
  }

  /** Decodes once; false if the bytes are not a valid record. */
  decoded(): boolean {
    if (this.siblingsOrUndefined !== undefined) return true;
    try {
      this.siblingsOrUndefined = decodeRecord(this.bytes);
      return true;
    } catch (err) {
      if (err instanceof RecordCorruptError) return false;
      throw err;
    }
  }

  /** The siblings; throws RecordCorruptError if the bytes do not decode. */
  get siblings(): readonly Sibling[] {
    if (this.siblingsOrUndefined === undefined) this.siblingsOrUndefined = decodeRecord(this.bytes);
    return this.siblingsOrUndefined;
  }
}
