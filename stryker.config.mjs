// Mutation testing of the core folders (issue 13 section 4): `npm run mutate` mutates the core
// (ring, version, replication, membership, handoff, antientropy) and runs the fast suites that
// cover it (unit, property and simulator tests; no real processes), each test file with tsx.
// One folder at a time: `npm run mutate -- --mutate 'src/version/**/*.ts'`. Reports go to
// reports/mutation/ (not committed). Not part of CI: a full run takes an hour or more here.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  tap: {
    testFiles: [
      'test/ring/*.test.ts',
      'test/version/*.test.ts',
      'test/replication/*.test.ts',
      'test/membership/*.test.ts',
      'test/handoff/*.test.ts',
      'test/antientropy/*.test.ts',
      'test/protocol/*.test.ts',
      'test/trust/wiped-disk.test.ts',
      'test/sim/*.test.ts',
    ],
    nodeArgs: ['--import', 'tsx'],
  },
  mutate: [
    'src/ring/**/*.ts',
    'src/version/**/*.ts',
    'src/replication/**/*.ts',
    'src/membership/**/*.ts',
    'src/handoff/**/*.ts',
    'src/antientropy/**/*.ts',
  ],
  // TypeScript 7 has no JS API for Stryker's tsconfig rewriting; our tsconfig has no paths to rewrite.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  ignorePatterns: ['data', 'test-output', 'reports', 'bench/results', 'chaos/results'],
};
