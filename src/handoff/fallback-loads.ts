// What the replicas of a key held when this node last handed them its fallback record of the
// key, or last looked: the bound that carries a fallback record's limits across splits. A
// fallback coordinator cannot see a key's replicas (they are across the split), so it bounds its
// record alone; without this, every split and heal could add a whole record's versions and bytes
// to the key at its replicas (reviews of 75e69cd and 80ae66e: 64 more siblings, or 4 MiB more, per
// cycle, until the key no longer fitted a message). A delivered record is added to the load (its
// blind versions sit beside what was there); a measurement of the replicas (counts, no values)
// replaces it, and forgets it once small. Beside it, this node's own charges since the key was
// last measured small (`unmeasured`): a node's additions stay within its share of a bound, so all
// nodes' together stay within one bound of the last small measurement (reviews of 4151fc6 and
// 5c9828d: fallback nodes taking turns faster than a refresh each added a whole bound). Never evicted: at FALLBACK_LOADS_MAX
// (loads plus fallback records not yet delivered) no new record starts (review of 4151fc6:
// evicting the oldest let a client flush out a key's load with filler keys). Persisted in the
// meta space and read back at start as hostile input. Sans-IO: storage and clock are injected; HintDelivery
// charges, measures and refreshes.
import { assert } from '../env/assert.ts';
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { Storage, StorageEntry } from '../env/storage.ts';
import type { ReplicaLoad } from '../replication/coordinator.ts';
import { LOAD_COUNT_MAX } from '../protocol/messages.ts';
import { RECORD_BYTES_MAX } from '../version/record-codec.ts';
import { liveSiblings, type Sibling } from '../version/siblings.ts';


export const NO_LOAD: ReplicaLoad = { live: 0, versions: 0, bytes: 0 };

/**
 * Loads and undelivered fallback records together at most (about 1.6 KiB each at worst, in memory
 * and in the meta space): past it, no new fallback record starts until measurements forget some
 * (a key measured small is forgotten). Loads are never evicted: a forgotten load would let its
 * key take another record's worth.
 */
export const FALLBACK_LOADS_MAX = 10_000;
/** Loads read back at start at most, from a meta space that may have been tampered with. */
const LOADS_READ_MAX = 2 * FALLBACK_LOADS_MAX;
/** A load is looked at again this long after it changed (monotonic), once a replica answers... */
export const FALLBACK_LOAD_REFRESH_MS = 60_000;
/** ...and, while it does not change, twice as long each time, up to this. */
export const FALLBACK_LOAD_REFRESH_MS_MAX = 60 * 60_000;
/** Loads looked at again per delivery round at most (each a replica_load per replica: counts, no values). */
export const FALLBACK_LOAD_REFRESHES_PER_ROUND = 16;

const META_PREFIX = 'fallback-load\u0000';
/** Meta keys read per page at start. */
const START_PAGE_KEYS = 1_000;

export function loadOf(siblings: readonly Sibling[], bytes: number): ReplicaLoad {
  return { live: liveSiblings(siblings).length, versions: siblings.length, bytes };
}

/** Both loads together (each count at most LOAD_COUNT_MAX): what replicas hold when one record's versions were added beside another's. */
export function sumLoad(a: ReplicaLoad, b: ReplicaLoad): ReplicaLoad {
  const add = (x: number, y: number) => Math.min(LOAD_COUNT_MAX, x + y);
  return { live: add(a.live, b.live), versions: add(a.versions, b.versions), bytes: add(a.bytes, b.bytes) };
}

/** The larger of each count. */
export function maxLoad(a: ReplicaLoad, b: ReplicaLoad): ReplicaLoad {
  return { live: Math.max(a.live, b.live), versions: Math.max(a.versions, b.versions), bytes: Math.max(a.bytes, b.bytes) };
}

interface Entry {
  readonly load: ReplicaLoad;
  /** This node's charges since the key was last measured small (some of them part of `load`). */
  readonly unmeasured: ReplicaLoad;
  /** Bumped by every charge: a measurement started before it is stale and is not taken. */
  readonly generation: number;
  /** When to look again (monotonic; 0 for loads read at start), and the wait that led there. */
  readonly dueMs: number;
  readonly waitMs: number;
}

