// The versions of one key: a set of concurrent siblings, each tagged with a dotted version vector
// (the dot that created it plus the causal context its writer had read). This is Dynamo's
// vector-clock versioning (section 4.4) with Riak 2.0's fix for blind writes: two writes through
// the same node without context get distinct dots and stay siblings instead of one silently
// overwriting the other. Pure functions; `mergeSiblings` is a join (commutative, associative,
// idempotent), which is what makes replication, read repair and anti-entropy order-free.
import type { NodeId } from '../env/transport.ts';
import { advance, counterOf, EMPTY_CLOCK, merge, type VClock } from './vclock.ts';

/** The event that created a version: `counter` is unique per node for the node's lifetime. */
export interface Dot {
  readonly node: NodeId;
  readonly counter: number;
  readonly timeMs: number;
}

export interface Sibling {
  readonly dot: Dot;
  /** What the writer had seen when it wrote (the context it sent), excluding `dot` itself. */
  readonly context: VClock;
  /** The value's bytes, or null for a tombstone (a delete that keeps its clock). */
  readonly value: Uint8Array | null;
  readonly contentType: string;
}

/** True when `clock` has seen the event `dot`, i.e. a write with that context supersedes it. */
export function covers(clock: VClock, dot: Dot): boolean {
  return counterOf(clock, dot.node) >= dot.counter;
}

/** The sibling's full vector clock: its context advanced by its own dot. */
export function clockOf(sibling: Sibling): VClock {
  const { node, counter, timeMs } = sibling.dot;
  return covers(sibling.context, sibling.dot) ? sibling.context : advance(sibling.context, node, counter, timeMs);
}

/** The context a client gets from a read: the join of every sibling's clock (tombstones included). */
export function joinClocks(siblings: readonly Sibling[]): VClock {
  let clock = EMPTY_CLOCK;
  for (const s of siblings) clock = merge(clock, clockOf(s));
  return clock;
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.node === b.node && a.counter === b.counter;
}

function byDot(a: Sibling, b: Sibling): number {
  if (a.dot.node !== b.dot.node) return a.dot.node < b.dot.node ? -1 : 1;
  return a.dot.counter - b.dot.counter;
}

/**
 * Joins two sibling sets: the union, minus every sibling whose dot another sibling's context has
 * seen. The result is sorted by dot, so equal sets encode to equal bytes (Merkle hashing relies
 * on this).
 */
export function mergeSiblings(a: readonly Sibling[], b: readonly Sibling[]): Sibling[] {
  const all: Sibling[] = [...a];
  for (const s of b) if (!all.some((x) => sameDot(x.dot, s.dot))) all.push(s);
  const kept = all.filter((s) => !all.some((o) => o !== s && covers(o.context, s.dot)));
  return kept.sort(byDot);
}

/** The highest counter of `node` that appears anywhere in these siblings or in `context`. */
export function highestCounterOf(node: NodeId, siblings: readonly Sibling[], context: VClock): number {
  let highest = counterOf(context, node);
  for (const s of siblings) {
    highest = Math.max(highest, counterOf(s.context, node));
    if (s.dot.node === node) highest = Math.max(highest, s.dot.counter);
  }
  return highest;
}

/** Siblings that carry a value (tombstones left out): what a read shows. */
export function liveSiblings(siblings: readonly Sibling[]): Sibling[] {
  return siblings.filter((s) => s.value !== null);
}

export function siblingsEqual(a: readonly Sibling[], b: readonly Sibling[]): boolean {
  if (a.length !== b.length) return false;
  const sortedB = [...b].sort(byDot);
  return [...a].sort(byDot).every((s, i) => sameDot(s.dot, sortedB[i]!.dot));
}

/**
 * Live siblings with byte-equal values and content types collapsed into one: concurrent writes
 * of the same value (or one write applied twice after a retry) are not a conflict to a reader.
 */
export function distinctValues(siblings: readonly Sibling[]): Sibling[] {
  const out: Sibling[] = [];
  for (const s of liveSiblings(siblings)) {
    const same = out.some((o) => o.contentType === s.contentType && Buffer.from(o.value!).equals(s.value!));
    if (!same) out.push(s);
  }
  return out;
}
