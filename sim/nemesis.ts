// The fault schedule of one simulation, generated from its seed. Two profiles: `seed-rules`
// (the seed's restrictions: at most one node failing at a time, every node comes back) and
// `harsh` (overlapping faults: crashes, pauses, one-way and 2/3 partitions, loss and duplication
// bursts, failing and slow disks, mid-run clock steps). Both also draw disk loss (a restart with
// an empty store, with or without an operator remove/re-add around it), operator removals that
// are not undone and race detector flaps, hostile peers, and a node whose clock is minutes off
// for the whole run. Each fault has a start and an end in virtual time; everything but a final
// removal and the whole-run skew heals before the end.
import type { SeededRandom } from './seeded-random.ts';

export type Profile = 'seed-rules' | 'harsh';

/** Who a hostile peer is: no certificate at all, or a certified (buggy or hostile) endpoint. */
export type HostileSender = 'unauthenticated' | 'certified';

export type Fault =
  | { readonly kind: 'crash'; readonly node: string }
  | { readonly kind: 'pause'; readonly node: string }
  | { readonly kind: 'isolate'; readonly node: string }
  | { readonly kind: 'one-way'; readonly from: string; readonly to: string }
  | { readonly kind: 'split'; readonly minority: readonly string[] }
  /**
   * Messages are lost at `rate`, requests delivered twice at `duplicateRate`, and answered
   * replies dropped at `replyDropRate` (the replica's handler ran, the requester gets
   * REPLY_DROPPED: TcpTransport's answer when a link is full of replies not yet taken).
   */
  | { readonly kind: 'loss'; readonly rate: number; readonly duplicateRate: number; readonly replyDropRate: number }
  /** An operator removes the node from the ring, and adds it back when the fault heals. */
  | { readonly kind: 'remove'; readonly node: string }
  /**
   * The node's disk is lost: it crashes, and restarts with an empty store under the same id when
   * the fault heals. With `readd`, an operator removes it first and adds it back before the restart.
   */
  | { readonly kind: 'wipe'; readonly node: string; readonly readd: boolean }
  /** A fraction of the node's commits fail (fsync errors). */
  | { readonly kind: 'disk-errors'; readonly node: string; readonly rate: number }
  /** Every commit of the node fails (no space left). */
  | { readonly kind: 'disk-full'; readonly node: string }
  /** The node's commits take `slowMs` longer. */
  | { readonly kind: 'slow-disk'; readonly node: string; readonly slowMs: number }
  /**
   * An operator removes the node for good (never re-added) through `via`, while the detectors of
   * `flapFrom` lose it for `flapMs` starting `flapLeadMs` before the removal (down, then up
   * again, and the node refuting its down); with `removerCut`, `via` and `flapFrom` cannot talk
   * meanwhile either, so the removal and the flap race. The removal must survive all of it.
   */
  | {
      readonly kind: 'remove-final';
      readonly node: string;
      readonly via: string;
      readonly flapFrom: readonly string[];
      readonly flapLeadMs: number;
      readonly flapMs: number;
      readonly removerCut: boolean;
    }
  /** The node's wall clock steps by `skewMs` (minutes) until the fault heals. */
  | { readonly kind: 'skew'; readonly node: string; readonly skewMs: number }
  /** A hostile or buggy peer sends `requests` malformed or forged requests to `target`. */
  | { readonly kind: 'hostile-peer'; readonly sender: HostileSender; readonly target: string; readonly requests: number };

export interface ScheduledFault {
  readonly atMs: number;
  readonly untilMs: number;
  readonly fault: Fault;
}

export interface FaultPlan {
  readonly faults: ScheduledFault[];
  /** One node's wall clock is this far off for the whole run (minutes), or undefined. */
  readonly skew: { readonly node: string; readonly skewMs: number } | undefined;
}

const MINUTE_MS = 60_000;

export function planFaults(profile: Profile, ids: readonly string[], durationMs: number, random: SeededRandom): ScheduledFault[] {
  return planRun(profile, ids, durationMs, random).faults;
}

