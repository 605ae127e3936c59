// Every temporary directory the benchmark creates goes through here, and its exit handlers, so
// that any exit (normal end, error, Ctrl-C, SIGTERM) kills every process it started (tracked by
// src/launch/children.ts) and removes the directories. Also the helpers that read a process's
// CPU, memory and I/O from /proc. Owns no cluster logic.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTrackedNow } from '../../src/launch/children.ts';

const tempDirs = new Set<string>();
let handlersInstalled = false;

/** A fresh directory under the OS temp dir (same disk as the work tree here), removed at exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dynakv-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Extra node flags from an environment variable (space-separated, e.g. "--trace-gc"); [] if unset. */
export function nodeFlagsFromEnv(name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter((flag) => flag !== '');
}

/** Kills every tracked process still running and removes every temp dir; synchronous, so it works in 'exit'. */
export function cleanupNow(): void {
  killTrackedNow();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupNow);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every process it started...\n`);
      cleanupNow();
      process.exit(code);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    cleanupNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });
}

// ---- /proc readings (Linux) ----

const CLOCK_TICKS_PER_S = 100; // getconf CLK_TCK on Linux x86-64

/** User + system CPU time of a process (all its threads) in ms, or undefined once it is gone. */
export function cpuMsOf(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : statCpuMs(`/proc/${pid}/stat`);
}

/**
 * User + system CPU time of a process's main thread alone in ms (for Node: the event loop and
 * all JavaScript; the rest is GC helpers, libuv's pool and native threads such as LMDB's writer,
 * whose fsyncs a main-thread profile never sees), or undefined once it is gone.
 */
export function mainThreadCpuMsOf(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuMs(path: string): number | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Busy CPU ms of the whole machine (all cores), to tell how much load came from elsewhere. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLOCK_TICKS_PER_S;
}

export interface MemoryReading {
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

export function memoryOf(pid: number | undefined): MemoryReading | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

export interface IoReading {
  /** Bytes read through read()-like calls, sockets included (LMDB reads through mmap are not). */
  readonly rchar: number;
  readonly wchar: number;
}

export function ioOf(pid: number | undefined): IoReading | undefined {
  if (pid === undefined) return undefined;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    return { rchar: field('rchar'), wchar: field('wchar') };
  } catch {
    return undefined;
  }
}
