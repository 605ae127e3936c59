// One deterministic simulation run: a 5-node cluster, a nemesis schedule and a workload of
// concurrent clients (read-modify-write set adds as Jepsen ran on Riak, blind puts, and deletes
// with context), all from one seed; then a final heal, a quiet period, and the invariant checks.
// The same seed produces the identical trace (its hash is part of the result).
import { Ring } from '../src/ring/ring.ts';
import { decodeRecord } from '../src/version/record-codec.ts';
import { distinctValues, joinClocks, siblingsEqual, type Sibling } from '../src/version/siblings.ts';
import { descends, type VClock } from '../src/version/vclock.ts';
import { describeFault, planFaults, type Profile, type ScheduledFault } from './nemesis.ts';
import { SimCluster } from './sim-cluster.ts';

export interface SimulationOptions {
  readonly seed: number;
  readonly profile: Profile;
  readonly durationMs?: number;
  readonly clients?: number;
  readonly defect?: 'ignore-context';
}

export interface Violation {
  readonly invariant: string;
  readonly detail: string;
  /** The key the violation is about, when there is one; its trace is in `keyTraces`. */
  readonly key?: string;
}

export interface SimulationResult {
  readonly seed: number;
  readonly profile: Profile;
  readonly ops: number;
  readonly opsOk: number;
  readonly faults: number;
  readonly simulatedMs: number;
  readonly violations: readonly Violation[];
  readonly traceHash: string;
  readonly events: readonly string[];
  /** For each key named by a violation: every operation on it and every replica commit of it. */
  readonly keyTraces: ReadonlyMap<string, readonly string[]>;
}

const SET_KEYS = 8;
const QUIET_MS = 60_000;