export function planRun(profile: Profile, ids: readonly string[], durationMs: number, random: SeededRandom): FaultPlan {
  const plan: ScheduledFault[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[random.nextInt(xs.length)]!;
  // At most one disk loss per run: W=2 promises to survive one lost disk, not two before the
  // first is re-replicated. At most one final removal, so the ring keeps 4 nodes.
  let wipes = 0;
  let finalRemovals = 0;
  const minutes = () => (random.nextFloat() < 0.5 ? -1 : 1) * Math.round((1 + random.nextFloat() * 9) * MINUTE_MS);
  const others = (node: string) => ids.filter((id) => id !== node);
  const newFaults = (node: string, shuffled: readonly string[]): Fault[] => {
    const out: Fault[] = [
      { kind: 'disk-errors', node, rate: 0.2 + random.nextFloat() * 0.6 },
      { kind: 'disk-full', node },
      { kind: 'hostile-peer', sender: random.nextFloat() < 0.5 ? 'unauthenticated' : 'certified', target: node, requests: 5 + random.nextInt(20) },
    ];
    if (wipes === 0) out.push({ kind: 'wipe', node, readd: random.nextFloat() < 0.5 });
    if (finalRemovals === 0) {
      const rest = shuffled.filter((id) => id !== node);
      const via = rest[0]!;
      const flapFrom = rest.slice(1, 2 + random.nextInt(rest.length - 1));
      out.push({ kind: 'remove-final', node, via, flapFrom, flapLeadMs: random.nextInt(3_000), flapMs: random.nextInt(5_000), removerCut: random.nextFloat() < 0.5 });
    }
    return out;
  };
  const count = (f: Fault) => {
    if (f.kind === 'wipe') wipes++;
    if (f.kind === 'remove-final') finalRemovals++;
  };
  if (profile === 'seed-rules') {
    // One fault at a time, each healed before the next begins.
    for (let t = 1_000 + random.nextInt(2_000); t < durationMs - 3_000; ) {
      const lengthMs = 2_000 + random.nextInt(6_000);
      const node = pick(ids);
      const shuffled = [...others(node)].sort(() => random.nextFloat() - 0.5);
      const fault: Fault = pick<Fault>([
        { kind: 'crash', node },
        { kind: 'pause', node },
        { kind: 'isolate', node },
        { kind: 'loss', rate: 0.3, duplicateRate: 0, replyDropRate: 0 },
        { kind: 'remove', node },
        ...newFaults(node, shuffled),
      ]);
      count(fault);
      const flapLeadMs = fault.kind === 'remove-final' ? fault.flapLeadMs : 0;
      plan.push({ atMs: t + flapLeadMs, untilMs: Math.min(t + flapLeadMs + lengthMs, durationMs - 1_000), fault });
      t += flapLeadMs + lengthMs + 1_000 + random.nextInt(3_000);
    }
  } else {
    const faults = 3 + random.nextInt(6);
    for (let i = 0; i < faults; i++) {
      const atMs = random.nextInt(Math.max(1, durationMs - 6_000));
      const untilMs = Math.min(atMs + 1_000 + random.nextInt(10_000), durationMs - 1_000);
      const shuffled = [...ids].sort(() => random.nextFloat() - 0.5);
      const node = shuffled[0]!;
      const fault = pick<Fault>([
        { kind: 'crash', node },
        { kind: 'pause', node },
        { kind: 'isolate', node },
        { kind: 'one-way', from: shuffled[0]!, to: shuffled[1]! },
        { kind: 'split', minority: shuffled.slice(0, 2) },
        { kind: 'loss', rate: 0.2 + random.nextFloat() * 0.3, duplicateRate: 0.1, replyDropRate: 0.1 },
        { kind: 'remove', node },
        { kind: 'slow-disk', node, slowMs: 20 + random.nextInt(500) },
        { kind: 'skew', node, skewMs: minutes() },
        ...newFaults(node, shuffled.slice(1)),
      ]);
      count(fault);
      plan.push({ atMs, untilMs, fault });
    }
  }
  const skew = random.nextFloat() < 1 / 3 ? { node: pick(ids), skewMs: minutes() } : undefined;
  return { faults: plan.sort((a, b) => a.atMs - b.atMs), skew };
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'crash':
    case 'pause':
    case 'isolate':
    case 'remove':
    case 'disk-full':
      return `${f.kind} ${f.node}`;
    case 'wipe':
      return `wipe ${f.node}${f.readd ? ' (removed, re-added)' : ''}`;
    case 'disk-errors':
      return `disk-errors ${f.node} ${(f.rate * 100).toFixed(0)}%`;
    case 'slow-disk':
      return `slow-disk ${f.node} +${f.slowMs} ms`;
    case 'remove-final':
      return `remove-final ${f.node} via ${f.via} (flap from [${f.flapFrom.join(',')}]${f.removerCut ? ` and ${f.via}` : ''} ${f.flapLeadMs} ms before, for ${f.flapMs} ms)`;
    case 'skew':
      return `skew ${f.node} ${(f.skewMs / 1000).toFixed(0)} s`;
    case 'hostile-peer':
      return `hostile-peer (${f.sender}) -> ${f.target} x${f.requests}`;
    case 'one-way':
      return `one-way ${f.from}-x->${f.to}`;
    case 'split':
      return `split [${f.minority.join(',')}] | rest`;
    case 'loss':
      return `loss ${(f.rate * 100).toFixed(0)}% dup ${(f.duplicateRate * 100).toFixed(0)}% reply-drop ${(f.replyDropRate * 100).toFixed(0)}%`;
  }
}
