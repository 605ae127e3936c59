// The chaos workload: concurrent clients, each with its own cluster-aware client over every node,
// doing the set-add read-modify-write of sim/simulation.ts (read, merge the siblings' elements,
// add a unique element, write back with the read's context) and blind puts, and recording every
// operation in the history. Set keys rotate every KEY_LIFE_MS so values stay small in long runs.
// Each blind put writes a fresh key: blind writes to one key pile up as siblings (by design, up
// to siblingsMax), and a fresh key makes "an acknowledged put is readable" an exact check.
import { ClusterClient, NoNodeAnswered, type Attempt } from '../src/client/cluster-client.ts';
import type { ClientCredentials } from '../src/client/http-client.ts';
import { ClientError } from '../src/client/http-client.ts';
import { SeededRandom } from '../src/env/seeded-random.ts';
import type { AttemptRecord, OpKind, OpOutcome, OpRecord } from './history.ts';

const SET_KEYS = 8;
const KEY_LIFE_MS = 20_000;
/** Share of operations that are set adds; the rest are blind puts. */
const ADD_SHARE = 0.8;
/** Pause between a client's operations (uniform up to this): keeps 2 shared cores from saturating. */
const THINK_MS_MAX = 20;

export interface WorkloadOptions {
  readonly clients: number;
  /** ring: every client sends to the key's replicas; round-robin: to any node, which forwards writes; mixed: odd clients ring. */
  readonly routing: 'ring' | 'round-robin' | 'mixed';
  readonly durationMs: number;
  /** Node id → base URL. */
  readonly endpoints: ReadonlyMap<string, string>;
  /** Per attempt; above the store's own worst case (a forwarded write: 2 x 2 s) so a live coordinator is never abandoned. */
  readonly attemptTimeoutMs: number;
  readonly random: SeededRandom;
  readonly elapsedMs: () => number;
  readonly record: (op: OpRecord) => void;
  /** The cluster's CA and a client credential (secure clusters). */
  readonly credentials?: ClientCredentials;
}

/** The elements of every sibling of a set value, merged: the "merge siblings" step of the RMW. */
export function mergeElements(values: readonly Buffer[]): Set<string> {
  const out = new Set<string>();
  for (const v of values) for (const e of JSON.parse(v.toString('utf8')) as string[]) out.add(e);
  return out;
}

export async function runWorkload(options: WorkloadOptions): Promise<void> {
  const urls = [...options.endpoints.values()];
  const nodeOf = new Map([...options.endpoints].map(([id, url]) => [url, id]));
  let nextOpId = 0;
  const client = async (c: number, random: SeededRandom) => {
    const toRecord = (a: Attempt): AttemptRecord => ({ node: nodeOf.get(a.endpoint) ?? a.endpoint, startMs: a.startMs - startEpochMs, endMs: a.endMs - startEpochMs, outcome: a.outcome, ...(a.status !== undefined ? { status: a.status } : {}) });
    // Rotated so the clients' first choices spread over the nodes.
    const rotated = [...urls.slice(c % urls.length), ...urls.slice(0, c % urls.length)];
    const routing = options.routing === 'mixed' ? (c % 2 === 1 ? 'ring' : 'round-robin') : options.routing;
    const cluster = new ClusterClient(rotated, { timeoutMs: options.attemptTimeoutMs, hedge: 'all', nowMs: () => startEpochMs + options.elapsedMs(), routing, ...(options.credentials !== undefined ? { credentials: options.credentials } : {}) });
    for (let n = 0; options.elapsedMs() < options.durationMs; n++) {
      // This operation's own attempts: each call reports to it, so an attempt a hedge overtook,
      // which ends after the operation did, never lands in a later operation's record. Attempts
      // still running when the operation is recorded are left out of it (it is written then).
      const attempts: AttemptRecord[] = [];
      let recorded = false;
      const onAttempt = (a: Attempt) => {
        if (!recorded) attempts.push(toRecord(a));
      };
      const invokeMs = options.elapsedMs();
      const kind: OpKind = random.nextFloat() < ADD_SHARE ? 'add' : 'put';
      const value = `c${c}-${n}`;
      const key = kind === 'add' ? `set-${Math.floor(invokeMs / KEY_LIFE_MS)}-${random.nextInt(SET_KEYS)}` : `put-${value}`;
      let outcome: OpOutcome = 'ok';
      let error: string | undefined;
      try {
        if (kind === 'add') {
          const read = await cluster.get(key, { onAttempt });
          const elements = read.found ? mergeElements(read.siblings.map((s) => s.value)) : new Set<string>();
          elements.add(value);
          await cluster.put(key, JSON.stringify([...elements].sort()), { context: read.context, contentType: 'application/json', onAttempt });
        } else {
          await cluster.put(key, value, { contentType: 'text/plain', onAttempt });
        }
      } catch (err) {
        outcome = err instanceof NoNodeAnswered && err.attempts.some((a) => a.outcome === 'timeout') ? 'timeout' : 'fail';
        error = err instanceof ClientError || err instanceof NoNodeAnswered ? err.message : String(err);
      }
      recorded = true;
      options.record({ type: 'op', id: nextOpId++, client: c, kind, key, value, invokeMs, completeMs: options.elapsedMs(), outcome, ...(error !== undefined ? { error } : {}), attempts });
      await new Promise((r) => setTimeout(r, random.nextInt(THINK_MS_MAX + 1)));
    }
  };
  const startEpochMs = Date.now() - options.elapsedMs();
  await Promise.all(Array.from({ length: options.clients }, (_, c) => client(c, options.random.fork())));
}
