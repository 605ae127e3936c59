// Vector clocks (Dynamo section 4.4): node id -> counter, with the wall time each entry last
// advanced so that clocks can be pruned oldest-first past a size limit. Pure functions over
// immutable values; entries are kept sorted by node id so equal clocks are equal arrays.
import { assert } from '../env/assert.ts';
import type { NodeId } from '../env/transport.ts';
import { isActorId } from './actor.ts';

/**
 * Largest counter a clock entry or dot may carry: 2^48, far below 2^53 so that no increment
 * anywhere leaves the safe integers, and beyond anything an actor issues (see DotCounter).
 */
export const COUNTER_MAX = 2 ** 48;

export interface ClockEntry {
  readonly node: NodeId;
  readonly counter: number;
  /** Wall time (ms) when this entry last advanced; used only to choose what to prune. */
  readonly timeMs: number;
}

/** Sorted by node id, one entry per node, counters >= 1. */
export type VClock = readonly ClockEntry[];

export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

export const EMPTY_CLOCK: VClock = [];

export function counterOf(clock: VClock, node: NodeId): number {
  for (const e of clock) if (e.node === node) return e.counter;
  return 0;
}

/** True when `a` has seen everything `b` has (a >= b entrywise). */
export function descends(a: VClock, b: VClock): boolean {
  for (const e of b) if (counterOf(a, e.node) < e.counter) return false;
  return true;
}

export function compare(a: VClock, b: VClock): Ordering {
  const aGeB = descends(a, b);
  const bGeA = descends(b, a);
  if (aGeB && bGeA) return 'equal';
  if (aGeB) return 'after';
  if (bGeA) return 'before';
  return 'concurrent';
}

export function concurrent(a: VClock, b: VClock): boolean {
  return compare(a, b) === 'concurrent';
}

/** Least upper bound: entrywise max (commutative, associative, idempotent). */
export function merge(a: VClock, b: VClock): VClock {
  const out: ClockEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.node < y.node)) {
      out.push(x!);
      i++;
    } else if (x === undefined || y.node < x.node) {
      out.push(y);
      j++;
    } else {
      out.push(x.counter > y.counter || (x.counter === y.counter && x.timeMs >= y.timeMs) ? x : y);
      i++;
      j++;
    }
  }
  return out;
}

/** Sets `node`'s entry to `counter` (which must exceed the current one), stamped with `timeMs`. */
export function advance(clock: VClock, node: NodeId, counter: number, timeMs: number): VClock {
  assert(counter > counterOf(clock, node), () => `clock for ${node} must advance (${counterOf(clock, node)} -> ${counter})`);
  return merge(clock, [{ node, counter, timeMs }]);
}

/**
 * Drops the oldest entries (by timeMs, then node id) until at most `entriesMax` remain
 * (Dynamo 4.4), but never an entry of `keep` (the actors whose dots the caller must still
 * cover): those stay even past the limit. Pruning only ever forgets history, so a pruned clock
 * can make a later write look concurrent (an extra sibling), never make a newer write look older.
 */
export function prune(clock: VClock, entriesMax: number, keep: ReadonlySet<string> = new Set()): VClock {
  if (clock.length <= entriesMax) return clock;
  const kept = clock.filter((e) => keep.has(e.node));
  const rest = clock
    .filter((e) => !keep.has(e.node))
    .sort((x, y) => y.timeMs - x.timeMs || (x.node < y.node ? -1 : x.node > y.node ? 1 : 0))
    .slice(0, Math.max(0, entriesMax - kept.length));
  return [...kept, ...rest].sort((x, y) => (x.node < y.node ? -1 : 1));
}

/** Structural check for clocks that arrive from outside (clients, peers). */
export function isVClock(x: unknown): x is VClock {
  if (!Array.isArray(x)) return false;
  let previous: string | undefined;
  for (const e of x as unknown[]) {
    if (typeof e !== 'object' || e === null) return false;
    const { node, counter, timeMs } = e as Record<string, unknown>;
    if (!isActorId(node)) return false;
    if (!Number.isSafeInteger(counter) || (counter as number) < 1 || (counter as number) > COUNTER_MAX) return false;
    if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) return false;
    if (previous !== undefined && !(previous < node)) return false;
    previous = node;
  }
  return true;
}
