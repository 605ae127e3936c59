// Range reads for Query, Scan and ListTables: one key range read from several replicas at once
// (NodeFrontDoor.readRange), merged in key order, one page at a time. Each replica answers at most
// a batch of keys; the merged page ends at the nearest replica's last key when that replica has
// more, so no key a replica holds is skipped. Who must answer is the caller's rule (`enough`):
// R replicas of a partition for a consistent Query, a replica of every ring range for a Scan.
// The page resolves as soon as the rule holds (a dead replica costs nothing once enough others
// have answered) or every replica has answered or failed. A key's versions from several replicas
// are joined by their vector clocks, so a version superseded anywhere that answered is gone.
import type { NodeFrontDoor, RangeRead } from '../node/front-door.ts';
import type { Ring } from '../ring/ring.ts';
import { mergeSiblings, type Sibling } from '../version/siblings.ts';
import { DynamoError } from './errors.ts';
import { justAfter } from './item-keys.ts';

/** Keys asked of each replica per page (the peer message's own bound is 256). */
export const RANGE_PAGE_KEYS = 128;

type NodeId = string;

export interface MergedEntry {
  readonly key: string;
  /** Every answering replica's versions of the key, joined by their clocks (the caller resolves them). */
  readonly siblings: readonly Sibling[];
}

export interface MergedPage {
  readonly entries: readonly MergedEntry[];
  /** The rest of the range, or undefined when the range is done. */
  readonly rest?: { readonly start: string; readonly end: string };
}

/**
 * Merged pages read at once on one node: each holds up to a batch (8 MiB) from every replica it
 * asked until every one of them has answered or failed, so this bounds a node's memory for Query
 * and Scan; further pages wait, and past MERGED_PAGES_WAITING_MAX waiting the read is refused
 * with a throttling error the SDKs retry.
 */
export const MERGED_PAGES_CONCURRENT_MAX = 4;
export const MERGED_PAGES_WAITING_MAX = 64;

/** A count of slots; acquire() waits (first come, first served) while all are taken, at most `waitingMax` at once. */
export class Slots {
  private taken = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly max: number,
    readonly waitingMax = Number.POSITIVE_INFINITY,
  ) {}

  async acquire(): Promise<() => void> {
    if (this.taken >= this.max) {
      if (this.waiting.length >= this.waitingMax) {
        throw new DynamoError('ProvisionedThroughputExceededException', 'too many reads are waiting on this node; retry');
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.taken++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next !== undefined) next(); // the slot passes on
      else this.taken--;
    };
  }
}

/** Rule for which sets of answering replicas suffice. */
export type Enough = (answered: ReadonlySet<NodeId>) => boolean;

/** Rule: at least `count` of the replicas answered. */
export function atLeast(count: number): Enough {
  return (answered) => answered.size >= count;
}

/** Rule: for every range of the ring, at least `count` of its N replicas answered (a whole-ring read). */
export function everyRange(ring: Ring, n: number, count: number): Enough {
  const lists = ring.nodes.map((node) => ring.preferenceListOfPosition(node.position, n));
  return (answered) => lists.every((list) => list.filter((id) => answered.has(id)).length >= Math.min(count, list.length));
}

function unavailable(answered: number, asked: number, why: string): DynamoError {
  return new DynamoError('InternalServerError', `not enough replicas answered the read (${answered} of ${asked}; ${why}); retry`);
}

/**
 * One merged page of [start, end) from `nodes` (ascending, or descending if `reverse`). Rejects
 * with InternalServerError (which SDKs retry) when the replicas that answered do not satisfy
 * `enough`.
 */
export function readMergedPage(
  front: NodeFrontDoor,
  nodes: readonly NodeId[],
  start: string,
  end: string,
  reverse: boolean,
  enough: Enough,
  timeoutMs: number,
  /** Called once every node asked has answered or failed (the page may have resolved earlier). */
  onSettled?: () => void,
): Promise<MergedPage> {
  return new Promise((resolve, reject) => {
    const answers = new Map<NodeId, RangeRead>();
    const failures: string[] = [];
    let settled = 0;
    let done = false;
    const finish = () => {
      if (settled === nodes.length) onSettled?.();
      if (done) return;
      const answered = new Set(answers.keys());
      if (enough(answered)) {
        done = true;
        resolve(merge(answers, start, end, reverse));
      } else if (settled === nodes.length) {
        done = true;
        reject(unavailable(answers.size, nodes.length, failures.slice(0, 3).join('; ') || 'none asked'));
      }
    };
    if (nodes.length === 0) {
      finish();
      return;
    }
    for (const node of nodes) {
      front.readRange(node, start, end, RANGE_PAGE_KEYS, reverse, timeoutMs).then(
        (read) => {
          settled++;
          if (!done) answers.set(node, read);
          finish();
        },
        (err: unknown) => {
          settled++;
          failures.push(`${node}: ${(err as Error).message ?? String(err)}`.slice(0, 200));
          finish();
        },
      );
    }
  });
}

function merge(answers: ReadonlyMap<NodeId, RangeRead>, start: string, end: string, reverse: boolean): MergedPage {
  // The page may only reach as far as every replica has listed: the nearest last key of a
  // replica that has more.
  let bound: string | undefined;
  for (const read of answers.values()) {
    if (!read.more || read.entries.length === 0) continue;
    const last = read.entries[read.entries.length - 1]!.key;
    if (bound === undefined || (reverse ? last > bound : last < bound)) bound = last;
  }
  const byKey = new Map<string, Sibling[]>();
  for (const read of answers.values()) {
    for (const entry of read.entries) {
      if (bound !== undefined && (reverse ? entry.key < bound : entry.key > bound)) continue;
      // Joined by their clocks, as the coordinator joins a key's replies: a version a later one
      // (a delete included) superseded on another replica is dropped, never resurrected.
      const list = byKey.get(entry.key);
      byKey.set(entry.key, list === undefined ? [...entry.siblings] : mergeSiblings(list, entry.siblings));
    }
  }
  const keys = [...byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (reverse) keys.reverse();
  const entries = keys.map((key) => ({ key, siblings: byKey.get(key)! }));
  if (bound === undefined) return { entries };
  return { entries, rest: reverse ? { start, end: bound } : { start: justAfter(bound), end } };
}
