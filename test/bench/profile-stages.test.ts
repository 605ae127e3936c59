// The CPU budget's stage attribution (bench/profile-analysis.ts): a synthetic V8 profile whose
// samples sit under known frames shows that each sample is charged to the first stage found from
// its own frame towards the root (a socket write under an HTTP route counts as HTTP), that V8's
// (program) and GC are their own stages, that frames of no stage are node's runtime, and that
// idle samples are left out of the busy time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestProfiles, RUNTIME_STAGE, V8_STAGE } from '../../bench/profile-analysis.ts';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });

test('each busy sample is charged to the first stage on its stack, from the leaf up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynakv-stages-'));
  try {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 6, 7, 8, 9] },
        { id: 2, callFrame: frame('(program)', '') },
        { id: 3, callFrame: frame('processTicksAndRejections', 'node:internal/process/task_queues'), children: [4] },
        { id: 4, callFrame: frame('handle', 'file:///repo/src/api/kv-routes.ts'), children: [5] },
        { id: 5, callFrame: frame('writev', '') },
        { id: 6, callFrame: frame('(garbage collector)', '') },
        { id: 7, callFrame: frame('(idle)', '') },
        { id: 8, callFrame: frame('onStreamRead', 'node:internal/stream_base_commons') },
        { id: 9, callFrame: frame('encode', 'file:///repo/src/version/context.ts'), children: [10] },
        { id: 10, callFrame: frame('pack', 'file:///repo/node_modules/msgpackr/pack.js') },
      ],
      samples: [5, 5, 2, 6, 7, 8, 10],
      timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000],
      startTime: 0,
      endTime: 7000,
    };
    const file = join(dir, 'CPU.20260101.000000.1.0.001.cpuprofile');
    writeFileSync(file, JSON.stringify(profile));
    const digest = digestProfiles([file]);
    const ms = Object.fromEntries(digest.stages.map((s) => [s.stage, s.busyMs]));
    assert.equal(digest.busyMs, 6, 'the idle sample is not busy');
    assert.equal(ms['HTTP (parse, route, answer)'], 2, 'writev under an HTTP route is HTTP');
    assert.equal(ms[V8_STAGE], 1);
    assert.equal(ms['GC'], 1);
    assert.equal(ms[RUNTIME_STAGE], 1, 'a socket read with none of our code on the stack is the runtime');
    assert.equal(ms['msgpack encode/decode'], 1, 'the leafmost matching frame wins: msgpack under the context codec is msgpack');
    assert.equal(digest.stages.reduce((sum, s) => sum + s.busyMs, 0), digest.busyMs, 'the stages add up to the busy time');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
