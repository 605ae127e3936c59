// Partitioning (Dynamo paper section 4.2, simplified to one position per physical node): where a
// node and a key sit on the MD5 ring, a key's home node, and its preference list of N replicas.
// Pure: no I/O, no clock, no randomness; same ids in any order give the same ring. It must not
// learn about liveness: skipping down nodes (sloppy quorum) is the caller's business.
import { assert } from '../env/assert.ts';
import { hash } from 'node:crypto';
import type { NodeId } from '../env/transport.ts';

export type { NodeId };

/** Ring positions are 128-bit: the whole MD5 digest, so no two ids share a position in practice. */
export const RING_POSITION_BITS = 128;
const positionLimit = 1n << BigInt(RING_POSITION_BITS);
const positionHexDigits = RING_POSITION_BITS / 4;

/**
 * Keys that start with PARTITIONED_KEY_PREFIX and hold a PARTITION_END are placed by their
 * partition: the text before the first PARTITION_END. Every key of one partition then has one
 * position, one preference list and one Merkle leaf, so a range read of the partition asks one
 * set of replicas (the DynamoDB API's items: src/dynamo/item-keys.ts). Client keys of /kv never
 * start with the prefix (src/api/kv-routes.ts refuses them).
 */
export const PARTITIONED_KEY_PREFIX = '\u0000';
export const PARTITION_END = '\u0001';

/** The text a key is placed by: its partition for a partitioned key, else the key itself. */
export function placementText(key: string): string {
  if (key.charCodeAt(0) !== 0) return key;
  const end = key.indexOf(PARTITION_END, 1);
  return end === -1 ? key : key.slice(0, end);
}

/** MD5 of the UTF-8 bytes of `text`, read as an unsigned big-endian 128-bit integer. */
export function md5Position(text: string): bigint {
  return BigInt('0x' + hash('md5', text, 'hex'));
}

/** Where a key (or a node id) sits on the ring: md5Position of its placement text. */
export function ringPosition(key: string): bigint {
  return md5Position(placementText(key));
}

/** `p` as exactly 32 lowercase hex digits, the form shown in the API and CLI. */
export function positionHex(p: bigint): string {
  assertPosition(p);
  return p.toString(16).padStart(positionHexDigits, '0');
}

export interface RingNode {
  readonly id: NodeId;
  readonly position: bigint;
}

/**
 * The keys a node is home for: positions in [start, end), where start is the node's position and
 * end the next node's. The highest node's range runs past the top of the ring back to the lowest
 * node (`wraps`: [start, 2^128) plus [0, end)); with one node, start == end and it is everything.
 */
export interface HomeRange {
  readonly node: NodeId;
  readonly position: bigint;
  readonly start: bigint;
  readonly end: bigint;
  readonly wraps: boolean;
  /** The preference list of every key in the range: `node` then its successors. */
  readonly replicas: readonly NodeId[];
}

/** Whether position `p` lies in `range`. */
export function homeRangeContains(range: HomeRange, p: bigint): boolean {
  return range.wraps ? p >= range.start || p < range.end : p >= range.start && p < range.end;
}

export class Ring {
  /** Ascending by position, ties by id, so that every index below is deterministic. */
  readonly nodes: readonly RingNode[];
  private readonly indexById: ReadonlyMap<NodeId, number>;

  private constructor(nodes: readonly RingNode[]) {
    if (nodes.length === 0) throw new Error('a ring needs at least one node');
    const sorted = [...nodes].sort(compareNodes);
    const indexById = new Map<NodeId, number>();
    sorted.forEach((node, i) => {
      assertPosition(node.position);
      if (indexById.has(node.id)) throw new Error(`duplicate node id in ring: ${JSON.stringify(node.id)}`);
      indexById.set(node.id, i);
    });
    this.nodes = Object.freeze(sorted.map((n) => Object.freeze({ id: n.id, position: n.position })));
    this.indexById = indexById;
  }

