// What the benchmark needs from a system under test, whatever it is: client endpoints, its
// members' processes (to read CPU and memory, and to kill one), and a way to stop everything.
// Implemented by dynakv-cluster.ts and etcd-cluster.ts; the suites only see this interface.
import type { ChildProcess } from 'node:child_process';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ClientTls, SystemKind } from '../loadgen/protocol.ts';
import { cpuMsOf, mainThreadCpuMsOf, memoryOf, type MemoryReading } from './processes.ts';

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
  /** HTTPS endpoints: the CA to check them and the client certificate to present (PEM). */
  readonly tls?: ClientTls;
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

/**
 * Main-thread CPU ms of every live member so far (see mainThreadCpuMsOf); dynakv only, empty for
 * others: a Go server like etcd runs its work on goroutines over all its threads, so its main
 * thread says nothing.
 */
export function mainThreadCpuSnapshot(cluster: Cluster): Map<string, number> {
  const out = new Map<string, number>();
  if (cluster.system !== 'dynakv') return out;
  for (const m of cluster.members) {
    const ms = mainThreadCpuMsOf(m.process?.pid);
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

/** What a suite calls to talk to a cluster's HTTP endpoints directly (WHATWG fetch). */
export type ClusterFetch = (url: string, init?: { method?: string; signal?: AbortSignal; body?: string; headers?: Record<string, string> }) => Promise<Response>;

/**
 * fetch() for a cluster's endpoints: global fetch for plain HTTP; undici's with the cluster's CA
 * and client certificate for HTTPS (global fetch cannot take a CA).
 */
export function fetchFor(target: { readonly tls?: ClientTls }): ClusterFetch {
  const tls = target.tls;
  if (tls === undefined) return (url, init) => fetch(url, init);
  const dispatcher = new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } });
  return (url, init) => undiciFetch(url, { ...init, dispatcher }) as unknown as Promise<Response>;
}
