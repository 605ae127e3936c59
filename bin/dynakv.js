#!/usr/bin/env node
// Entry point of the `dynakv` command: runs the built JavaScript in dist/ (`npm run build`; npm
// start and npm pack build first). A checkout's tests, benchmarks and chaos runs start the
// TypeScript sources through bin/dynakv-dev.js instead, so they never run a stale build.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('dynakv: not built (dist/cli/main.js is missing); run: npm run build');
  process.exit(1);
}
await import(main.href);