export class FallbackLoads {
  /** Oldest first. */
  private readonly loads = new Map<string, Entry>();
  private generations = 0;

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
        const parsed = parseEntry(value);
        if (parsed === undefined || this.loads.size >= LOADS_READ_MAX) bad.push(key);
        else this.loads.set(key.slice(META_PREFIX.length), { ...parsed, generation: ++this.generations, dueMs: 0, waitMs: FALLBACK_LOAD_REFRESH_MS });
      }
    }
    if (bad.length > 0) {
      this.log.error({ loads: bad.length }, `fallback loads on disk that do not parse, or past ${LOADS_READ_MAX}: dropped`);
      await this.storage.commit(bad.map((key) => ({ space: 'meta', key, value: null })));
    }
  }

  /** What the key's replicas held at most when last seen; NO_LOAD when nothing is known to be there. */
  get(key: string): ReplicaLoad {
    return this.loads.get(key)?.load ?? NO_LOAD;
  }

  /** This node's own charges to the key since it was last measured small. */
  unmeasured(key: string): ReplicaLoad {
    return this.loads.get(key)?.unmeasured ?? NO_LOAD;
  }

  /** Whether a new fallback record may start, with `records` not yet delivered (see FALLBACK_LOADS_MAX). */
  roomFor(records: number): boolean {
    return this.loads.size + records < FALLBACK_LOADS_MAX;
  }

  get size(): number {
    return this.loads.size;
  }

  /**
   * Adds a record just handed to every replica of the key to what they held (durably): its blind
   * versions sit beside those, so the sum bounds what they hold now. Kept whatever its size,
   * until a measurement replaces it.
   */
  async charge(key: string, record: ReplicaLoad): Promise<void> {
    await this.put(key, sumLoad(this.get(key), record), sumLoad(this.unmeasured(key), record), FALLBACK_LOAD_REFRESH_MS);
  }

  /** The key's generation, for a measurement about to start (see measured). */
  generationOf(key: string): number | undefined {
    return this.loads.get(key)?.generation;
  }

  /**
   * Takes what the replicas were measured to hold, the most of those that answered, unless the
   * key was charged since the measurement started (it is then stale: the charge stands). Below a
   * quarter of every bound it is forgotten: the next record may then add one record's worth.
   */
  async measured(key: string, generation: number, load: ReplicaLoad): Promise<void> {
    const entry = this.loads.get(key);
    if (entry === undefined || entry.generation !== generation) return;
    const small = 4 * load.live < this.siblingsMax && 4 * load.versions < this.siblingsMax && 4 * load.bytes < RECORD_BYTES_MAX;
    if (small) {
      this.loads.delete(key);
      await this.storage.commit([{ space: 'meta', key: META_PREFIX + key, value: null }]);
      return;
    }
    const same = load.live === entry.load.live && load.versions === entry.load.versions && load.bytes === entry.load.bytes;
    // `unmeasured` stays: another node's record may not have reached the replicas yet, so the
    // measurement does not show it, and this node's share must not start again beside it
    // (review of 5c9828d: 80 siblings). Only a small measurement clears it, above.
    await this.put(key, load, entry.unmeasured, same ? Math.min(2 * entry.waitMs, FALLBACK_LOAD_REFRESH_MS_MAX) : FALLBACK_LOAD_REFRESH_MS);
  }

  /** Keys whose load is due for a look, least recently changed first, at most `limit`. */
  due(limit: number): string[] {
    const now = this.clock.monotonicMs();
    const out: string[] = [];
    for (const [key, { dueMs }] of this.loads) {
      if (out.length >= limit) break;
      if (dueMs <= now) out.push(key);
    }
    return out;
  }

  /** Puts a load off for its wait again, unchanged (no replica answered). */
  postpone(key: string): void {
    const entry = this.loads.get(key);
    if (entry === undefined) return;
    this.loads.delete(key);
    this.loads.set(key, { ...entry, dueMs: this.clock.monotonicMs() + entry.waitMs });
  }

  private async put(key: string, load: ReplicaLoad, unmeasured: ReplicaLoad, waitMs: number): Promise<void> {
    assert([load, unmeasured].every((l) => isLoad(l)), () => `bad load ${JSON.stringify({ load, unmeasured })}`);
    this.loads.delete(key); // re-inserted last: least recently changed first
    this.loads.set(key, { load, unmeasured, generation: ++this.generations, dueMs: this.clock.monotonicMs() + waitMs, waitMs });
    await this.storage.commit([{ space: 'meta', key: META_PREFIX + key, value: Buffer.from(JSON.stringify({ ...load, unmeasured }), 'utf8') }]);
  }
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= LOAD_COUNT_MAX;
}

function isLoad(x: unknown): x is ReplicaLoad {
  if (typeof x !== 'object' || x === null) return false;
  const { live, versions, bytes } = x as Record<string, unknown>;
  return isCount(live) && isCount(versions) && isCount(bytes);
}

function parseEntry(bytes: Uint8Array): { load: ReplicaLoad; unmeasured: ReplicaLoad } | undefined {
  if (bytes.length > 400) return undefined;
  let x: unknown;
  try {
    x = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isLoad(x)) return undefined;
  const load = { live: x.live, versions: x.versions, bytes: x.bytes };
  const { unmeasured } = x as { unmeasured?: unknown };
  if (!isLoad(unmeasured)) return undefined;
  return { load, unmeasured: { live: unmeasured.live, versions: unmeasured.versions, bytes: unmeasured.bytes } };
}
