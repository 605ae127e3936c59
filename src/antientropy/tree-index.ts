// The Merkle trees of anti-entropy (Dynamo 4.7): one per key range this node replicates under
// the current ring, kept equal to the store by every committed write, and beside each tree an
// index of its keys by leaf, so that listing a bucket costs the bucket, not the store. A ring
// change builds them again from the store in pages (REBUILD_PAGE_KEYS), yielding a turn of the
// event loop between pages: a big store never stalls the node's requests. Until a build ends the
// trees are not answered or compared (ready()). Sans-IO: the store and clock are injected.
import type { Clock } from '../env/clock.ts';
import type { Log } from '../env/log.ts';
import type { NodeId } from '../env/transport.ts';
import type { ReplicaStore } from '../replication/replica-store.ts';
import { placementText, ringPosition, type Ring } from '../ring/ring.ts';
import type { Sibling } from '../version/siblings.ts';
import { MerkleTree } from './merkle-tree.ts';

/**
 * Keys a build reads between two turns of the event loop (each costs a read and two MD5s, a few
 * microseconds: a page is a few milliseconds). The first page is read at once, so a small store
 * is indexed before rebuild() returns.
 */
export const REBUILD_PAGE_KEYS = 1_000;

/**
 * One range's tree and its keys by leaf. The index holds each stored key of the range once:
 * bounded by the store (what this node holds), some 100 bytes per key in memory (100 MB at a
 * million keys), the price of bucket listings that cost the bucket.
 */
interface RangeTree {
  readonly tree: MerkleTree;
  readonly keysByLeaf: Map<number, Set<string>>;
}

/** What a build visits when it reads a key for the first time (the first build's tombstone index). */
export type FirstVisit = (key: string, range: NodeId, siblings: readonly Sibling[], atMs: number) => void;

export interface TreeIndexDeps {
  readonly self: NodeId;
  readonly n: number;
  readonly store: ReplicaStore;
  readonly clock: Clock;
  readonly log: Log;
  /**
   * The trees stopped describing the store (a record found corrupt after it was indexed): the
   * caller builds them again. Until then exchanges may move a few keys more than needed.
   */
  readonly onDrift: () => void;
}

export class TreeIndex {
  private ringNow: Ring | undefined;
  private trees = new Map<NodeId, RangeTree>();
  private generation = 0;
  /** The build running, if any: resolves when the trees describe the store again. */
  private building: Promise<void> | undefined;
  /** The running build reads records fully (validated) and shows each to this visitor. */
  private visitor: FirstVisit | undefined;

  constructor(private readonly deps: TreeIndexDeps) {}

  get ring(): Ring | undefined {
    return this.ringNow;
  }

  /** A first build runs: it shows each record it reads to its visitor (see rebuild). */
  get visiting(): boolean {
    return this.building !== undefined && this.visitor !== undefined;
  }

  /** Whether the trees describe the store (no build running). */
  get isReady(): boolean {
    return this.building === undefined;
  }

  /** Resolves once no build is running (at once if none is). */
  async ready(): Promise<void> {
    while (this.building !== undefined) await this.building;
  }

  /** The tree of `range`, if this node replicates it (undefined while a build runs). */
  tree(range: NodeId): MerkleTree | undefined {
    return this.building === undefined ? this.trees.get(range)?.tree : undefined;
  }

  /** Keys of `range` stored here in these leaves (the index: no store scan). */
  bucket(range: NodeId, leaves: readonly number[]): string[] {
    const entry = this.trees.get(range);
    if (entry === undefined) return [];
    const out: string[] = [];
    for (const leaf of new Set(leaves)) for (const key of entry.keysByLeaf.get(leaf) ?? []) out.push(key);
    return out;
  }

