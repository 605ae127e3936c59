// What the replicas of a key held when this node last handed them its fallback record of the
// key, or last looked: the bound that carries a fallback record's limits across splits. A
// fallback coordinator cannot see a key's replicas (they are across the split), so it bounds its
// record alone; without this, every split and heal could add a whole record's versions and bytes
// to the key at its replicas (review of 75e69cd: 64 more siblings, or 4 MiB more, per cycle, until
// the key no longer fitted a message). Only loads that matter are kept (a quarter of a bound or
// more), at most FALLBACK_LOADS_MAX, persisted in the meta space and read back at start as
// hostile input. Sans-IO: storage and clock are injected; HintDelivery measures and refreshes.
import { assert } from '../env/assert.ts';
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Storage, StorageEntry } from '../env/storage.ts';
import type { ReplicaLoad } from '../replication/coordinator.ts';
import { RECORD_BYTES_MAX } from '../version/record-codec.ts';
import { liveSiblings, type Sibling } from '../version/siblings.ts';


export const NO_LOAD: ReplicaLoad = { live: 0, versions: 0, bytes: 0 };

/**
 * Loads kept at most (about 1.6 KiB each at worst, in memory and in the meta space). Past it the
 * oldest is forgotten: that key may then take one more record's worth in a later split.
 */
export const FALLBACK_LOADS_MAX = 10_000;
/** A load is looked at again after this long (monotonic), once a replica of its key answers. */
export const FALLBACK_LOAD_REFRESH_MS = 60_000;
/** Loads looked at again per delivery round at most (each a replica_get). */
export const FALLBACK_LOAD_REFRESHES_PER_ROUND = 16;

const META_PREFIX = 'fallback-load\u0000';
/** Meta keys read per page at start. */
const START_PAGE_KEYS = 1_000;

export function loadOf(siblings: readonly Sibling[], bytes: number): ReplicaLoad {
  return { live: liveSiblings(siblings).length, versions: siblings.length, bytes };
}

/** The larger of each count: what a key's replicas hold at least. */
export function maxLoad(a: ReplicaLoad, b: ReplicaLoad): ReplicaLoad {
  return { live: Math.max(a.live, b.live), versions: Math.max(a.versions, b.versions), bytes: Math.max(a.bytes, b.bytes) };
}

export class FallbackLoads {
  /** Oldest first; `checkedMs` on the monotonic clock of this run (0 for loads read at start). */
  private readonly loads = new Map<string, { load: ReplicaLoad; checkedMs: number }>();

  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly siblingsMax: number,
  ) {}

  /** Reads the persisted loads back; a value that is not a load is reported and dropped. */
  async open(): Promise<void> {
    const bad: string[] = [];
    let start: string | undefined = META_PREFIX;
    while (start !== undefined) {
      const page: StorageEntry[] = [...this.storage.scan('meta', { start, limit: START_PAGE_KEYS + 1 })];
      start = page[START_PAGE_KEYS]?.key;
      for (const { key, value } of page.slice(0, START_PAGE_KEYS)) {
        if (!key.startsWith(META_PREFIX)) {
          start = undefined;
          break;
        }
        const load = parseLoad(value);
        if (load === undefined) bad.push(key);
        else this.loads.set(key.slice(META_PREFIX.length), { load, checkedMs: 0 });
      }
    }
    if (bad.length > 0) this.log.error({ loads: bad.length }, 'fallback loads on disk that do not parse: dropped');
    const extra = [...this.loads.keys()].slice(0, Math.max(0, this.loads.size - FALLBACK_LOADS_MAX));
    for (const key of extra) this.loads.delete(key);
    const drop = [...bad, ...extra.map((key) => META_PREFIX + key)];
    if (drop.length > 0) await this.storage.commit(drop.map((key) => ({ space: 'meta', key, value: null })));
  }

  /** What the key's replicas held when last seen; NO_LOAD when that was small or never seen. */
  get(key: string): ReplicaLoad {
    return this.loads.get(key)?.load ?? NO_LOAD;
  }

  get size(): number {
    return this.loads.size;
  }

  /**
   * Records what the key's replicas hold (durably), or forgets it when it is under a quarter of
   * every bound: a key without a load then takes at most one record more before it is seen again.
   */
  async set(key: string, load: ReplicaLoad): Promise<void> {
    assert([load.live, load.versions, load.bytes].every((n) => Number.isSafeInteger(n) && n >= 0), () => `bad load ${JSON.stringify(load)}`);
    const small = 4 * load.live < this.siblingsMax && 4 * load.versions < this.siblingsMax && 4 * load.bytes < RECORD_BYTES_MAX;
    if (small) {
      if (!this.loads.delete(key)) return;
      await this.storage.commit([{ space: 'meta', key: META_PREFIX + key, value: null }]);
      return;
    }
    this.loads.delete(key); // re-inserted last: oldest first
    this.loads.set(key, { load, checkedMs: this.clock.monotonicMs() });
    const writes = [{ space: 'meta' as const, key: META_PREFIX + key, value: Buffer.from(JSON.stringify(load), 'utf8') as Uint8Array | null }];
    while (this.loads.size > FALLBACK_LOADS_MAX) {
      const oldest = this.loads.keys().next().value!;
      this.loads.delete(oldest);
      writes.push({ space: 'meta', key: META_PREFIX + oldest, value: null });
    }
    await this.storage.commit(writes);
  }

  /** Keys whose load was last looked at FALLBACK_LOAD_REFRESH_MS ago or more, oldest first, at most `limit`. */
  due(limit: number): string[] {
    const now = this.clock.monotonicMs();
    const out: string[] = [];
    for (const [key, { checkedMs }] of this.loads) {
      if (out.length >= limit) break;
      if (checkedMs === 0 || now - checkedMs >= FALLBACK_LOAD_REFRESH_MS) out.push(key);
    }
    return out;
  }

  /** Marks a load as looked at now without changing it (its replicas did not answer). */
  touch(key: string): void {
    const entry = this.loads.get(key);
    if (entry === undefined) return;
    this.loads.delete(key);
    this.loads.set(key, { load: entry.load, checkedMs: this.clock.monotonicMs() });
  }
}

function parseLoad(bytes: Uint8Array): ReplicaLoad | undefined {
  if (bytes.length > 200) return undefined;
  let x: unknown;
  try {
    x = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof x !== 'object' || x === null) return undefined;
  const { live, versions, bytes: size } = x as Record<string, unknown>;
  const count = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  return count(live) && count(versions) && count(size) ? { live, versions, bytes: size } : undefined;
}
