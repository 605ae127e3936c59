// The Merkle tree of one replicated key range for anti-entropy (Dynamo 4.7), kept up to date
// incrementally on every write and never rebuilt per sync, plus the top-down diff of two trees.
// Leaves are fixed buckets of the WHOLE ring space (top `depth` bits of a key's MD5 ring
// position), so every node cuts the space identically and two replicas' trees of one range
// compare node by node. Pure: no I/O, no clock, no randomness (node:crypto hashing only).
import { assert } from '../env/assert.ts';
import * as crypto from 'node:crypto';
import { RING_POSITION_BITS } from '../ring/ring.ts';

/** Bytes of every digest in the tree (entry, leaf and inner node): one MD5. */
export const DIGEST_BYTES = 16;

/**
 * 2^13 = 8,192 leaves over the whole ring. A range tree only uses the leaves its range covers
 * (about 1,600 for one range of a 5-node ring), and a differing key costs a listing of every key
 * in its leaf; at 100,000 keys that is ~12 keys per leaf, where depth 10 would list ~100. Each
 * extra level costs only 2 hashes per differing path and 2 x 16 bytes of memory per leaf.
 */
export const MERKLE_DEPTH_DEFAULT = 13;

/**
 * 2^16 leaves at most: the tree is 2^17 x 16 bytes = 2 MiB, and the largest level request of
 * diffLeaves (every leaf differs) is 65,536 hashes of 22 characters, ~1.5 MiB, well within a frame.
 */
export const MERKLE_DEPTH_MAX = 16;

/** A 16-byte MD5 digest; in messages and test output it travels as a `NodeHash` string. */
export type Digest = Buffer;

/**
 * A node's hash as exchanged between replicas: its 16 bytes in unpadded base64url, 22 characters
 * (hex would be 32: hashes are most of what an in-sync comparison sends, so the shorter form).
 */
export type NodeHash = string;

/**
 * MD5 of `data` (strings as UTF-8). The one-shot crypto.hash (Node >= 20.12) skips a Hash object
 * per call, which is most of the cost of hashing a short key; older Node 20s fall back.
 */
const md5: (data: string | Uint8Array) => Digest =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('md5', data, 'buffer')
    : (data) => crypto.createHash('md5').update(data).digest();

/**
 * MD5 of `data` as 16 characters of code points 0-255, one per byte ('binary' is latin1). The
 * tree's own hashes take this form: a Buffer made by node:crypto costs about three times the hash
 * of a short input (1.5 us against 0.5 us for a key, on Node 20), and the tree writes each digest
 * into its node buffer or XORs it into a leaf at once.
 */
