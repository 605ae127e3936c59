// The child processes a launcher started, tracked so that this process never leaves one behind:
// a node still running after its launcher ended would hold its ports and its data directory.
// The first tracked child installs an 'exit' hook that SIGKILLs every tracked child still
// running; callers that handle signals (bench, chaos) call killTrackedNow from their handlers.
// Also stopping one child gracefully or not. Knows nothing of dynakv nodes.
import type { ChildProcess } from 'node:child_process';

const tracked = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Registers a child so that it is killed (SIGKILL) if this process exits before it does. */
export function track(child: ChildProcess): ChildProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killTrackedNow);
  }
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

/** Whether the child was started and has neither exited nor been killed by a signal. */
export function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** SIGKILLs every tracked child still running; synchronous, so it works in an 'exit' handler. */
export function killTrackedNow(): void {
  for (const child of tracked) {
    if (!isRunning(child)) continue;
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  tracked.clear();
}

/**
 * Stops a child: `signal` (SIGTERM by default), then SIGKILL if it has not exited after graceMs.
 * A stopped (SIGSTOPped) child is continued too, or it could not act on the signal. Resolves once
 * it has exited.
 */
export function stopChild(child: ChildProcess | undefined, graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill(signal);
    if (signal !== 'SIGKILL') child.kill('SIGCONT');
  });
}

/** SIGKILL (no chance to flush or close; a SIGSTOPped process dies too); resolves once it has exited. */
export function killChild(child: ChildProcess | undefined): Promise<void> {
  return stopChild(child, 0, 'SIGKILL');
}
