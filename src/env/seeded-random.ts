// Seeded randomness (sfc32, seeded through splitmix32): fast, small state, and the same sequence
// for the same seed on every machine. The simulator's Random, and what chaos draws its fault
// plan, workload and hostile requests from, so a seed replays a run's schedule. No I/O.
import type { Random } from './random.ts';

export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  nextInt(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1) throw new RangeError(`nextInt(${maxExclusive})`);
    return Math.floor(this.nextFloat() * maxExclusive);
  }

  /** An independent stream derived from this one (e.g. one per node), stable for the seed. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }
}
