// The chaos nemesis: a fault schedule drawn from the run's seed, and its execution against the
// real cluster. By default one fault at a time (each healed before the next, so the figures show
// what a single failed node costs); with `overlap`, faults on different nodes may run together.
// Kinds are drawn from a shuffled deck, so every allowed kind occurs before any repeats.
import { SeededRandom } from '../src/env/seeded-random.ts';
import type { ChaosCluster } from './cluster.ts';
import type { FaultKind, FaultRecord } from './history.ts';
import type { ChaosNetwork } from './network.ts';

export interface PlannedFault {
  readonly atMs: number;
  readonly untilMs: number;
  readonly kind: FaultKind;
  readonly nodes: readonly string[];
}

export interface PlanOptions {
  readonly ids: readonly string[];
  readonly durationMs: number;
  readonly kinds: readonly FaultKind[];
  readonly overlap: boolean;
  readonly random: SeededRandom;
}

/** No fault in the first seconds (the no-fault baseline) nor in the last (time to heal). */
const LEAD_IN_MS = 5_000;
const LEAD_OUT_MS = 3_000;
/** Long enough for the failure detector (about 2 s of silence) to notice, and for clients to see it. */
const FAULT_MS_MIN = 3_000;
const FAULT_MS_SPREAD = 5_000;
/** No-fault time between single faults: a restarted node catches up, and the baseline gets samples. */
const GAP_MS_MIN = 3_000;
const GAP_MS_SPREAD = 4_000;

export function planFaults(options: PlanOptions): PlannedFault[] {
  const { ids, durationMs, kinds, random } = options;
  if (kinds.length === 0) return [];
  const pick = <T>(xs: readonly T[]): T => xs[random.nextInt(xs.length)]!;
  let deck: FaultKind[] = [];
  const nextKind = (): FaultKind => {
    if (deck.length === 0) deck = [...kinds].sort(() => random.nextFloat() - 0.5);
    return deck.pop()!;
  };
  const draw = (atMs: number): PlannedFault => {
    const kind = nextKind();
    const untilMs = Math.min(atMs + FAULT_MS_MIN + random.nextInt(FAULT_MS_SPREAD), durationMs - LEAD_OUT_MS);
    const shuffled = [...ids].sort(() => random.nextFloat() - 0.5);
    return { atMs, untilMs, kind, nodes: kind === 'split' ? shuffled.slice(0, 2) : [pick(ids)] };
  };
  const plan: PlannedFault[] = [];
  const lastStartMs = durationMs - LEAD_OUT_MS - FAULT_MS_MIN;
  if (!options.overlap) {
    for (let t = LEAD_IN_MS + random.nextInt(GAP_MS_SPREAD); t <= lastStartMs; ) {
      const fault = draw(t);
      plan.push(fault);
      t = fault.untilMs + GAP_MS_MIN + random.nextInt(GAP_MS_SPREAD);
    }
    return plan;
  }
  // Overlapping: about one fault start per 4 s; a fault skips nodes already failing then.
  for (let t = LEAD_IN_MS + random.nextInt(GAP_MS_SPREAD); t <= lastStartMs; t += 1_000 + random.nextInt(6_000)) {
    const candidate = draw(t);
    const busy = new Set(plan.filter((f) => f.untilMs > t).flatMap((f) => (f.kind === 'split' ? ids : f.nodes)));
    if (candidate.kind === 'split' ? busy.size > 0 : busy.has(candidate.nodes[0]!)) continue;
    plan.push(candidate);
  }
  return plan;
}

/** Applies a fault and returns its heal; the heal resolves once the fault is fully undone. */
async function inject(fault: PlannedFault, cluster: ChaosCluster, network: ChaosNetwork): Promise<() => Promise<void>> {
  const index = (id: string) => cluster.node(id).index;
  switch (fault.kind) {
    case 'kill': {
      const id = fault.nodes[0]!;
      await cluster.kill(id);
      return () => cluster.startNode(id);
    }
    case 'wipe': {
      const id = fault.nodes[0]!;
      await cluster.wipe(id);
      // Healed once the node has recovered its ranges from the other replicas: until then it is
      // the only copy missing, and a second lost disk in that window could take a write with it
      // (W=2 promises survival of one loss, not of two before re-replication).
      return async () => {
        await cluster.startNode(id);
        await cluster.waitReady(id);
      };
    }
    case 'pause': {
      const id = fault.nodes[0]!;
      cluster.pause(id);
      return async () => cluster.resume(id);
    }
    case 'isolate': {
      const i = index(fault.nodes[0]!);
      network.cut(i, 'everyone');
      return async () => network.heal([i]);
    }
    case 'split': {
      const minority = fault.nodes.map(index);
      const majority = cluster.ids.filter((id) => !fault.nodes.includes(id)).map(index);
      for (const i of minority) network.cut(i, majority);
      for (const i of majority) network.cut(i, minority);
      // The planner never overlaps a split with another fault, so flushing every namespace is safe.
      return async () => network.heal([...minority, ...majority]);
    }
  }
}

export interface NemesisRun {
  /** Resolves when every planned fault was applied and healed. */
  readonly done: Promise<void>;
}

/**
 * Runs the plan against the cluster; `elapsedMs` is the run's clock (the history's time base)
 * and `record` receives each fault once it has healed. `stopped()` cuts waiting short.
 */
export function runNemesis(
  plan: readonly PlannedFault[],
  deps: { cluster: ChaosCluster; network: ChaosNetwork; elapsedMs: () => number; record: (f: FaultRecord) => void; log: (line: string) => void; stopped: () => boolean },
): NemesisRun {
  const { cluster, network, elapsedMs, record, log } = deps;
  const sleepUntil = async (ms: number) => {
    while (elapsedMs() < ms && !deps.stopped()) await new Promise((r) => setTimeout(r, Math.min(100, ms - elapsedMs())));
  };
  let id = 0;
  const one = async (fault: PlannedFault) => {
    await sleepUntil(fault.atMs);
    if (deps.stopped()) return;
    const faultId = id++;
    const startMs = elapsedMs();
    log(`${(startMs / 1000).toFixed(1).padStart(6)} s  fault ${faultId}: ${fault.kind} ${fault.kind === 'split' ? `[${fault.nodes.join(',')}] | rest` : fault.nodes[0]}`);
    const heal = await inject(fault, cluster, network);
    await sleepUntil(fault.untilMs);
    await heal();
    const endMs = elapsedMs();
    log(`${(endMs / 1000).toFixed(1).padStart(6)} s  healed ${faultId} (${((endMs - startMs) / 1000).toFixed(1)} s)`);
    record({ type: 'fault', id: faultId, kind: fault.kind, nodes: fault.nodes, startMs, endMs });
  };
  const overlapping = plan.some((f, i) => i > 0 && f.atMs < plan[i - 1]!.untilMs);
  const done = overlapping
    ? Promise.all(plan.map(one)).then(() => undefined)
    : plan.reduce<Promise<void>>((prev, f) => prev.then(() => one(f)), Promise.resolve());
  return { done };
}
