// Runs the shared Storage contract against LmdbStorage in fresh temp dirs, then what only a disk
// store can show: (1) a batch whose commit() resolved survives SIGKILL of the process right after
// (child fixture in fixtures/, killed by the parent once it prints "committed"); (2) under strace,
// commit() resolves only after LMDB's fdatasync of the data file and its O_DSYNC meta-page write,
// i.e. it waits for the durable point, not mere visibility (skipped where strace cannot run).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Storage } from '../../src/env/storage.ts';
import { openLmdbStorage } from '../../src/storage/lmdb-storage.ts';
import { storageContract } from './storage-contract.ts';
import { batchForCrashTest, crashKey, crashValue, CRASH_BIG_VALUE_BYTES } from './fixtures/crash-batch.ts';

const fixture = fileURLToPath(new URL('./fixtures/commit-then-wait.ts', import.meta.url));
const childTimeoutMs = 30_000;

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dynakv-lmdb-test-'));
  tempDirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

storageContract(
  'LmdbStorage',
  async () => {
    const dir = await tempDir();
    const opened: Storage[] = [await openLmdbStorage(dir)];
    return {
      storage: opened[0]!,
      reopen: async () => {
        const again = await openLmdbStorage(dir);
        opened.push(again);
        return again;
      },
      cleanup: async () => {
        for (const storage of opened) await storage.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { persistent: true },
);

/** Spawns `command args`, resolves with the child once its stdout shows `line`. */
function spawnUntilLine(command: string, args: string[], line: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(command, args, { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not print ${line} within ${childTimeoutMs} ms; stderr: ${stderr}`));
    }, childTimeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split('\n').includes(line)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    // 'close' rather than 'exit': it comes after stdout is drained, so a last line is not missed.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code ?? signal}) before printing ${line}; stderr: ${stderr}`));
    });
  });
}

function exited(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

function killed(child: ReturnType<typeof spawn>): Promise<void> {
  const done = exited(child);
  child.kill('SIGKILL');
  return done;
}

async function assertCrashBatchPresent(dir: string, keyCount: number): Promise<void> {
  const storage = await openLmdbStorage(dir);
  try {
    assert.equal(storage.count('data'), keyCount + 1);
    for (let i = 0; i < keyCount; i++) assert.deepStrictEqual(storage.get('data', crashKey(i)), crashValue(i));
    assert.deepStrictEqual(storage.get('data', 'crash-big'), crashValue(-1, CRASH_BIG_VALUE_BYTES));
    assert.deepStrictEqual(storage.get('meta', 'crash-marker'), new TextEncoder().encode(`keys=${keyCount}`));
  } finally {
    await storage.close();
  }
}

describe('LmdbStorage on disk', () => {
  it('creates missing parent directories, also when the last segment has a dot', async () => {
    const dir = join(await tempDir(), 'a', 'b.c', 'node.lmdb');
    const storage = await openLmdbStorage(dir);
    await storage.commit([{ space: 'data', key: 'k', value: new Uint8Array([1]) }]);
    await storage.close();
    const again = await openLmdbStorage(dir);
    assert.deepStrictEqual(again.get('data', 'k'), new Uint8Array([1]));
    await again.close();
  });

  it('reports commits at or past slowCommitMs, with their size, and no others', async () => {
    const slow: Array<{ writes: number; ms: number }> = [];
    const always = await openLmdbStorage(join(await tempDir(), 'slow'), { slowCommitMs: 0, onSlowCommit: (info) => slow.push(info) });
    await always.commit([
      { space: 'data', key: 'a', value: new Uint8Array([1]) },
      { space: 'hints', key: 'b', value: new Uint8Array([2]) },
    ]);
    await always.close();
    assert.equal(slow.length, 1);
    assert.equal(slow[0]!.writes, 2);
    assert.ok(slow[0]!.ms >= 0);
    const never = await openLmdbStorage(join(await tempDir(), 'fast'), { slowCommitMs: 60_000, onSlowCommit: (info) => slow.push(info) });
    await never.commit([{ space: 'data', key: 'a', value: new Uint8Array([1]) }]);
    await never.close();
    assert.equal(slow.length, 1);
  });

  it('keeps a batch whose commit resolved when the process is SIGKILLed right after', { timeout: childTimeoutMs * 2 }, async () => {
    const dir = await tempDir();
    const keyCount = 2_000;
    assert.equal(batchForCrashTest(keyCount).length, keyCount + 2);
    const child = await spawnUntilLine(process.execPath, ['--import', 'tsx', fixture, dir, String(keyCount)], 'committed');
    await killed(child);
    assert.equal(child.signalCode, 'SIGKILL');
    await assertCrashBatchPresent(dir, keyCount);
  });

  const straceUsable = spawnSync('strace', ['-f', '-o', '/dev/null', 'true']).status === 0;
  it(
    'resolves commit() only after fdatasync of data.mdb and the O_DSYNC meta write (strace)',
    { skip: straceUsable ? false : 'strace is not available or not permitted here', timeout: childTimeoutMs * 2 },
    async () => {
      const dir = await tempDir();
      const tracePath = join(dir, 'strace.log');
      const child = await spawnUntilLine(
        'strace',
        ['-f', '-e', 'trace=openat,fdatasync,fsync,pwrite64,pwritev,write', '-o', tracePath, process.execPath, '--import', 'tsx', fixture, join(dir, 'db'), '10', 'exit'],
        'committed',
      );
      // The traced node exits by itself; strace then flushes the log and exits too.
      await exited(child);
      assert.equal(child.exitCode, 0);
      const lines = (await readFile(tracePath, 'utf8')).split('\n');
      const indexOf = (pattern: RegExp, from = 0): number => lines.findIndex((l, i) => i >= from && pattern.test(l));

      const dsyncOpen = lines.map((l) => /openat\(.*data\.mdb", [^)]*O_DSYNC[^)]*\) = (\d+)/.exec(l)).find((m) => m !== null);
      assert.ok(dsyncOpen, 'LMDB opens data.mdb a second time with O_DSYNC for meta pages');
      const dsyncFd = dsyncOpen[1];
      const dataOpens = lines.map((l) => /openat\(.*data\.mdb", O_RDWR[^)]*\) = (\d+)/.exec(l)).filter((m) => m !== null);
      const dataFd = dataOpens.at(-1)?.[1];
      assert.ok(dataFd !== undefined && dataFd !== dsyncFd);

      const begin = indexOf(/write\(1, "begin\\n"/);
      const committed = indexOf(/write\(1, "committed\\n"/);
      assert.ok(begin >= 0 && committed > begin, 'trace holds both markers in order');
      // A syscall interrupted in the log by another thread shows as "<unfinished ...>" then
      // "<... name resumed>"; either way its completion line carries the "= result".
      const synced = indexOf(new RegExp(`fdatasync\\(${dataFd}\\) += 0|fdatasync resumed>.*= 0`), begin);
      const metaWritten = indexOf(new RegExp(`pwrite64\\(${dsyncFd}, .*\\) += \\d+$`), synced);
      assert.ok(synced > begin && synced < committed, `fdatasync(${dataFd}) completes before "committed"`);
      assert.ok(metaWritten > synced && metaWritten < committed, `meta page written via O_DSYNC fd ${dsyncFd} before "committed"`);
    },
  );
});
