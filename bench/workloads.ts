// YCSB core workloads for the benchmark (A, B, C and the write-only W), the scrambled zipfian key
// chooser YCSB uses by default, a seeded PRNG and key naming. Pure: no I/O, no clocks, so the
// load generator and the orchestrator agree on keys and proportions from a seed alone.
// After Cooper et al., "Benchmarking Cloud Serving Systems with YCSB" (SoCC 2010), section 4.

export type WorkloadName = 'A' | 'B' | 'C' | 'W';
export type OpKind = 'read' | 'update';
export const OP_KINDS: readonly OpKind[] = ['read', 'update'];

export interface Workload {
  readonly name: WorkloadName;
  readonly description: string;
  /** Fraction of operations that are reads; the rest are updates (overwrites of loaded keys). */
  readonly readProportion: number;
}

export const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = {
  A: { name: 'A', description: 'update heavy: 50% read, 50% update', readProportion: 0.5 },
  B: { name: 'B', description: 'read mostly: 95% read, 5% update', readProportion: 0.95 },
  C: { name: 'C', description: 'read only', readProportion: 1 },
  W: { name: 'W', description: 'write only: 100% update', readProportion: 0 },
};

export function isWorkloadName(text: string): text is WorkloadName {
  return text === 'A' || text === 'B' || text === 'C' || text === 'W';
}

/** YCSB's key naming ("user" + number); the same key string goes to every system. */
export function keyName(index: number): string {
  return `user${index}`;
}

/** mulberry32: tiny, fast, seedable; good enough to pick keys and operations (not crypto). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** YCSB's default skew: a handful of keys take most of the traffic. */
export const ZIPFIAN_CONSTANT = 0.99;

/**
 * YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic databases")
 * over ranks 0..items-1, then scrambled through a seeded permutation so that the popular keys are
 * spread over the key space instead of being user0, user1, ... (YCSB scrambles with an FNV hash;
 * a permutation does the same without collisions).
 */
export class ScrambledZipfian {
  private readonly zetan: number;
  private readonly alpha: number;
  private readonly eta: number;
  private readonly half: number;
  private readonly permutation: Uint32Array;

  constructor(
    readonly items: number,
    permutationSeed: number,
    private readonly theta: number = ZIPFIAN_CONSTANT,
  ) {
    if (!Number.isInteger(items) || items < 2) throw new RangeError(`zipfian needs at least 2 items, got ${items}`);
    let zetan = 0;
    for (let i = 1; i <= items; i++) zetan += 1 / Math.pow(i, theta);
    const zeta2 = 1 + 1 / Math.pow(2, theta);
    this.zetan = zetan;
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / items, 1 - theta)) / (1 - zeta2 / zetan);
    this.half = 1 + Math.pow(0.5, theta);
    this.permutation = new Uint32Array(items);
    for (let i = 0; i < items; i++) this.permutation[i] = i;
    const random = seededRandom(permutationSeed);
    for (let i = items - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = this.permutation[i]!;
      this.permutation[i] = this.permutation[j]!;
      this.permutation[j] = t;
    }
  }

  /** The zipfian rank (0 = most popular) for a uniform draw u in [0, 1). */
  rank(u: number): number {
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < this.half) return 1;
    return Math.min(this.items - 1, Math.floor(this.items * Math.pow(this.eta * u - this.eta + 1, this.alpha)));
  }

  /** A key index in 0..items-1, popular ones more often. */
  next(random: () => number): number {
    return this.permutation[this.rank(random())]!;
  }

  /** Share of all draws that the `top` most popular keys receive (for the report). */
  topShare(top: number): number {
    let sum = 0;
    for (let i = 1; i <= Math.min(top, this.items); i++) sum += 1 / Math.pow(i, this.theta);
    return sum / this.zetan;
  }
}
