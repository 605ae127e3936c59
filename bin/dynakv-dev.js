#!/usr/bin/env node
// The `dynakv` command from the TypeScript sources, through tsx (a dev dependency): what a
// checkout's tests, benchmarks and chaos runs start, so they run the code as it is now, not the
// last build. Not in the published package; bin/dynakv.js runs the built code.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
