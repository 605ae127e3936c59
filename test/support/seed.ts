// One seed per test run for randomised tests: from DYNAKV_SEED when set (to replay a failure),
// else fresh. Printed once, so every failing run can be reproduced.

let printed = false;

export function testSeed(): number {
  const fromEnv = process.env.DYNAKV_SEED;
  const seed = fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  if (!printed) {
    console.log(`random seed: ${seed} (rerun with DYNAKV_SEED=${seed})`);
    printed = true;
  }
  return seed;
}
