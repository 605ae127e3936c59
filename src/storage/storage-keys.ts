// The rules every Storage implementation shares, so LMDB and memory agree (STYLE.md section 2): which
// keys and writes are storable, and key order. Pure; implementations call it before touching state.
// Key order is Unicode code point order, which is UTF-8 byte order: what LMDB sorts by.
import { assert } from '../env/assert.ts';
import { SPACES, StorageError, type StorageWrite } from '../env/storage.ts';

/** lmdb-js's key limit unless pageSize is raised (LmdbStorage asserts it at open); memory enforces it too. */
export const KEY_BYTES_MAX = 1978;

// In a `u` regex a well-formed surrogate pair is one code point, so this only finds lone halves.
const loneSurrogate = /\p{Surrogate}/u;

/** Why `key` cannot be stored, or undefined if it can. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return `key must be a string, got ${typeof key}`;
  // LMDB rejects zero-length keys.
  if (key.length === 0) return 'key must not be empty';
  // A lone surrogate has no UTF-8 form: it would be stored as U+FFFD, colliding with other keys.
  if (loneSurrogate.test(key)) return 'key must be well-formed UTF-16 (no lone surrogates)';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > KEY_BYTES_MAX) return `key is ${bytes} bytes of UTF-8, over the ${KEY_BYTES_MAX}-byte maximum`;
  return undefined;
}

/** Throws StorageError naming the first write that cannot be stored; nothing may be applied then. */
export function checkWrites(writes: readonly StorageWrite[]): void {
  writes.forEach((w, i) => {
    const problem = !SPACES.includes(w.space)
      ? `unknown space ${JSON.stringify(w.space)}`
      : w.value !== null && !(w.value instanceof Uint8Array)
        ? 'value must be a Uint8Array or null'
        : keyProblem(w.key);
    if (problem !== undefined) throw new StorageError(`write ${i} of ${writes.length} rejected, batch not applied: ${problem}`);
  });
}

/** Asserts scan bounds are strings a key could be compared with (a programmer error otherwise). */
export function assertScanBound(bound: string | undefined, name: string): void {
  if (bound === undefined) return;
  assert(typeof bound === 'string' && !loneSurrogate.test(bound), () => `scan ${name} must be a well-formed string`);
}

export function assertScanLimit(limit: number | undefined): void {
  assert(limit === undefined || (Number.isSafeInteger(limit) && limit >= 0), () => `scan limit must be an integer >= 0, got ${limit}`);
}

/**
 * Code point order (= UTF-8 byte order). JS `<` compares UTF-16 units, which puts astral characters
 * (surrogates 0xD800-0xDFFF) before U+E000-U+FFFF; shifting those unit ranges at the first
 * difference restores code point order.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}