  /** The ring of these nodes, each at ringPosition(id). Throws on an empty list or a duplicate id. */
  static of(ids: Iterable<NodeId>): Ring {
    return new Ring([...ids].map((id) => ({ id, position: ringPosition(id) })));
  }

  /** A ring with chosen positions, for tests and simulations (e.g. to force ties). */
  static withPositions(nodes: Iterable<RingNode>): Ring {
    return new Ring([...nodes]);
  }

  get size(): number {
    return this.nodes.length;
  }

  has(id: NodeId): boolean {
    return this.indexById.has(id);
  }

  homeOf(key: string): NodeId {
    return this.homeOfPosition(ringPosition(key));
  }

  /** The node with the greatest position <= p; below every node, the highest node (wrap-around). */
  homeOfPosition(p: bigint): NodeId {
    return this.nodeAt(this.homeIndex(p)).id;
  }

  /** The key's home node and its next n-1 successors clockwise; all nodes once if fewer than n. */
  preferenceList(key: string, n: number): NodeId[] {
    return this.preferenceListOfPosition(ringPosition(key), n);
  }

  preferenceListOfPosition(p: bigint, n: number): NodeId[] {
    assertCount(n, 1, 'n');
    return this.walk(this.homeIndex(p), Math.min(n, this.size), 1);
  }

  /** The next `count` distinct nodes clockwise after `id`, nearest first, never `id` itself. */
  successors(id: NodeId, count: number): NodeId[] {
    assertCount(count, 0, 'count');
    return this.walk(this.indexOf(id), Math.min(count, this.size - 1) + 1, 1).slice(1);
  }

  /** The previous `count` distinct nodes counter-clockwise before `id`, nearest first. */
  predecessors(id: NodeId, count: number): NodeId[] {
    assertCount(count, 0, 'count');
    return this.walk(this.indexOf(id), Math.min(count, this.size - 1) + 1, -1).slice(1);
  }

  /** One range per node, in ring order; together they cover every position exactly once. */
  homeRanges(n: number): HomeRange[] {
    assertCount(n, 1, 'n');
    const replicaCount = Math.min(n, this.size);
    return this.nodes.map((node, i) => {
      const wraps = i === this.size - 1;
      return {
        node: node.id,
        position: node.position,
        start: node.position,
        end: this.nodeAt(wraps ? 0 : i + 1).position,
        wraps,
        replicas: this.walk(i, replicaCount, 1),
      };
    });
  }

  /** The ranges whose replicas include `id`: what it must hold, e.g. to resync after recovery. */
  rangesReplicatedBy(id: NodeId, n: number): HomeRange[] {
    return this.homeRanges(n).filter((r) => r.replicas.includes(id));
  }

  private homeIndex(p: bigint): number {
    assertPosition(p);
    // Binary search for the last node with position <= p; -1 means p is below every node.
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.nodeAt(mid).position <= p) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? this.size - 1 : lo - 1;
  }

  private walk(startIndex: number, count: number, step: 1 | -1): NodeId[] {
    const ids: NodeId[] = [];
    for (let k = 0; k < count; k++) {
      ids.push(this.nodeAt((((startIndex + step * k) % this.size) + this.size) % this.size).id);
    }
    return ids;
  }

  private indexOf(id: NodeId): number {
    const i = this.indexById.get(id);
    if (i === undefined) throw new Error(`node ${JSON.stringify(id)} is not in the ring`);
    return i;
  }

  private nodeAt(i: number): RingNode {
    const node = this.nodes[i];
    assert(node !== undefined, () => `ring index ${i} out of range 0..${this.size - 1}`);
    return node;
  }
}

function compareNodes(a: RingNode, b: RingNode): number {
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function assertPosition(p: bigint): void {
  assert(p >= 0n && p < positionLimit, () => `ring position ${p} outside [0, 2^128)`);
}

function assertCount(value: number, min: number, name: string): void {
  assert(Number.isSafeInteger(value) && value >= min, () => `${name} must be an integer >= ${min}, got ${value}`);
}
