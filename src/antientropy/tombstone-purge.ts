// Which tombstones this node holds, since when, and purging those old enough (Dynamo leaves this
// open; this is Cassandra's gc-grace rule: AntiEntropy.purgeTombstones decides the horizon, from
// the grace period and the last complete sync with every replica). Keeps an index of the keys
// whose every version is a tombstone, per range and in order of when this node stored that state
// on its own monotonic clock, so a purge walks only its range's oldest and stops at the first too
// young; and remembers what it purged, so a replica that has not purged yet cannot hand it back.
// Sans-IO: the store and clock are injected.
import { assert } from '../env/assert.ts';
import type { Clock } from '../env/clock.ts';
import type { NodeId } from '../env/transport.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import type { Ring } from '../ring/ring.ts';
import type { Sibling } from '../version/siblings.ts';

/**
 * Tombstones one purge call examines at most (each costs a read and, if purged, a removal:
 * ~10-20 us); the rest wait for the range's next round. 10,000 per round every
 * antiEntropyIntervalMs outpaces any delete rate a node takes for long.
 */
export const PURGE_TOMBSTONES_PER_ROUND_MAX = 10_000;
/** Tombstones examined between turns of the event loop in a purge: a page costs 1-5 ms. */
export const PURGE_PAGE_TOMBSTONES = 100;
/**
 * Purged tombstones remembered (key and dots), so that a replica that has not purged its copy
 * yet cannot hand it back (see isPurgedTombstone); past it the oldest is forgotten. Forgetting
 * one early is safe: the tombstone is only stored and purged once more.
 */
export const PURGED_REMEMBERED_MAX = 100_000;

export interface TombstonePurgeDeps {
  readonly store: ReplicaStore;
  readonly clock: Clock;
  readonly tombstoneGraceMs: number;
}

export class TombstonePurge {
  /**
   * Keys whose every version is a tombstone (the only candidates for purging, so no store scan),
   * each with when this node stored that tombstone state, on its own monotonic clock: a
   * tombstone's age is never judged by the writer's clock, which may run behind or ahead of ours,
   * nor by our wall clock, which may step back and make a tombstone look older than a sync that
   * never saw it. Kept per range (the key's home range under the current ring, recomputed at each
   * ring change), so a purge walks only its own range's; and in each range in order of that time
   * (a key noted again moves to the end, and the monotonic clock never goes back), so a purge
   * stops at the first tombstone too young to go. One entry per stored tombstone-only key: bounded
   * by the store (what this node holds), about 100 bytes each; purges shrink it.
   */
  private tombstones = new Map<NodeId, Map<string, number>>();
  /** The latest stored-at time noted: times only grow, which keeps each range's index in order. */
  private lastStoredAtMs = -Infinity;
  /** Tombstones this node purged, oldest first: their dots and when (monotonic; for PURGED_REMEMBERED_MAX). */
  private readonly purged = new Map<string, { readonly dots: ReadonlySet<string>; readonly atMs: number }>();
  purgedTotal = 0;

  constructor(private readonly deps: TombstonePurgeDeps) {}

  /** Forgets every indexed tombstone (no ring: none has a range; the next first build indexes them again). */
  clear(): void {
    this.tombstones = new Map();
  }

  /** Moves every indexed tombstone to its range under `ring`, keeping each range in time order. */
  regroup(ring: Ring): void {
    const all: Array<{ key: string; storedAtMs: number }> = [];
    for (const index of this.tombstones.values()) for (const [key, storedAtMs] of index) all.push({ key, storedAtMs });
    all.sort((a, b) => a.storedAtMs - b.storedAtMs);
    this.tombstones = new Map();
    for (const { key, storedAtMs } of all) this.indexOf(ring.homeOf(key)).set(key, storedAtMs);
  }

  /** A key was written (a new version stored): it is no longer a purged tombstone. */
  written(key: string): void {
    this.purged.delete(key);
  }

