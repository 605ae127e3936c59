// The fault schedule of one simulation, generated from its seed. Two profiles: `seed-rules`
// (the seed's restrictions: at most one node failing at a time, every node comes back) and
// `harsh` (overlapping faults: crashes, pauses, one-way and 2/3 partitions, loss and duplication
// bursts). Each fault has a start and an end in virtual time; everything heals before the end.
import type { SeededRandom } from './seeded-random.ts';

export type Profile = 'seed-rules' | 'harsh';

export type Fault =
  | { readonly kind: 'crash'; readonly node: string }
  | { readonly kind: 'pause'; readonly node: string }
  | { readonly kind: 'isolate'; readonly node: string }
  | { readonly kind: 'one-way'; readonly from: string; readonly to: string }
  | { readonly kind: 'split'; readonly minority: readonly string[] }
  | { readonly kind: 'loss'; readonly rate: number; readonly duplicateRate: number }
  /** An operator removes the node from the ring, and adds it back when the fault heals. */
  | { readonly kind: 'remove'; readonly node: string };

export interface ScheduledFault {
  readonly atMs: number;
  readonly untilMs: number;
  readonly fault: Fault;
}

export function planFaults(profile: Profile, ids: readonly string[], durationMs: number, random: SeededRandom): ScheduledFault[] {
  const plan: ScheduledFault[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[random.nextInt(xs.length)]!;
  if (profile === 'seed-rules') {
    // One fault at a time, each healed before the next begins.
    for (let t = 1_000 + random.nextInt(2_000); t < durationMs - 3_000; ) {
      const lengthMs = 2_000 + random.nextInt(6_000);
      const node = pick(ids);
      const fault: Fault = pick<Fault>([
        { kind: 'crash', node },
        { kind: 'pause', node },
        { kind: 'isolate', node },
        { kind: 'loss', rate: 0.3, duplicateRate: 0 },
        { kind: 'remove', node },
      ]);
      plan.push({ atMs: t, untilMs: Math.min(t + lengthMs, durationMs - 1_000), fault });
      t += lengthMs + 1_000 + random.nextInt(3_000);
    }
    return plan;
  }
  const faults = 3 + random.nextInt(6);
  for (let i = 0; i < faults; i++) {
    const atMs = random.nextInt(Math.max(1, durationMs - 6_000));
    const untilMs = Math.min(atMs + 1_000 + random.nextInt(10_000), durationMs - 1_000);
    const shuffled = [...ids].sort(() => random.nextFloat() - 0.5);
    const fault = pick<Fault>([
      { kind: 'crash', node: shuffled[0]! },
      { kind: 'pause', node: shuffled[0]! },
      { kind: 'isolate', node: shuffled[0]! },
      { kind: 'one-way', from: shuffled[0]!, to: shuffled[1]! },
      { kind: 'split', minority: shuffled.slice(0, 2) },
      { kind: 'loss', rate: 0.2 + random.nextFloat() * 0.3, duplicateRate: 0.1 },
      { kind: 'remove', node: shuffled[0]! },
    ]);
    plan.push({ atMs, untilMs, fault });
  }
  return plan.sort((a, b) => a.atMs - b.atMs);
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'crash':
    case 'pause':
    case 'isolate':
    case 'remove':
      return `${f.kind} ${f.node}`;
    case 'one-way':
      return `one-way ${f.from}-x->${f.to}`;
    case 'split':
      return `split [${f.minority.join(',')}] | rest`;
    case 'loss':
      return `loss ${(f.rate * 100).toFixed(0)}% dup ${(f.duplicateRate * 100).toFixed(0)}%`;
  }
}
