// What the benchmark needs from a system under test, whatever it is: client endpoints, its
// members' processes (to read CPU and memory, and to kill one), and a way to stop everything.
// Implemented by dynakv-cluster.ts and etcd-cluster.ts; the suites only see this interface.
import type { ChildProcess } from 'node:child_process';
import type { SystemKind } from '../loadgen/protocol.ts';
import { cpuMsOf, memoryOf, type MemoryReading } from './processes.ts';

export interface Member {
  readonly id: string;
  /** Client URL (http://127.0.0.1:PORT). */
  readonly url: string;
  process?: ChildProcess;
}

export interface Cluster {
  readonly system: SystemKind;
  /** e.g. "dynakv (5 nodes)", "etcd (3 members)". */
  readonly label: string;
  readonly members: readonly Member[];
  /** Client endpoints of the members that are up at start. */
  readonly endpoints: readonly string[];
  /** SIGKILL one member (no chance to flush); resolves once it has exited. */
  kill(id: string): Promise<void>;
  /** Stops every member and removes the data directories. */
  stop(): Promise<void>;
}

/** CPU ms per member at one instant; the difference of two gives each member's CPU use. */
export function cpuSnapshot(cluster: Cluster): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of cluster.members) {
    const ms = cpuMsOf(m.process?.pid);
    if (ms !== undefined) out.set(m.id, ms);
  }
  return out;
}

export function memorySnapshot(cluster: Cluster): Record<string, MemoryReading> {
  const out: Record<string, MemoryReading> = {};
  for (const m of cluster.members) {
    const reading = memoryOf(m.process?.exitCode === null ? m.process.pid : undefined);
    if (reading !== undefined) out[m.id] = reading;
  }
  return out;
}
