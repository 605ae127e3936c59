// The /proc readings the benchmark's CPU figures come from: a process's CPU over all its threads,
// and its main thread's alone (the event loop, against GC helpers and native threads like LMDB's
// writer). Runs against this test process itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { cpuMsOf, mainThreadCpuMsOf } from '../../bench/systems/processes.ts';

/** Spins the calling thread for `ms` of wall time. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe('bench /proc CPU readings', () => {
  it('count a busy main thread in both, and a busy worker thread in the process total only', async () => {
    const pid = process.pid;
    const all0 = cpuMsOf(pid)!;
    const main0 = mainThreadCpuMsOf(pid)!;
    spin(300);
    const all1 = cpuMsOf(pid)!;
    const main1 = mainThreadCpuMsOf(pid)!;
    // Ticks are 10 ms; 300 ms of spinning shows as well over 100 ms in each.
    assert.ok(main1 - main0 >= 100, `main thread moved ${main1 - main0} ms`);
    assert.ok(all1 - all0 >= main1 - main0 - 20, `process moved ${all1 - all0} ms, main thread ${main1 - main0}`);

    const worker = new Worker('const end = performance.now() + 400; while (performance.now() < end) {}', { eval: true });
    await new Promise<void>((resolve, reject) => {
      worker.once('exit', () => resolve());
      worker.once('error', reject);
    });
    const all2 = cpuMsOf(pid)!;
    const main2 = mainThreadCpuMsOf(pid)!;
    // The main thread only waited for the worker; its 400 ms ran on another thread.
    assert.ok(all2 - all1 - (main2 - main1) >= 150, `other threads moved ${all2 - all1 - (main2 - main1)} ms`);
    assert.ok(main2 - main1 < 150, `main thread moved ${main2 - main1} ms while waiting`);
  });

  it('answer undefined for a process that is gone or was never given', () => {
    // PIDs stop below 2^22 on Linux; this one does not exist.
    assert.equal(cpuMsOf(2 ** 22 + 1), undefined);
    assert.equal(mainThreadCpuMsOf(2 ** 22 + 1), undefined);
    assert.equal(mainThreadCpuMsOf(undefined), undefined);
  });
});
