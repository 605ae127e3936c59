// After the final heal: waits (polling, up to a deadline) until no node holds hints and the
// replicas of every written key store identical versions (compared through /local/kv on each
// node of the key's preference list), then reads every key at R=N through the cluster client.
// What it gathers is the checker's FinalState; it judges nothing itself.
import type { SiblingView } from '../src/api/views.ts';
import { ClusterClient } from '../src/client/cluster-client.ts';
import { DynakvClient, type ClientCredentials } from '../src/client/http-client.ts';
import { Ring } from '../src/ring/ring.ts';
import type { FinalState, ReplicaView } from './checker.ts';

const N = 3;
const POLL_MS = 1_000;
const FINAL_READ_TRIES = 3;
/** Keys compared or read at once: thousands of keys one by one would take minutes. */
const CONCURRENCY = 16;

/** Runs `task` over every item with at most CONCURRENCY in flight; results in input order. */
async function mapConcurrently<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await task(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return results;
}

/** A replica's stored versions in a canonical form: equal strings mean equal states. */
export function canonicalState(siblings: readonly SiblingView[]): string {
  const sorted = [...siblings].sort((a, b) => a.dot.node.localeCompare(b.dot.node) || a.dot.counter - b.dot.counter);
  return JSON.stringify(sorted.map((s) => [s.dot.node, s.dot.counter, Object.entries(s.clock).sort(), s.deleted, s.value, s.contentType]));
}

async function replicaViews(key: string, ring: Ring, clients: ReadonlyMap<string, DynakvClient>): Promise<ReplicaView[]> {
  return Promise.all(
    ring.preferenceList(key, N).map(async (node): Promise<ReplicaView> => {
      try {
        const local = await clients.get(node)!.local(key);
        return { node, state: local === undefined ? '' : canonicalState(local.siblings) };
      } catch {
        return { node, state: undefined };
      }
    }),
  );
}

async function hintsHeld(clients: ReadonlyMap<string, DynakvClient>): Promise<number> {
  let total = 0;
  for (const c of clients.values()) {
    const stats = (await c.stats()) as { hints?: Record<string, number> };
    total += Object.values(stats.hints ?? {}).reduce((a, b) => a + b, 0);
  }
  return total;
}

export interface Convergence {
  readonly replicas: Map<string, ReplicaView[]>;
  /** How long after the heal the cluster converged; undefined when the deadline passed first. */
  readonly convergedAfterMs: number | undefined;
}

export async function awaitConvergence(endpoints: ReadonlyMap<string, string>, keys: readonly string[], deadlineMs: number, log: (line: string) => void, credentials?: ClientCredentials): Promise<Convergence> {
  const clients = new Map([...endpoints].map(([id, url]) => [id, new DynakvClient(url, { timeoutMs: 5_000, ...(credentials !== undefined ? { credentials } : {}) })]));
  const ring = Ring.of(endpoints.keys());
  const started = performance.now();
  let lastLogMs = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    let hints = -1;
    try {
      hints = await hintsHeld(clients);
    } catch {
      // a node not answering yet: not converged
    }
    const views = await mapConcurrently(keys, (key) => replicaViews(key, ring, clients));
    const replicas = new Map(keys.map((key, i) => [key, views[i]!]));
    const diverged = [...replicas.values()].filter((views) => views.some((v) => v.state === undefined || v.state !== views[0]!.state)).length;
    if (hints === 0 && diverged === 0) return { replicas, convergedAfterMs: elapsed };
    if (elapsed > deadlineMs) return { replicas, convergedAfterMs: undefined };
    if (elapsed - lastLogMs > 10_000) {
      log(`  waiting for convergence: ${hints < 0 ? 'hints unknown' : `${hints} hints held`}, ${diverged} of ${keys.length} keys differ (${(elapsed / 1000).toFixed(0)} s)`);
      lastLogMs = elapsed;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Reads every key at R=N; a key whose read fails FINAL_READ_TRIES times maps to undefined. */
export async function finalReads(endpoints: ReadonlyMap<string, string>, keys: readonly string[], credentials?: ClientCredentials): Promise<Map<string, string[] | undefined>> {
  const client = new ClusterClient([...endpoints.values()], { timeoutMs: 10_000, ...(credentials !== undefined ? { credentials } : {}) });
  const values = await mapConcurrently(keys, async (key) => {
    for (let i = 0; i < FINAL_READ_TRIES; i++) {
      try {
        const read = await client.get(key, { r: N });
        return read.found ? read.siblings.map((s) => s.value.toString('utf8')) : [];
      } catch {
        // tried again
      }
    }
    return undefined;
  });
  return new Map(keys.map((key, i) => [key, values[i]]));
}

export async function gatherFinalState(endpoints: ReadonlyMap<string, string>, keys: readonly string[], deadlineMs: number, log: (line: string) => void, credentials?: ClientCredentials): Promise<FinalState & Convergence> {
  const convergence = await awaitConvergence(endpoints, keys, deadlineMs, log, credentials);
  return { ...convergence, reads: await finalReads(endpoints, keys, credentials) };
}
