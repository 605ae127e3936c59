// A crashed or SIGKILLed chaos run cannot clean up after itself, so every run records what it
// started (runner pid, cluster name, node pids, data directory) in one state file, and the next
// run removes what a dead runner left behind: node processes (by pid, and only if their command
// line still names that run's cluster), the data directory, and dkv- namespaces and links.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeNetnsLeftovers } from './network.ts';

const STATE_FILE = join(tmpdir(), 'dkv-chaos-run.json');

export interface RunState {
  readonly runnerPid: number;
  readonly cluster: string;
  readonly dataRoot: string;
  readonly nodePids: readonly number[];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

export function recordRunState(state: RunState): void {
  writeFileSync(STATE_FILE, JSON.stringify(state));
}

export function forgetRunState(): void {
  rmSync(STATE_FILE, { force: true });
}

/** At the end of this run (any end, even mid-start): removes its recorded data directory and the state. */
export function removeOwnRun(): void {
  try {
    const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as RunState;
    if (state.runnerPid === process.pid) rmSync(state.dataRoot, { recursive: true, force: true });
    else return;
  } catch {
    // nothing recorded
  }
  forgetRunState();
}

/** Removes what a previous, dead run left; refuses (throws) while another run is alive. Returns what was removed. */
export function removeLeftovers(netns: boolean): string[] {
  const removed: string[] = [];
  let state: RunState | undefined;
  try {
    state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as RunState;
  } catch {
    state = undefined;
  }
  if (state !== undefined) {
    if (state.runnerPid !== process.pid && isAlive(state.runnerPid) && commandLineOf(state.runnerPid).includes('chaos')) {
      throw new Error(`another chaos run is in progress (pid ${state.runnerPid}); wait for it or stop it first`);
    }
    for (const pid of state.nodePids) {
      if (isAlive(pid) && commandLineOf(pid).includes(state.cluster)) {
        process.kill(pid, 'SIGKILL');
        removed.push(`node process ${pid}`);
      }
    }
    rmSync(state.dataRoot, { recursive: true, force: true });
    removed.push(`data ${state.dataRoot}`);
    forgetRunState();
  }
  if (netns) removed.push(...removeNetnsLeftovers());
  return removed;
}