const md5Bytes: (data: string | Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('md5', data, 'binary')
    : (data) => crypto.createHash('md5').update(data).digest('binary');

/**
 * The value hash of a record: MD5 of its canonical encoding (equal records, equal digests), for
 * comparing one key's replicas, e.g. in bucket listings. The tree hashes records itself.
 */
export function valueDigest(bytes: Uint8Array): Digest {
  return md5(bytes);
}

/**
 * Node storage is heap-ordered: node (level l, index i) is number 2^l + i, so the root is 1, the
 * children of k are 2k and 2k+1, and leaf j is 2^depth + j. One flat Buffer holds every digest.
 */
export class MerkleTree {
  readonly depth: number;
  readonly leafCount: number;
  private readonly nodes: Buffer;
  /** Per inner node: its digest is stale. A dirty node's ancestors are all dirty (see update). */
  private readonly dirty: Uint8Array;
  private readonly leafKeys: Uint32Array;
  private keys = 0;

  constructor(depth: number = MERKLE_DEPTH_DEFAULT) {
    if (!Number.isInteger(depth) || depth < 1 || depth > MERKLE_DEPTH_MAX) {
      throw new RangeError(`Merkle depth ${depth} is outside 1..${MERKLE_DEPTH_MAX}`);
    }
    this.depth = depth;
    this.leafCount = 2 ** depth;
    // An empty leaf is the XOR of no entries (all zero); inner nodes start dirty so that the
    // first read hashes them, the same way for every tree of this depth.
    this.nodes = Buffer.alloc(2 * this.leafCount * DIGEST_BYTES);
    this.dirty = new Uint8Array(this.leafCount).fill(1);
    this.dirty[0] = 0; // number 0 is unused
    this.leafKeys = new Uint32Array(this.leafCount);
  }

  /**
   * The leaf (bucket) of a key: the top `depth` bits of MD5(key), which are those of
   * ringPosition(key) except for a partitioned key (placed by its partition, leafed by itself).
   */
  leafOf(key: string): number {
    return leafOfDigest(md5Bytes(key), this.depth);
  }

  /** The leaf holding ring position `position` (0 <= position < 2^128). */
  leafOfPosition(position: bigint): number {
    if (position < 0n || position >> BigInt(RING_POSITION_BITS) !== 0n) throw new RangeError(`ring position ${position} outside [0, 2^128)`);
    return Number(position >> BigInt(RING_POSITION_BITS - this.depth));
  }

  /** Keys in the tree: inserted minus deleted. */
  keyCount(): number {
    return this.keys;
  }

  /** Keys in one leaf: what listing that bucket will cost. */
  leafKeyCount(leaf: number): number {
    this.assertIndex(this.depth, leaf);
    return this.leafKeys[leaf]!;
  }

  /**
   * Records that `key` changed from record `before` to record `after` (canonical encodings;
   * undefined = absent, so (undefined, x) inserts and (x, undefined) deletes). O(1) hashing:
   * the old entry is XORed out of the leaf and the new one in. `before` must be exactly what was
   * last recorded for the key, otherwise the tree no longer describes the store.
   */
  update(key: string, before: Uint8Array | undefined, after: Uint8Array | undefined): void {
    if (before === undefined && after === undefined) return;
    const keyDigest = md5Bytes(key);
    // By the whole key, also for a partitioned key (ring.ts placementText): a partition's keys
    // then spread over the leaves, so no one leaf (and no one bucket listing) holds a partition.
    const leaf = leafOfDigest(keyDigest, this.depth);
    assert(before === undefined || this.leafKeys[leaf] !== 0, () => `${JSON.stringify(key)} changes in empty Merkle leaf ${leaf}: the tree missed its insert`);
    const offset = (this.leafCount + leaf) * DIGEST_BYTES;
    if (before !== undefined) xorInto(this.nodes, offset, entryDigest(keyDigest, before));
    if (after !== undefined) xorInto(this.nodes, offset, entryDigest(keyDigest, after));
    const delta = (after === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
    this.leafKeys[leaf]! += delta;
    this.keys += delta;
    // Stop at the first node already dirty: its ancestors are dirty too, so a burst of writes
    // costs O(1) amortised each here and the next read pays once per dirty node.
    for (let k = (this.leafCount + leaf) >>> 1; k >= 1 && this.dirty[k] === 0; k >>>= 1) this.dirty[k] = 1;
  }

  root(): NodeHash {
    return this.level(0, [0])[0]!;
  }

  /** Hashes of the nodes at `level` (0 = root, depth = leaves) at `indexes` (default: all). */
  level(level: number, indexes?: readonly number[]): NodeHash[] {
    this.assertLevel(level);
    this.refresh(1);
    const first = 2 ** level;
    const wanted = indexes ?? Array.from({ length: first }, (_, i) => i);
    return wanted.map((i) => {
      this.assertIndex(level, i);
      return this.hashOf(first + i);
    });
  }

  /** Hashes of the two children of node `index` at `level` (< depth). */
  children(level: number, index: number): [NodeHash, NodeHash] {
    if (level >= this.depth) throw new RangeError(`level ${level} holds leaves, which have no children`);
    const [left, right] = this.level(level + 1, [2 * index, 2 * index + 1]);
    return [left!, right!];
  }

  /** Rehashes the dirty nodes under node number k, children first: O(dirty nodes). */
  private refresh(k: number): void {
    if (k >= this.leafCount || this.dirty[k] === 0) return;
    this.refresh(2 * k);
    this.refresh(2 * k + 1);
    const childrenStart = 2 * k * DIGEST_BYTES;
    writeDigest(this.nodes, k * DIGEST_BYTES, md5Bytes(this.nodes.subarray(childrenStart, childrenStart + 2 * DIGEST_BYTES)));
    this.dirty[k] = 0;
  }

  private hashOf(k: number): NodeHash {
    return this.nodes.toString('base64url', k * DIGEST_BYTES, (k + 1) * DIGEST_BYTES);
  }

  private assertLevel(level: number): void {
    if (!Number.isInteger(level) || level < 0 || level > this.depth) throw new RangeError(`no level ${level} in a depth-${this.depth} Merkle tree`);
  }

  private assertIndex(level: number, index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= 2 ** level) throw new RangeError(`no node ${index} at Merkle level ${level}`);
  }
}

/** Asks the other replica for its hashes at `level`, `indexes`, in that order (one request). */
export type RemoteLevel = (level: number, indexes: number[]) => Promise<readonly NodeHash[]>;

export interface LeafDiff {
  /** Leaves whose hashes differ, ascending: the buckets whose keys the replicas must exchange. */
  readonly leaves: number[];
  /** Hash pairs compared, i.e. remote hashes received: the cost of the comparison. */
  readonly hashesCompared: number;
}

/**
 * Finds the leaves where `local` and a remote tree of the same depth differ, walking down from
 * the root and asking the remote only for the children of nodes that differ: at most depth + 1
 * requests (one per level, batched), and about 2 x depth hashes per differing leaf; equal trees
 * cost one request and one hash. The remote answers with its own `tree.level(level, indexes)`.
 */
export async function diffLeaves(local: MerkleTree, remoteLevel: RemoteLevel): Promise<LeafDiff> {
  let differing = [0];
  let hashesCompared = 0;
  for (let level = 0; level <= local.depth && differing.length > 0; level++) {
    const indexes = level === 0 ? [0] : differing.flatMap((i) => [2 * i, 2 * i + 1]);
    const remote = await remoteLevel(level, indexes);
    // A wrong-sized answer is a peer's fault (an operating error), not a broken invariant here.
    if (remote.length !== indexes.length) throw new Error(`remote answered ${remote.length} Merkle hashes for ${indexes.length} nodes at level ${level}`);
    const mine = local.level(level, indexes);
    hashesCompared += indexes.length;
    differing = indexes.filter((_, k) => mine[k] !== remote[k]);
  }
  return { leaves: differing, hashesCompared };
}

/**
 * The top `depth` bits of a key's MD5 read big-endian ARE the top bits of ringPosition(key),
 * without a bigint; depth <= 16 keeps them inside the first 32-bit word.
 */
function leafOfDigest(keyDigest: string, depth: number): number {
  const top = ((keyDigest.charCodeAt(0) << 24) | (keyDigest.charCodeAt(1) << 16) | (keyDigest.charCodeAt(2) << 8) | keyDigest.charCodeAt(3)) >>> 0;
  return top >>> (32 - depth);
}

/**
 * Records up to this size are hashed from one reused buffer (key digest, then the record), not
 * from a new concatenation each: most records are far smaller. Larger ones are concatenated.
 */
const ENTRY_SCRATCH_BYTES_MAX = 64 * 1024;
let entryScratch = Buffer.alloc(1024);

/**
 * MD5(MD5(key) || record): the key's digest (already needed for its leaf) is fixed-length, so
 * the concatenation is unambiguous, and each entry costs one hash over the record rather than
 * two. Leaves XOR these; a key appears at most once per tree, so entries never cancel out.
 */
function entryDigest(keyDigest: string, record: Uint8Array): string {
  const length = DIGEST_BYTES + record.length;
  if (length > ENTRY_SCRATCH_BYTES_MAX) return md5Bytes(Buffer.concat([Buffer.from(keyDigest, 'latin1'), record]));
  if (entryScratch.length < length) entryScratch = Buffer.alloc(Math.min(ENTRY_SCRATCH_BYTES_MAX, 2 ** Math.ceil(Math.log2(length))));
  entryScratch.write(keyDigest, 0, DIGEST_BYTES, 'latin1');
  entryScratch.set(record, DIGEST_BYTES);
  return md5Bytes(entryScratch.subarray(0, length));
}

function xorInto(target: Buffer, offset: number, digest: string): void {
  for (let i = 0; i < DIGEST_BYTES; i++) target[offset + i]! ^= digest.charCodeAt(i);
}

function writeDigest(target: Buffer, offset: number, digest: string): void {
  for (let i = 0; i < DIGEST_BYTES; i++) target[offset + i] = digest.charCodeAt(i);
}