function elementsOf(siblings: readonly Sibling[]): Set<string> {
  const out = new Set<string>();
  for (const s of distinctValues(siblings)) for (const e of JSON.parse(Buffer.from(s.value!).toString()) as string[]) out.add(e);
  return out;
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const durationMs = options.durationMs ?? 30_000;
  const cluster = await SimCluster.start({ seed: options.seed, config: { requestTimeoutMs: 500, antiEntropyIntervalMs: 2_000 } });
  const { scheduler, random } = cluster;
  const violations: Violation[] = [];
  const events: string[] = [];
  const log = (line: string) => events.push(`${scheduler.nowMs.toFixed(0).padStart(6)} ${line}`);
  // Per-key history, kept for every key and reported only for keys a violation names.
  const keyHistory = new Map<string, string[]>();
  const trace = (key: string, line: string) => {
    let lines = keyHistory.get(key);
    if (lines === undefined) keyHistory.set(key, (lines = []));
    lines.push(`${scheduler.nowMs.toFixed(0).padStart(6)} ${line}`);
  };
  const watchClocks = (id: string) => {
    cluster.node(id).store.observe((key, before, after) => {
      trace(key, `${id} commit ${after === undefined ? 'removed' : describeSiblings(decodeRecord(after))}`);
      if (before === undefined || after === undefined) return;
      if (!descends(joinClocks(decodeRecord(after)), joinClocks(decodeRecord(before)))) {
        violations.push({ invariant: 'clock-monotonic', detail: `${id}: the clock of ${key} went backwards`, key });
      }
    });
  };
  for (const id of cluster.ids) watchClocks(id);

  // --- nemesis -------------------------------------------------------------------------------
  const plan = planFaults(options.profile, cluster.ids, durationMs, random.fork());
  const crashed = new Set<string>();
  const heals: Array<() => void> = [];
  for (const f of plan) {
    scheduler.schedule(f.atMs, () => void startFault(f));
  }
  async function startFault(s: ScheduledFault): Promise<void> {
    const f = s.fault;
    log(`fault: ${describeFault(f)} until ${s.untilMs}`);
    let heal: () => void | Promise<void>;
    switch (f.kind) {
      case 'crash':
        if (crashed.has(f.node)) return;
        crashed.add(f.node);
        await cluster.crashNode(f.node);
        heal = async () => {
          await cluster.startNode(f.node);
          watchClocks(f.node);
          crashed.delete(f.node);
        };
        break;
      case 'pause':
      case 'isolate':
        heal = cluster.network.isolate(f.node);
        break;
      case 'one-way':
        heal = cluster.network.addDropRule((from, to) => from === f.from && to === f.to);
        break;
      case 'split': {
        const side = new Set(f.minority);
        heal = cluster.network.addDropRule((from, to) => side.has(from) !== side.has(to));
        break;
      }
      case 'remove': {
        // Through a running node, as an operator would; refused changes (fewer than N left,
        // already removed) are simply not made.
        const via = cluster.ids.find((id) => id !== f.node && cluster.nodes.has(id));
        if (via === undefined) return;
        const record = cluster.node(via).membership.record(f.node);
        try {
          cluster.node(via).membership.removeMember(f.node);
        } catch (err) {
          log(`remove ${f.node} refused: ${(err as Error).message}`);
          return;
        }
        heal = () => {
          // Through a member: a removed node's own changes do not spread (peers merge only members' gossip).
          const by = cluster.ids.find((id) => id !== f.node && cluster.nodes.has(id) && cluster.node(id).membership.record(f.node)?.status === 'removed');
          if (by === undefined || record === undefined) return;
          try {
            cluster.node(by).membership.addMember(f.node, record.peer, record.http);
          } catch (err) {
            log(`re-add ${f.node} refused: ${(err as Error).message}`);
          }
        };
        break;
      }
      case 'loss':
        cluster.network.lossRate = f.rate;
        cluster.network.duplicateRate = f.duplicateRate;
        heal = () => {
          cluster.network.lossRate = 0;
          cluster.network.duplicateRate = 0;
        };
        break;
    }
    let healed = false;
    const doHeal = async () => {
      if (healed) return;
      healed = true;
      log(`heal: ${describeFault(f)}`);
      await heal();
    };
    heals.push(() => void doHeal());
    scheduler.schedule(s.untilMs - scheduler.nowMs, () => void doHeal());
  }

  // --- workload ------------------------------------------------------------------------------
  const ackedAdds = new Map<string, Set<string>>();
  const deletedKeys: string[] = [];
  let ops = 0;
  let opsOk = 0;
  const liveNode = () => cluster.nodes.get(cluster.ids[random.nextInt(cluster.ids.length)]!);
  async function client(c: number): Promise<void> {
    let n = 0;
    while (scheduler.nowMs < durationMs) {
      const node = liveNode();
      const via = node?.config.id ?? 'none';
      n++;
      ops++;
      const roll = random.nextFloat();
      // Every call is traced on its key at invocation and completion, with its outcome.
      const get = async (key: string, what: string) => {
        trace(key, `c${c} ${what} via ${via}: invoke get`);
        try {
          const read = await node!.coordinator.get(key);
          trace(key, `c${c} ${what} via ${via}: ok ${describeSiblings(read.siblings)}`);
          return read;
        } catch (err) {
          trace(key, `c${c} ${what} via ${via}: failed ${(err as Error).message}`);
          throw err;
        }
      };
      const put = async (key: string, what: string, value: Buffer | null, contentType: string, context: VClock) => {
        trace(key, `c${c} ${what} via ${via}: invoke put ${value === null ? 'delete' : value.toString()} context=${describeClock(context)}`);
        try {
          await node!.coordinator.put({ key, value, contentType, context });
          trace(key, `c${c} ${what} via ${via}: ok`);
        } catch (err) {
          trace(key, `c${c} ${what} via ${via}: failed ${(err as Error).message}`);
          throw err;
        }
      };
      try {
        if (node === undefined) throw new Error('connection refused');
        if (roll < 0.7) {
          const key = `set-${random.nextInt(SET_KEYS)}`;
          const element = `c${c}-${n}`;
          const read = await get(key, `add ${element}`);
          const elements = elementsOf(read.siblings);
          elements.add(element);
          const context = options.defect === 'ignore-context' ? [] : joinClocks(read.siblings);
          await put(key, `add ${element}`, Buffer.from(JSON.stringify([...elements].sort())), 'application/json', context);
          let acked = ackedAdds.get(key);
          if (acked === undefined) ackedAdds.set(key, (acked = new Set()));
          acked.add(element);
        } else if (roll < 0.85) {
          await put(`blind-${random.nextInt(20)}`, 'blind', Buffer.from(`b${c}-${n}`), 'text/plain', []);
        } else {
          const key = `del-${c}-${n}`;
          await put(key, 'create', Buffer.from('doomed'), 'text/plain', []);
          const read = await get(key, 'delete');
          const context = options.defect === 'ignore-context' ? [] : joinClocks(read.siblings);
          await put(key, 'delete', null, '', context);
          // Only a delete whose read saw the value claims to remove it: under a sloppy quorum a
          // read may miss a just-acknowledged write (R+W>N holds only among the same replicas).
          if (distinctValues(read.siblings).length > 0) deletedKeys.push(key);
        }
        opsOk++;
      } catch {
        // failed or unknown outcome: nothing is claimed about it
      }
      await new Promise<void>((r) => scheduler.schedule(10 + random.nextInt(90), r));
    }
  }
  const clients = Array.from({ length: options.clients ?? 6 }, (_, c) => client(c));
  await scheduler.complete(Promise.all(clients), durationMs + 600_000);

  // --- final heal and quiet period ----------------------------------------------------------
  for (const heal of heals) heal();
  await scheduler.runUntil(scheduler.nowMs + 10);
  for (const id of cluster.ids) if (!cluster.nodes.has(id)) await cluster.startNode(id);
  log('final heal');
  await scheduler.runUntil(scheduler.nowMs + QUIET_MS);

  // --- invariants ----------------------------------------------------------------------------
  const ring = Ring.of(cluster.ids);
  for (const [key, acked] of ackedAdds) {
    const read = await scheduler.complete(cluster.node('n1').coordinator.get(key, 3));
    const present = elementsOf(read.siblings);
    const lost = [...acked].filter((e) => !present.has(e));
    if (lost.length > 0) violations.push({ invariant: 'no-lost-writes', key, detail: `${key}: acknowledged adds missing: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ` (+${lost.length - 5})` : ''}` });
  }
  for (const key of deletedKeys) {
    const read = await scheduler.complete(cluster.node('n2').coordinator.get(key, 3));
    if (distinctValues(read.siblings).length > 0) violations.push({ invariant: 'no-resurrection', key, detail: `${key} was deleted with its context and came back` });
  }
  const allKeys = new Set<string>();
  for (const id of cluster.ids) for (const k of cluster.node(id).store.keys(undefined, 1_000_000)) allKeys.add(k);
  for (const key of allKeys) {
    const replicas = ring.preferenceList(key, 3).map((id) => cluster.node(id).store.read(key));
    if (!replicas.every((r) => r.length === replicas[0]!.length && siblingsEqual(r, replicas[0]!))) {
      violations.push({ invariant: 'convergence', key, detail: `${key}: replicas ${ring.preferenceList(key, 3).join(',')} differ` });
    }
    for (const id of cluster.ids) {
      if (!ring.preferenceList(key, 3).includes(id) && cluster.node(id).store.read(key).length > 0) {
        violations.push({ invariant: 'placement', key, detail: `${key} is stored on ${id}, outside its preference list` });
      }
    }
  }
  const tables = cluster.ids.map((id) => JSON.stringify(cluster.node(id).membership.table().map((r) => [r.id, r.status, r.version])));
  if (!tables.every((t) => t === tables[0])) violations.push({ invariant: 'membership-convergence', detail: `tables differ: ${[...new Set(tables)].join(' vs ')}` });

  for (const id of cluster.ids) cluster.node(id).stop();
  return {
    seed: options.seed,
    profile: options.profile,
    ops,
    opsOk,
    faults: plan.length,
    simulatedMs: scheduler.nowMs,
    violations,
    traceHash: cluster.traceHash(),
    events,
    keyTraces: new Map(violations.flatMap((v) => (v.key === undefined ? [] : [[v.key, keyHistory.get(v.key) ?? []] as const]))),
  };
}

function describeClock(clock: VClock): string {
  return `{${clock.map((e) => `${e.node}:${e.counter}`).join(',')}}`;
}

/** One line per key state: each sibling as dot, value (or tombstone) and context. */
function describeSiblings(siblings: readonly Sibling[]): string {
  if (siblings.length === 0) return '(none)';
  return siblings
    .map((s) => `${s.dot.node}:${s.dot.counter}=${s.value === null ? 'tombstone' : Buffer.from(s.value).toString()} ctx${describeClock(s.context)}`)
    .join(' | ');
}
