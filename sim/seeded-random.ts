// SeededRandom lives in src/env/seeded-random.ts (chaos/ uses it too, and chaos imports nothing
// of sim/); re-exported here so that sim/ and its tests keep their import path.
export { SeededRandom } from '../src/env/seeded-random.ts';
