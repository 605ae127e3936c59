// Production randomness: Math.random is fine for jitter and peer choice (nothing here is a secret).
import type { Random } from './random.ts';

export const realRandom: Random = {
  nextFloat: () => Math.random(),
  nextInt: (maxExclusive: number) => Math.floor(Math.random() * maxExclusive),
};
