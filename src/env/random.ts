// The injected source of randomness. Core modules never call Math.random, so that a seeded
// simulation replays exactly. Production: src/env/real-random.ts. Simulation: src/env/seeded-random.ts.

export interface Random {
  /** A float uniformly distributed in [0, 1). */
  nextFloat(): number;
  /** An integer uniformly distributed in [0, maxExclusive); maxExclusive must be a positive integer. */
  nextInt(maxExclusive: number): number;
}