  /** Every change of a key's tombstone state (a new tombstone merged in) restarts its age. */
  note(key: string, range: NodeId, siblings: readonly Sibling[], storedAtMs: number): void {
    this.tombstones.get(range)?.delete(key);
    if (!isTombstoneOnly(siblings)) return;
    assert(storedAtMs >= this.lastStoredAtMs, 'the monotonic clock went back');
    this.lastStoredAtMs = storedAtMs;
    this.indexOf(range).set(key, storedAtMs);
  }

  /**
   * Whether `siblings` are tombstones this node already purged (all their dots among those it
   * removed): storing them again would only restart their age here. Replicas purge one after
   * another; without this, one that purged would take the tombstone back from one that has not
   * yet, as new, and the two could hand it to each other for ever. Not storing it is safe: this
   * node purged it only once every replica held it. Remembered for twice the grace period.
   */
  isPurgedTombstone(key: string, siblings: readonly Sibling[]): boolean {
    const purged = this.purged.get(key);
    if (purged === undefined) return false;
    if (purged.atMs < this.deps.clock.monotonicMs() - 2 * this.deps.tombstoneGraceMs) {
      this.purged.delete(key);
      return false;
    }
    return isTombstoneOnly(siblings) && siblings.every((s) => purged.dots.has(dotName(s)));
  }

  /**
   * Purges the tombstones of `range` stored before `horizonMs` (monotonic), at most
   * PURGE_TOMBSTONES_PER_ROUND_MAX, with a turn of the event loop every PURGE_PAGE_TOMBSTONES.
   * `stillValid` is asked after each turn: false (a ring change meanwhile) ends the walk, as the
   * horizon was judged for the old ring.
   */
  async purgeOlderThan(range: NodeId, horizonMs: number, stillValid: () => boolean): Promise<number> {
    const index = this.tombstones.get(range);
    if (index === undefined) return 0;
    let purged = 0;
    let examined = 0;
    const removals: Array<Promise<number>> = [];
    // The index is in stored-at order: the walk stops at the first tombstone too young to go.
    for (const [key, storedAtMs] of index) {
      if (storedAtMs >= horizonMs || examined >= PURGE_TOMBSTONES_PER_ROUND_MAX) break;
      examined++;
      const siblings = this.deps.store.read(key);
      if (isTombstoneOnly(siblings)) removals.push(this.purgeOne(key, siblings));
      if (examined % PURGE_PAGE_TOMBSTONES === 0) {
        for (const n of await Promise.all(removals.splice(0))) purged += n;
        await new Promise<void>((resolve) => this.deps.clock.setTimer(0, resolve));
        if (!stillValid() || this.tombstones.get(range) !== index) break;
      }
    }
    for (const n of await Promise.all(removals)) purged += n;
    return purged;
  }

  /** Removes one tombstone-only key (unless it changed meanwhile) and remembers its dots; 1 if removed. */
  private async purgeOne(key: string, siblings: readonly Sibling[]): Promise<number> {
    if (!(await this.deps.store.removeIfUnchanged(key, siblings))) return 0;
    this.purged.delete(key);
    this.purged.set(key, { dots: new Set(siblings.map(dotName)), atMs: this.deps.clock.monotonicMs() });
    if (this.purged.size > PURGED_REMEMBERED_MAX) this.purged.delete(this.purged.keys().next().value!);
    this.purgedTotal++;
    return 1;
  }

  private indexOf(range: NodeId): Map<string, number> {
    let index = this.tombstones.get(range);
    if (index === undefined) this.tombstones.set(range, (index = new Map()));
    return index;
  }
}

function dotName(s: Sibling): string {
  return `${s.dot.node}\u0000${s.dot.counter}`;
}

/** A record of tombstones only: the only records ever purged. */
export function isTombstoneOnly(siblings: readonly Sibling[]): boolean {
  return siblings.length > 0 && siblings.every((s) => s.value === null);
}
