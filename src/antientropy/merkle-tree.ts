// A Merkle tree over the ring's key space for anti-entropy (Dynamo 4.7). Leaves are fixed
// buckets of ring positions (the top `depth` bits of a key's MD5), so every node cuts the space
// the same way and two replicas' trees of one range compare node by node. A leaf's digest is the
// XOR of H(key, record) over its keys, so a write updates it in O(1) without storing keys; inner
// hashes are recomputed lazily, only along paths dirtied since the last read. Pure: no I/O.
import { createHash } from 'node:crypto';
import { ringPosition } from '../ring/ring.ts';

const DIGEST_BYTES = 16;
// 2^13 leaves: a range of a 5-node ring spans ~1,600 of them, so a changed key drags only a
// handful of neighbours into the bucket listing even at a million keys per node.
export const MERKLE_DEPTH_DEFAULT = 13;

function entryDigest(key: string, record: Uint8Array): Buffer {
  const valueHash = createHash('md5').update(record).digest();
  return createHash('md5').update(key, 'utf8').update(valueHash).digest();
}

export class MerkleTree {
  /** levels[l] holds 2^l digests of DIGEST_BYTES; levels[depth] are the leaves. */
  private readonly levels: Buffer[];
  private readonly dirty: Array<Set<number>>;
  private keys = 0;

  constructor(readonly depth: number = MERKLE_DEPTH_DEFAULT) {
    if (!Number.isInteger(depth) || depth < 1 || depth > 16) throw new RangeError(`Merkle depth ${depth} is outside 1..16`);
    this.levels = Array.from({ length: depth + 1 }, (_, l) => Buffer.alloc((1 << l) * DIGEST_BYTES));
    this.dirty = Array.from({ length: depth + 1 }, () => new Set<number>());
  }

  /** The leaf (bucket) of a key: the top `depth` bits of its 128-bit ring position. */
  leafOf(key: string): number {
    return Number(ringPosition(key) >> BigInt(128 - this.depth));
  }

  keyCount(): number {
    return this.keys;
  }

  /** Records that `key` changed from `before` to `after` (record bytes; undefined = absent). */
  update(key: string, before: Uint8Array | undefined, after: Uint8Array | undefined): void {
    if (before === undefined && after === undefined) return;
    const leaf = this.leafOf(key);
    const leaves = this.levels[this.depth]!;
    const offset = leaf * DIGEST_BYTES;
    for (const record of [before, after]) {
      if (record === undefined) continue;
      const d = entryDigest(key, record);
      for (let i = 0; i < DIGEST_BYTES; i++) leaves[offset + i]! ^= d[i]!;
    }
    if (before === undefined) this.keys++;
    if (after === undefined) this.keys--;
    for (let l = this.depth - 1, i = leaf >> 1; l >= 0; l--, i >>= 1) this.dirty[l]!.add(i);
  }

  root(): string {
    return this.level(0, [0])[0]!;
  }

  /** Base64 digests of the nodes at `level` (0 = root) at `indexes` (default: all of them). */
  level(level: number, indexes?: readonly number[]): string[] {
    if (!Number.isInteger(level) || level < 0 || level > this.depth) throw new RangeError(`no level ${level} in a depth-${this.depth} tree`);
    this.refresh();
    const size = 1 << level;
    const wanted = indexes ?? Array.from({ length: size }, (_, i) => i);
    const buf = this.levels[level]!;
    return wanted.map((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= size) throw new RangeError(`no node ${i} at level ${level}`);
      return buf.toString('base64', i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES);
    });
  }

  private refresh(): void {
    for (let l = this.depth - 1; l >= 0; l--) {
      const dirty = this.dirty[l]!;
      if (dirty.size === 0) continue;
      const below = this.levels[l + 1]!;
      const here = this.levels[l]!;
      for (const i of dirty) {
        const h = createHash('md5').update(below.subarray(2 * i * DIGEST_BYTES, (2 * i + 2) * DIGEST_BYTES)).digest();
        h.copy(here, i * DIGEST_BYTES);
      }
      dirty.clear();
    }
  }
}

/**
 * Finds the leaves where `local` and a remote tree differ, walking down from the root and asking
 * the remote only for the children of differing nodes: one request per level, and hashes
 * compared proportional to the difference, not to the tree.
 */
export async function diffLeaves(
  local: MerkleTree,
  remoteLevel: (level: number, indexes: number[]) => Promise<string[]>,
): Promise<{ leaves: number[]; hashesCompared: number }> {
  let frontier = [0];
  let hashesCompared = 0;
  for (let level = 0; level <= local.depth && frontier.length > 0; level++) {
    const indexes = level === 0 ? [0] : frontier.flatMap((i) => [2 * i, 2 * i + 1]);
    const remote = await remoteLevel(level, indexes);
    if (remote.length !== indexes.length) throw new Error(`remote answered ${remote.length} hashes for ${indexes.length} nodes`);
    const mine = local.level(level, indexes);
    hashesCompared += indexes.length;
    frontier = indexes.filter((_, k) => mine[k] !== remote[k]);
  }
  return { leaves: frontier, hashesCompared };
}