  /**
   * Starts building the trees for `ring` from the store (a newer call replaces a running build);
   * resolves true when it read the whole store, false if a newer build replaced it first.
   * `firstVisit`: read every record fully and show it (the first build).
   */
  rebuild(ring: Ring | undefined, firstVisit?: FirstVisit): Promise<boolean> {
    const generation = ++this.generation;
    this.ringNow = ring;
    this.trees = new Map();
    this.visitor = firstVisit;
    if (ring === undefined) {
      this.building = undefined;
      return Promise.resolve(true);
    }
    for (const range of ring.rangesReplicatedBy(this.deps.self, this.deps.n)) this.trees.set(range.node, { tree: new MerkleTree(), keysByLeaf: new Map() });
    const done = this.walk(ring, generation).then(
      () => {
        if (this.generation !== generation) return false;
        this.building = undefined;
        this.visitor = undefined;
        return true;
      },
      (err: unknown) => {
        // A store that cannot be read (or a broken invariant): no tree is answered or compared
        // until the next build, rather than trees that do not describe the store.
        if (this.generation === generation) {
          this.trees = new Map();
          this.building = undefined;
          this.visitor = undefined;
        }
        throw err;
      },
    );
    this.building = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /**
   * A committed write changed `key` from `before` to `after` (encoded bytes). Returns the key's
   * range under the current ring, and whether the trees took the change: not when a build has
   * not read the key yet (it reads the committed bytes when it gets there).
   */
  apply(key: string, before: Uint8Array | undefined, after: Uint8Array | undefined): { readonly range: NodeId; readonly applied: boolean } | undefined {
    const ring = this.ringNow;
    if (ring === undefined) return undefined;
    // One MD5 for both the range and the leaf: this runs on every committed write.
    const position = ringPosition(key);
    const range = ring.homeOfPosition(position);
    const entry = this.trees.get(range);
    if (entry === undefined) return { range, applied: true };
    const leaf = leafOfKey(entry.tree, key, position);
    const keys = entry.keysByLeaf.get(leaf);
    const indexed = keys?.has(key) === true;
    // A key with a committed record that the index lacks has not been read by the build yet: it
    // will read what is committed then. Outside a build every stored key is indexed.
    if (before !== undefined && !indexed) {
      // A delete still committing is already gone from the store's key listing (LMDB), so a
      // build may have passed it by: the tree lacks it, as it should after the delete.
      if (after === undefined) return { range, applied: true };
      if (this.building === undefined) this.drifted(key, range, 'changed, but not in the index');
      return { range, applied: false };
    }
    if (before === undefined && indexed) {
      // The tree holds bytes for it that the store no longer owns up to (a record found corrupt
      // since it was indexed reads as absent): what to XOR out is unknown.
      this.drifted(key, range, 'inserted, but already in the index');
      return { range, applied: false };
    }
    entry.tree.update(key, before, after);
    if (after === undefined) {
      keys?.delete(key);
      if (keys?.size === 0) entry.keysByLeaf.delete(leaf);
    } else if (!indexed) this.insertKey(entry, leaf, key);
    return { range, applied: true };
  }

  /** Times the index found it no longer matched the store (see apply), since start. */
  driftCount = 0;

  private drifted(key: string, range: NodeId, what: string): void {
    this.driftCount++;
    this.deps.log.warn({ key, range, drifts: this.driftCount }, `Merkle index: ${what}; building the trees again`);
    this.deps.onDrift();
  }

  private insertKey(entry: RangeTree, leaf: number, key: string): void {
    let keys = entry.keysByLeaf.get(leaf);
    if (keys === undefined) entry.keysByLeaf.set(leaf, (keys = new Set()));
    keys.add(key);
  }

  /** Reads the store in pages for `ring`; stops at once if a newer build started. */
  private async walk(ring: Ring, generation: number): Promise<void> {
    const { store, clock } = this.deps;
    let start: string | undefined;
    for (let first = true; ; first = false) {
      if (!first) {
        await new Promise<void>((resolve) => clock.setTimer(0, resolve));
        if (this.generation !== generation) return;
      }
      // One key past the page tells where the next page starts (scan starts are inclusive).
      const page = store.keys(start, REBUILD_PAGE_KEYS + 1);
      const atMs = clock.monotonicMs();
      for (const key of page.slice(0, REBUILD_PAGE_KEYS)) this.readKey(ring, key, atMs);
      start = page[REBUILD_PAGE_KEYS];
      if (start === undefined) return;
    }
  }

  private readKey(ring: Ring, key: string, atMs: number): void {
    const position = ringPosition(key);
    const range = ring.homeOfPosition(position);
    const entry = this.trees.get(range);
    if (entry === undefined) return;
    const leaf = leafOfKey(entry.tree, key, position);
    // A write committed since the build started inserted it already (see apply).
    if (entry.keysByLeaf.get(leaf)?.has(key) === true) return;
    // Committed bytes only: a write still pending reaches the tree through apply(), whose
    // `before` must be exactly what the tree holds. The first build checks every record (a
    // corrupt one is reported and left out, as the store counts it absent).
    const record = this.visitor === undefined ? undefined : this.deps.store.load(key);
    const bytes = this.visitor === undefined ? this.deps.store.committedBytes(key) : record?.bytes;
    if (bytes === undefined) return;
    entry.tree.update(key, undefined, bytes);
    this.insertKey(entry, leaf, key);
    if (record !== undefined) this.visitor?.(key, range, record.siblings, atMs);
  }
}

/**
 * The Merkle leaf the tree files `key` under (MerkleTree.leafOf): from its ring position when the
 * key is placed by itself (no second MD5), from the whole key when it is placed by its partition.
 */
function leafOfKey(tree: MerkleTree, key: string, position: bigint): number {
  return placementText(key) === key ? tree.leafOfPosition(position) : tree.leafOf(key);
}
