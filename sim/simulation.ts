// One deterministic simulation run: a 5-node cluster, a nemesis schedule and a workload of
// concurrent clients (read-modify-write set adds as Jepsen ran on Riak, blind set adds, blind
// puts, deletes with context, a key piled with siblings; in some seeds large values near every
// limit and a hostile client with forged contexts), all from one seed; then a final heal, a quiet
// period, and the invariant checks, ending with a restart of every node from its own disk. The
// same seed produces the identical trace (its hash is part of the result).
import { DEFAULT_CONFIG } from '../src/node/config.ts';
import { CoordinationError } from '../src/replication/errors.ts';
import { statusOf } from '../src/api/error-status.ts';
import type { MemberRecord } from '../src/membership/table.ts';
import { isCount, isHostPort, isNodeId, isTimeMs } from '../src/protocol/ids.ts';
import { CLIENT_KEY_BYTES_MAX } from '../src/protocol/messages.ts';
import { isActorId } from '../src/version/actor.ts';
import { atLeast, readMergedPage } from '../src/dynamo/replica-reads.ts';
import { placementText, Ring } from '../src/ring/ring.ts';
import { hintKey } from '../src/handoff/hint-delivery.ts';
import { decodeRecord } from '../src/version/record-codec.ts';
import { covers, distinctValues, joinClocks, mergeSiblings, siblingsEqual, type Dot, type Sibling } from '../src/version/siblings.ts';
import { descends, type VClock } from '../src/version/vclock.ts';
import { frontGet, frontPut } from './client-front.ts';
import { DISK_OWNER } from './fenced-storage.ts';
import { BOGUS_COUNTER_MIN, hostileContext, hostilePeerRequest } from './hostile.ts';
import { describeFault, planRun, type Profile, type ScheduledFault } from './nemesis.ts';
import { SIM_EPOCH_MS } from './sim-clock.ts';
import { SimCluster } from './sim-cluster.ts';

export interface SimulationOptions {
  readonly seed: number;
  readonly profile: Profile;
  readonly durationMs?: number;
  readonly clients?: number;
  /**
   * A deliberate bug, to show the checker finds it: `ignore-context` writes with an empty
   * context; `lying-disk` acknowledges commits before they are durable.
   */
  readonly defect?: 'ignore-context' | 'lying-disk';
  /**
   * Mutual TLS between nodes (only certified senders get through). Default true, as in
   * production; false shows what an unauthenticated peer could do.
   */
  readonly authentication?: boolean;
  /** Large values (up to valueBytesMax, piling up siblings past the frame limit): default drawn from the seed (1 in 6). */
  readonly largeValues?: boolean;
  /** A client sending forged contexts: default drawn from the seed (1 in 2). */
  readonly hostileClient?: boolean;
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
  /** What the run exercised, for the summary (counts). */
  readonly stats: Readonly<Record<string, number>>;
}

const SET_KEYS = 8;
const QUIET_MS = 60_000;
/** Scaled down from a day so that tombstones written early in a run are purged in its quiet period. */
const TOMBSTONE_GRACE_MS = 60_000;
/** Large-value writes per run, and their sizes: enough to pile a key past the 32 MiB frame. */
const LARGE_WRITES_MAX = 64;
const LARGE_VALUE_BYTES_MIN = 896 * 1024;
const SIBLING_PILE_WRITES_MAX = 90;
/**
 * Blind writes a hostile client sends to one key in one burst, each through any node: two in
 * three deletes (each adds a tombstone sibling), the rest puts.
 */
const TOMBSTONE_PILE_WRITES = 400;
/**
 * Versions a stored record of one key may hold: each coordinator refuses a write that covers
 * none of the key's versions once they number siblingsMax (tombstones counted), so a replica's
 * union of the N coordinators' states stays within N times that.
 */
const STORED_SIBLINGS_MAX = 3 * DEFAULT_CONFIG.siblingsMax;
const W = 2;
/** Codes any client operation may fail with under faults. */
const EXPECTED_CODES = new Set(['QUORUM_FAILED', 'COORDINATOR_UNREACHABLE', 'TOO_MANY_SIBLINGS', 'STORAGE_FAILED', 'UNAVAILABLE']);

/** The elements of a set key's siblings; values that are not a JSON list of strings (a hostile peer's) add nothing. */
function elementsOf(siblings: readonly Sibling[]): Set<string> {
  const out = new Set<string>();
  for (const s of distinctValues(siblings)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(s.value!).toString());
    } catch {
      continue;
    }
    if (Array.isArray(parsed)) for (const e of parsed) if (typeof e === 'string') out.add(e);
  }
  return out;
}

/** A large value's tag (its first line), so acknowledged ones can be found among siblings. */
function tagOf(value: Uint8Array): string {
  const head = Buffer.from(value.subarray(0, 64)).toString();
  return head.slice(0, head.indexOf('\n'));
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

class Unavailable extends Error {
  readonly code = 'UNAVAILABLE';
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const durationMs = options.durationMs ?? 30_000;
  const cluster = await SimCluster.start({
    seed: options.seed,
    config: { requestTimeoutMs: 500, antiEntropyIntervalMs: 2_000, tombstoneGraceMs: TOMBSTONE_GRACE_MS },
    authentication: options.authentication ?? true,
    certifiedExtra: ['buggy'],
    ...(options.defect === 'lying-disk' ? { defect: 'lying-disk' as const } : {}),
  });
  const { scheduler, random } = cluster;
  const violations: Violation[] = [];
  const events: string[] = [];
  const stats: Record<string, number> = {};
  const count = (what: string, n = 1) => void (stats[what] = (stats[what] ?? 0) + n);
  const log = (line: string): void => void events.push(`${scheduler.nowMs.toFixed(0).padStart(6)} ${line}`);
  // A crash of any node's code (an uncaught exception or unhandled rejection) is a violation.
  const crashed = (err: unknown) => {
    // A failed commit of another run's disk, reported late (node:test delays reports after a failing test).
    const owner = typeof err === 'object' && err !== null ? (err as { [DISK_OWNER]?: unknown })[DISK_OWNER] : undefined;
    if (owner !== undefined && owner !== cluster) return;
    violations.push({ invariant: 'no-crash', detail: `uncaught: ${describeError(err)}` });
  };
  scheduler.onError = crashed;
  process.on('unhandledRejection', crashed);
  try {
    return await run();
  } finally {
    // Node reports an unhandled rejection a turn after it happens: let this run's last ones
    // reach this run's listener, not the next run's.
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', crashed);
    scheduler.onError = undefined;
    for (const node of cluster.nodes.values()) node.stop();
  }

  async function run(): Promise<SimulationResult> {
    // Per-key history, kept for every key and reported only for keys a violation names.
    const keyHistory = new Map<string, string[]>();
    const trace = (key: string, line: string) => {
      let lines = keyHistory.get(key);
      if (lines === undefined) keyHistory.set(key, (lines = []));
      lines.push(`${scheduler.nowMs.toFixed(0).padStart(6)} ${line}`);
    };
    // Keys already reported past STORED_SIBLINGS_MAX (one violation per key, not one per commit).
    const overBound = new Set<string>();
    /**
     * Per node (per disk): since when, by the node's own clock, each key has held only
     * tombstones. A replica may purge such a key only once it has held it for the grace period
     * (issue 13 finding 10: judged by the purging node's own observation, not the writer's clock).
     * Across a step of the node's wall clock (the skew fault) the held time is not defined, so a
     * purge after one is not judged.
     */
    const tombstonedSince = new Map<string, Map<string, { localMs: number; atMs: number }>>(cluster.ids.map((id) => [id, new Map()]));
    const clockStepsAtMs = new Map<string, number[]>(cluster.ids.map((id) => [id, []]));
    const watchClocks = (id: string) => {
      const node = cluster.node(id);
      const replicates = (key: string) => node.admission.state !== 'discarding' && (node.ring()?.preferenceList(key, node.config.n).includes(id) ?? false);
      // Whether this node replicated a key when it decided to remove it (a purge, or a hand-off
      // when it did not): the ring may change before the removal commits (harsh 53062).
      const replicaWhenDecided = new Map<string, boolean>();
      const removeIfUnchanged = node.store.removeIfUnchanged.bind(node.store);
      node.store.removeIfUnchanged = (key, expected) => {
        replicaWhenDecided.set(key, replicates(key));
        return removeIfUnchanged(key, expected).finally(() => replicaWhenDecided.delete(key));
      };
      node.store.observe((key, before, after, siblings) => {
        const short = key.length > 40 ? `${key.slice(0, 40)}...` : key;
        if (siblings.length > STORED_SIBLINGS_MAX && !overBound.has(key)) {
          overBound.add(key);
          violations.push({ invariant: 'bounded-siblings', key, detail: `${id} committed ${siblings.length} versions of ${short} (at most ${STORED_SIBLINGS_MAX})` });
        }
        trace(key, `${id} commit ${after === undefined ? 'removed' : describeSiblings(siblings)}`);
        const since = tombstonedSince.get(id)!;
        const nowMs = node.world.clock.nowMs();
        if (after === undefined) {
          const held = since.get(key);
          since.delete(key);
          // A removal of a key this node replicated when it decided on it is a purge; otherwise it
          // is a hand-off. A node that learned it was removed (or removed and re-added) discards
          // everything it held before it serves again: that is not a purge either.
          const replica = replicaWhenDecided.get(key) ?? replicates(key);
          const stepped = held !== undefined && clockStepsAtMs.get(id)!.some((t) => t >= held.atMs);
          if (held !== undefined && replica && !stepped && nowMs - held.localMs < TOMBSTONE_GRACE_MS) {
            violations.push({ invariant: 'purge-after-grace', key, detail: `${id} purged ${short} after holding its tombstone for ${((nowMs - held.localMs) / 1000).toFixed(1)} s of its own clock (grace ${TOMBSTONE_GRACE_MS / 1000} s)` });
          }
          return;
        }
        if (siblings.length > 0 && siblings.every((x) => x.value === null)) {
          if (!since.has(key)) since.set(key, { localMs: nowMs, atMs: scheduler.nowMs });
        } else {
          since.delete(key);
        }
        if (before === undefined) return;
        if (!descends(joinClocks(siblings), joinClocks(decodeRecord(before)))) {
          violations.push({ invariant: 'clock-monotonic', detail: `${id}: the clock of ${short} went backwards`, key });
        }
      });
    };
    for (const id of cluster.ids) watchClocks(id);
    const features = random.fork();
    const largeValues = options.largeValues ?? features.nextFloat() < 1 / 6;
    const hostileClient = options.hostileClient ?? features.nextFloat() < 0.5;

    // --- nemesis -------------------------------------------------------------------------------
    const { faults: plan, skew } = planRun(options.profile, cluster.ids, durationMs, random.fork());
    if (skew !== undefined) {
      cluster.setSkew(skew.node, skew.skewMs);
      log(`skew: ${skew.node}'s clock is ${(skew.skewMs / 1000).toFixed(0)} s off for the whole run`);
    }
    const hostileRandom = random.fork();
    const down = new Set<string>();
    /** Operator actions per node, to tell an operator's re-add from a removal being undone. */
    const operatorAdds = new Map<string, number>();
    /** Nodes an operator removed for good: they must stay removed. */
    const finalRemoved = new Set<string>();
    /** Start count per node, to know whether a node kept its memory since some moment. */
    const incarnation = new Map<string, number>(cluster.ids.map((id) => [id, 1]));
    const wipesAtMs: number[] = [];
    let finalHeal = false;
    const heals: Array<() => Promise<void>> = [];

    async function start(id: string): Promise<boolean> {
      try {
        await cluster.startNode(id);
      } catch (err) {
        log(`start ${id} failed: ${describeError(err)}`);
        if (!finalHeal) scheduler.schedule(1_000, () => void (down.has(id) || cluster.nodes.has(id) ? undefined : start(id)));
        return false;
      }
      incarnation.set(id, (incarnation.get(id) ?? 0) + 1);
      watchClocks(id);
      return true;
    }

    const running = (except?: string) => cluster.ids.filter((id) => id !== except && cluster.nodes.has(id));
    /**
     * Nodes the operator removed and has not re-added: a careful operator makes changes through a
     * ring member (README), never through a node it removed, which may not know yet (harsh 57085:
     * a removal made through n1, removed 0.5 s before, reached n3 alone, which took itself for removed).
     */
    const removedByOperator = new Set<string>();
    const pickRunning = (except?: string) => {
      const candidates = running(except).filter((id) => !removedByOperator.has(id));
      return candidates.length === 0 ? undefined : candidates[random.nextInt(candidates.length)];
    };

    /** Operator removal through a running node (`through` if it runs); the node it was made on, or undefined if refused. */
    function operatorRemove(node: string, through?: string): string | undefined {
      const via = through !== undefined && cluster.nodes.has(through) && !removedByOperator.has(through) ? through : pickRunning(node);
      if (via === undefined) return undefined;
      try {
        cluster.node(via).membership.removeMember(node);
        removedByOperator.add(node);
        count('operator removals');
        return via;
      } catch (err) {
        log(`remove ${node} via ${via} refused: ${(err as Error).message}`);
        return undefined;
      }
    }

    /** Whether `p` settles fulfilled within `ms` of virtual time. */
    function fulfilledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
      return new Promise((resolve) => {
        const timer = scheduler.schedule(ms, () => resolve(false));
        p.then(
          () => (timer.cancel(), resolve(true)),
          () => (timer.cancel(), resolve(false)),
        );
      });
    }

    /**
     * Waits for the operator's answer to a removal made through `via`: the table durable there.
     * After an error the operator retries through a running member, at most 30 times a second
     * apart: a member that already has the node removed answers once its table is durable.
     */
    async function confirmRemoval(node: string, via: string | undefined): Promise<boolean> {
      if (via !== undefined && cluster.nodes.has(via) && (await fulfilledWithin(cluster.node(via).membership.persisted(), 2_000)) && (await spreadFrom(node, via)) !== 'lost') return true;
      log(`remove ${node}${via === undefined ? '' : ` via ${via}`}: not confirmed; the operator retries`);
      for (let attempt = 0; attempt < 30 && !finalHeal; attempt++) {
        await new Promise<void>((resolve) => scheduler.schedule(1_000, resolve));
        const by = pickRunning(node);
        if (by === undefined || cluster.node(by).membership.record(by)?.status === 'removed') continue;
        if (cluster.node(by).membership.record(node)?.status !== 'removed') {
          try {
            cluster.node(by).membership.removeMember(node);
          } catch (err) {
            log(`remove ${node} via ${by} refused: ${(err as Error).message}`);
            continue;
          }
        }
        if ((await fulfilledWithin(cluster.node(by).membership.persisted(), 2_000)) && (await spreadFrom(node, by)) !== 'lost') {
          log(`remove ${node} via ${by}: durable`);
          return true;
        }
      }
      return false;
    }

    /**
     * A careful operator also checks, through another member, that the removal spread: until it
     * has, it lives on one disk, which a wipe of that node takes with it (harsh seed 52646: the
     * removal went through a cut-off node whose disk was then lost). 'lost' when `via` crashed
     * or restarted before the removal reached another member (the operator makes it again);
     * 'undone' when `via` runs on and no longer has the node removed: the bug of finding 3,
     * which the operator does not paper over (removed-stays-removed judges it); 'pending' when
     * it has not spread within 20 s (durable on a running node, it will).
     */
    async function spreadFrom(node: string, via: string): Promise<'spread' | 'lost' | 'undone' | 'pending'> {
      const viaIncarnation = incarnation.get(via);
      for (let waited = 0; waited < 20 && !finalHeal; waited++) {
        if (!cluster.nodes.has(via) || incarnation.get(via) !== viaIncarnation) return 'lost';
        if (cluster.node(via).membership.record(node)?.status !== 'removed') return 'undone';
        const others = running(node).filter((id) => id !== via && cluster.node(id).membership.record(id)?.status !== 'removed');
        const heard = others.find((id) => cluster.node(id).membership.record(node)?.status === 'removed');
        if (heard !== undefined && (await fulfilledWithin(cluster.node(heard).membership.persisted(), 2_000))) return 'spread';
        await new Promise<void>((resolve) => scheduler.schedule(1_000, resolve));
      }
      return 'pending';
    }

    /**
     * Operator re-add through a running node that sees the node removed. If none does (the
     * removal lives only on a node that is down or cut off), the operator keeps trying: the
     * re-add is pending until no running node sees the node removed any more.
     */
    const pendingReadds = new Map<string, MemberRecord>();
    /** Nodes whose removal for good the operator is still confirming: never re-added meanwhile. */
    const finalRemovalPending = new Set<string>();
    function operatorReadd(node: string, record: MemberRecord | undefined): void {
      if (finalRemoved.has(node) || finalRemovalPending.has(node)) return log(`re-add ${node} skipped: removed for good`);
      if (record === undefined) return;
      if (!pendingReadds.has(node)) {
        pendingReadds.set(node, record);
        if (pendingReadds.size === 1) scheduler.schedule(0, reconcileReadds);
      }
    }
    function reconcileReadds(): void {
      for (const [node, record] of pendingReadds) {
        if (finalRemoved.has(node) || finalRemovalPending.has(node)) {
          pendingReadds.delete(node);
          continue;
        }
        // Through a member: a removed node's own changes do not spread (peers merge only members' gossip), and it refuses them.
        const isMember = (id: string) => !finalRemoved.has(id) && cluster.node(id).membership.record(id)?.status !== 'removed';
        const by = running(node).find((id) => isMember(id) && cluster.node(id).membership.record(node)?.status === 'removed');
        if (by === undefined) {
          // Nobody running sees it removed: done, unless a node that is down still holds the removal.
          if (cluster.ids.every((id) => cluster.nodes.has(id))) pendingReadds.delete(node);
          continue;
        }
        try {
          cluster.node(by).membership.addMember(node, record.peer, record.http);
          removedByOperator.delete(node);
          operatorAdds.set(node, scheduler.nowMs);
          count('operator re-adds');
          log(`re-add ${node} via ${by}`);
        } catch (err) {
          log(`re-add ${node} via ${by} refused: ${(err as Error).message}`);
        }
      }
      if (pendingReadds.size > 0) scheduler.schedule(1_000, reconcileReadds);
    }

    /** At the heal of a temporary removal: it must not have been undone by anything but an operator. */
    function checkStillRemoved(node: string, via: string, sinceMs: number, viaIncarnation: number): void {
      if (!cluster.nodes.has(via) || incarnation.get(via) !== viaIncarnation) return;
      if ((operatorAdds.get(node) ?? -1) >= sinceMs) return;
      const record = cluster.node(via).membership.record(node);
      if (record?.status !== 'removed') {
        violations.push({
          invariant: 'removed-stays-removed',
          detail: `${node}, removed through ${via} at ${sinceMs.toFixed(0)} ms, is ${record?.status} there at ${scheduler.nowMs.toFixed(0)} ms (version ${record?.version}, by ${record?.changedBy}) with no operator re-add`,
        });
      }
    }

    for (const f of plan) {
      if (f.fault.kind === 'remove-final') {
        // The detector flap starts before the removal, so that the two race.
        const { node, via, flapFrom, flapLeadMs, flapMs, removerCut } = f.fault;
        const flapAt = Math.max(0, f.atMs - flapLeadMs);
        if (flapMs > 0) {
          scheduler.schedule(flapAt, () => {
            log(`flap: ${node}${removerCut ? ` and ${via}` : ''} cut off from [${flapFrom.join(',')}] for ${flapMs} ms`);
            const side = new Set(flapFrom);
            const cut = new Set(removerCut ? [node, via] : [node]);
            const heal = cluster.network.addDropRule((from, to) => (cut.has(from) && side.has(to)) || (cut.has(to) && side.has(from)));
            scheduler.schedule(flapMs, () => {
              log(`flap healed: ${node}`);
              heal();
            });
          });
        }
      }
      scheduler.schedule(f.atMs, () => void startFault(f));
    }

    async function startFault(s: ScheduledFault): Promise<void> {
      const f = s.fault;
      if (finalHeal) return;
      log(`fault: ${describeFault(f)} until ${s.untilMs}`);
      let heal: () => void | Promise<void>;
      switch (f.kind) {
        case 'crash':
          if (down.has(f.node)) return;
          down.add(f.node);
          await cluster.crashNode(f.node);
          heal = async () => {
            down.delete(f.node);
            await start(f.node);
          };
          break;
        case 'wipe': {
          if (down.has(f.node)) return log(`wipe ${f.node} skipped: it is down`);
          const record = running(f.node).length > 0 ? cluster.node(running(f.node)[0]!).membership.record(f.node) : undefined;
          const removedVia = f.readd ? operatorRemove(f.node) : undefined;
          down.add(f.node);
          await cluster.wipeNode(f.node);
          tombstonedSince.get(f.node)!.clear();
          wipesAtMs.push(scheduler.nowMs);
          count('disk wipes');
          heal = async () => {
            if (removedVia !== undefined) operatorReadd(f.node, record);
            down.delete(f.node);
            await start(f.node);
          };
          break;
        }
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
          const via = pickRunning(f.node);
          const record = via === undefined ? undefined : cluster.node(via).membership.record(f.node);
          const madeVia = operatorRemove(f.node);
          if (madeVia === undefined) return;
          const sinceMs = scheduler.nowMs;
          const viaIncarnation = incarnation.get(madeVia)!;
          heal = () => {
            checkStillRemoved(f.node, madeVia, sinceMs, viaIncarnation);
            operatorReadd(f.node, record);
          };
          break;
        }
        case 'remove-final': {
          const already = running().some((id) => cluster.node(id).membership.record(f.node)?.status === 'removed');
          // Each node's view of the node's operator epoch before the removal: one made through a
          // node that has not heard of an earlier operator change (a re-add elsewhere, across a
          // split) races it, and the newer epoch wins. The README asks operators to make changes
          // one at a time through one node; such a removal is not judged as final (harsh 56114).
          const epochs = new Map(cluster.ids.filter((id) => cluster.nodes.has(id)).map((id) => [id, cluster.node(id).membership.record(f.node)?.epoch ?? 0]));
          const newest = Math.max(0, ...epochs.values());
          const via = operatorRemove(f.node, f.via);
          if (via !== undefined && (epochs.get(via) ?? 0) < newest) {
            log(`remove-final ${f.node} via ${via}: made on a stale view (epoch ${epochs.get(via)} < ${newest}), racing an earlier operator change; not judged as final`);
            heal = () => {};
            break;
          }
          if (via !== undefined || already) {
            // The operator's answer comes once the table is durable on the node it went through;
            // an error (its disk full, it crashed) leaves the removal uncertain, and the operator
            // makes it again through a member until one answers (harsh seed 52362: the removal
            // never left a cut-off node whose disk was full, and was gone when it crashed).
            // No operator re-add (of an earlier temporary removal) while this one is being confirmed.
            finalRemovalPending.add(f.node);
            const confirmed = await confirmRemoval(f.node, via);
            finalRemovalPending.delete(f.node);
            if (confirmed) {
              finalRemoved.add(f.node);
              log(`${f.node} is removed for good`);
            }
          }
          heal = () => {};
          break;
        }
        case 'disk-errors': {
          const disk = cluster.diskFaults.get(f.node)!;
          disk.failRate = f.rate;
          heal = () => void (disk.failRate = 0);
          break;
        }
        case 'disk-full': {
          const disk = cluster.diskFaults.get(f.node)!;
          disk.full = true;
          heal = () => void (disk.full = false);
          break;
        }
        case 'slow-disk': {
          const disk = cluster.diskFaults.get(f.node)!;
          disk.slowMs = f.slowMs;
          heal = () => void (disk.slowMs = 0);
          break;
        }
        case 'skew': {
          const base = cluster.skewOf(f.node);
          const steps = clockStepsAtMs.get(f.node)!;
          cluster.setSkew(f.node, base + f.skewMs);
          steps.push(scheduler.nowMs);
          heal = () => {
            cluster.setSkew(f.node, base);
            steps.push(scheduler.nowMs);
          };
          break;
        }
        case 'hostile-peer': {
          const windowMs = Math.max(1, s.untilMs - s.atMs);
          for (let i = 0; i < f.requests; i++) scheduler.schedule(hostileRandom.nextInt(windowMs), () => void hostileSend(f.sender, f.target));
          heal = () => {};
          break;
        }
        case 'loss':
          cluster.network.lossRate = f.rate;
          cluster.network.duplicateRate = f.duplicateRate;
          cluster.network.replyDropRate = f.replyDropRate;
          heal = () => {
            cluster.network.lossRate = 0;
            cluster.network.duplicateRate = 0;
            cluster.network.replyDropRate = 0;
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
      heals.push(doHeal);
      scheduler.schedule(s.untilMs - scheduler.nowMs, () => void doHeal());
    }

    async function hostileSend(sender: 'unauthenticated' | 'certified', target: string): Promise<void> {
      if (finalHeal) return;
      const table = cluster.nodes.get(target)?.membership.table() ?? [];
      const request = hostilePeerRequest(hostileRandom, sender, cluster.ids, target, table, SIM_EPOCH_MS + scheduler.nowMs, 'buggy');
      let outcome: string;
      try {
        await cluster.network.sendRaw(request.from, target, request.payload, 1_000, { certificate: sender === 'certified' });
        outcome = 'answered';
      } catch (err) {
        outcome = `${codeOf(err) ?? 'error'}${err instanceof Error && 'remoteCode' in err ? ` ${String((err as { remoteCode: unknown }).remoteCode)}` : ''}`;
      }
      count(`hostile ${sender} requests`);
      log(`hostile ${sender} ${request.attack} as ${request.from} -> ${target}: ${outcome}`);
    }

    // --- workload ------------------------------------------------------------------------------
    const ackedAdds = new Map<string, Set<string>>();
    const ackedTags = new Map<string, Set<string>>();
    const deletedKeys: string[] = [];
    const unexpected: string[] = [];
    let ops = 0;
    let opsOk = 0;
    const liveNode = () => cluster.nodes.get(cluster.ids[random.nextInt(cluster.ids.length)]!);
    const acked = (map: Map<string, Set<string>>, key: string, item: string) => {
      let set = map.get(key);
      if (set === undefined) map.set(key, (set = new Set()));
      set.add(item);
    };

    /**
     * Runs one client operation: traced, its errors classified (anything unexpected is a
     * violation). If the node it talks to crashes meanwhile, the client's connection breaks: the
     * operation fails at once and nothing it does afterwards counts (`live` turns false).
     */
    async function operation(c: string, what: string, extraCodes: readonly string[], body: (node: NonNullable<ReturnType<typeof liveNode>>, via: string, live: () => void) => Promise<void>): Promise<boolean> {
      const node = liveNode();
      const via = node?.config.id ?? 'none';
      ops++;
      let broken = false;
      let remove = () => {};
      const reset = new Promise<never>((_, reject) => {
        remove = cluster.onCrash((id) => {
          if (id !== via) return;
          broken = true;
          reject(new Unavailable('connection reset: the node crashed'));
        });
      });
      reset.catch(() => {});
      const live = () => {
        if (broken) throw new Unavailable('connection reset: the node crashed');
      };
      try {
        if (node === undefined) throw new Unavailable('connection refused');
        await Promise.race([body(node, via, live), reset]);
        opsOk++;
        return true;
      } catch (err) {
        const code = codeOf(err);
        // A removed node refuses clients at once; a client that still sends to it learns so.
        const removedVia = code === 'NOT_A_MEMBER' && (finalRemoved.has(via) || cluster.nodes.get(via)?.membership.record(via)?.status === 'removed');
        const expected = removedVia || (code !== undefined && (EXPECTED_CODES.has(code) || extraCodes.includes(code))) || (code !== undefined && extraCodes.includes('413') && statusOf(code) === 413);
        count(`failed ${code ?? 'uncoded'}`);
        if (!expected) unexpected.push(`${c} ${what} via ${via}: ${describeError(err)}`);
        return false;
      } finally {
        remove();
      }
    }

    const tracedGet = async (node: NonNullable<ReturnType<typeof liveNode>>, via: string, live: () => void, c: string, key: string, what: string) => {
      trace(key, `${c} ${what} via ${via}: invoke get`);
      try {
        const read = await frontGet(node, key);
        live();
        trace(key, `${c} ${what} via ${via}: ok ${describeSiblings(read.siblings)}`);
        return read;
      } catch (err) {
        trace(key, `${c} ${what} via ${via}: failed ${describeError(err)}`);
        throw err;
      }
    };
    const tracedPut = async (node: NonNullable<ReturnType<typeof liveNode>>, via: string, live: () => void, c: string, key: string, what: string, value: Buffer | null, contentType: string, context: string) => {
      const shown = value === null ? 'delete' : value.length > 200 ? `${tagOf(value)} (${value.length} bytes)` : value.toString();
      trace(key, `${c} ${what} via ${via}: invoke put ${shown} context=${context.slice(0, 60)}`);
      const startedMs = scheduler.nowMs;
      try {
        const next = await frontPut(node, { key, value, contentType, context });
        live();
        trace(key, `${c} ${what} via ${via}: ok`);
        // Not for large values: finding one among siblings of tens of MiB on every disk costs
        // more than the rest of the run; their limits are what the large workload is about.
        if (value !== null && value.length <= 64 * 1024) checkDurable(key, value, startedMs, `${c} ${what} via ${via}`);
        return next;
      } catch (err) {
        trace(key, `${c} ${what} via ${via}: failed ${describeError(err)}`);
        throw err;
      }
    };

    /**
     * An acknowledged write is durable on W nodes (as a replica or a hint) at the moment of the
     * acknowledgement: found by its value (every value written is unique), then by its dot.
     */
    function checkDurable(key: string, value: Uint8Array, startedMs: number, what: string): void {
      if (wipesAtMs.some((t) => t >= startedMs)) return; // a disk lost while the write was in flight
      // Hints are kept per owner: every id any node counts as a member (a forged one included).
      const owners = new Set(cluster.ids);
      for (const node of cluster.nodes.values()) for (const r of node.membership.table()) owners.add(r.id);
      const records = (id: string): Sibling[][] => {
        const disk = cluster.storages.get(id)!;
        const out: Sibling[][] = [];
        for (const [space, k] of [['data', key], ...[...owners].map((owner) => ['hints', hintKey(owner, key)] as const)] as const) {
          const bytes = disk.get(space, k);
          if (bytes !== undefined) out.push(decodeRecord(bytes));
        }
        return out;
      };
      const all = cluster.ids.map((id) => ({ id, records: records(id) }));
      let dot: Dot | undefined;
      const same = (s: Sibling) => s.value !== null && Buffer.from(s.value).equals(value);
      for (const { records: rs } of all) for (const r of rs) dot ??= r.find(same)?.dot;
      for (const node of cluster.nodes.values()) dot ??= node.store.read(key).find(same)?.dot;
      if (dot === undefined) return; // superseded everywhere before its acknowledgement: nothing to find
      const found = dot;
      const holders = all.filter(({ records: rs }) => rs.some((r) => r.some((s) => (s.dot.node === found.node && s.dot.counter === found.counter) || covers(s.context, found))));
      count('durability checks');
      if (holders.length < W) {
        violations.push({ invariant: 'durable-ack', key, detail: `${what}: acknowledged ${key} (dot ${found.node}:${found.counter}) is durable on ${holders.length} node(s) [${holders.map((h) => h.id).join(',')}], W=${W}` });
      }
    }

    /**
     * A Query's read of a partition (src/dynamo/replica-reads.ts, the real code): R replicas'
     * range reads merged. Whatever the replicas hold, the merge must not return a version another
     * version it returned supersedes (review finding H1: an item deleted on one replica came
     * back from a lagging one). Availability failures are the read's business, not checked here.
     */
    async function checkMergedRead(node: NonNullable<ReturnType<typeof liveNode>>, key: string): Promise<void> {
      const ring = node.ring();
      if (ring === undefined) return;
      const partition = placementText(key);
      let page;
      try {
        page = await readMergedPage(node, ring.preferenceList(key, 3), `${partition}\u0001`, `${partition}\u0002`, false, atLeast(2), 1_000);
      } catch {
        count('merged reads unavailable');
        return;
      }
      count('merged reads');
      for (const entry of page.entries) {
        const stale = entry.siblings.filter((s) => entry.siblings.some((o) => o !== s && covers(o.context, s.dot)));
        if (stale.length > 0) violations.push({ invariant: 'merged-read-superseded', key: entry.key, detail: `${short(entry.key)}: a merged range read through ${node.id} returned ${stale.length} version(s) another returned version supersedes` });
      }
    }

    async function client(c: number): Promise<void> {
      const name = `c${c}`;
      let n = 0;
      while (scheduler.nowMs < durationMs) {
        n++;
        const roll = random.nextFloat();
        if (roll < 0.5) {
          const key = setKey(random.nextInt(SET_KEYS));
          const element = `c${c}-${n}`;
          await operation(name, `add ${element}`, [], async (node, via, live) => {
            const read = await tracedGet(node, via, live, name, key, `add ${element}`);
            const elements = elementsOf(read.siblings);
            elements.add(element);
            const context = options.defect === 'ignore-context' ? '' : read.context;
            await tracedPut(node, via, live, name, key, `add ${element}`, Buffer.from(JSON.stringify([...elements].sort())), 'application/json', context);
            acked(ackedAdds, key, element);
          });
        } else if (roll < 0.62) {
          // A blind add: the element alone, no context. It becomes a sibling the union keeps.
          const key = setKey(random.nextInt(SET_KEYS));
          const element = `c${c}-${n}b`;
          await operation(name, `blind add ${element}`, [], async (node, via, live) => {
            await tracedPut(node, via, live, name, key, `blind add ${element}`, Buffer.from(JSON.stringify([element])), 'application/json', '');
            acked(ackedAdds, key, element);
          });
        } else if (roll < 0.74) {
          // Keys at the key-length limit now and then, and one byte past it (refused).
          const limit = random.nextInt(20);
          const key = limit === 0 ? `blind-long-${'k'.repeat(CLIENT_KEY_BYTES_MAX - 11)}` : limit === 1 ? `x${'k'.repeat(CLIENT_KEY_BYTES_MAX)}` : `blind-${random.nextInt(20)}`;
          await operation(name, 'blind', limit === 1 ? ['KEY_INVALID'] : [], async (node, via, live) => {
            await tracedPut(node, via, live, name, key, 'blind', Buffer.from(`b${c}-${n}`), 'text/plain', '');
          });
        } else if (roll < 0.86) {
          // Every other one a partitioned key, as DynamoDB items are (several per partition).
          const key = n % 2 === 0 ? `del-${c}-${n}` : `\u0000Isim/d${c % 3}\u0001del-${c}-${n}`;
          await operation(name, 'create/delete', [], async (node, via, live) => {
            await tracedPut(node, via, live, name, key, 'create', Buffer.from(`doomed-${c}-${n}`), 'text/plain', '');
            const read = await tracedGet(node, via, live, name, key, 'delete');
            const context = options.defect === 'ignore-context' ? '' : read.context;
            await tracedPut(node, via, live, name, key, 'delete', null, '', context);
            // Only a delete whose read saw the value claims to remove it: under a sloppy quorum a
            // read may miss a just-acknowledged write (R+W>N holds only among the same replicas).
            if (distinctValues(read.siblings).length > 0) deletedKeys.push(key);
            if (placementText(key) !== key) await checkMergedRead(node, key);
          });
        } else if (roll < 0.93) {
          // Once per run (the first time this branch draws it), a burst of blind deletes and puts
          // of one key: its versions must stop piling up (tombstones once grew without bound:
          // every merge and answer of the key grew with them).
          if (stats['tombstone pile bursts'] === undefined && random.nextFloat() < 0.2) {
            count('tombstone pile bursts');
            for (let i = 0; i < TOMBSTONE_PILE_WRITES; i++) {
              const put = i % 3 === 2;
              await operation(name, `tombstone pile ${i}`, [], async (node, via, live) => {
                await tracedPut(node, via, live, name, 'tomb-pile', `blind ${put ? 'put' : 'delete'} ${i}`, put ? Buffer.from(`pile-${i}`) : null, 'text/plain', '');
                count(put ? 'tombstone pile puts' : 'tombstone pile deletes');
              });
            }
            // A delete with the context of a read resolves the pile (deletes that cover what they saw always pass).
            await operation(name, 'tombstone pile resolved', [], async (node, via, live) => {
              const read = await tracedGet(node, via, live, name, 'tomb-pile', 'read');
              await tracedPut(node, via, live, name, 'tomb-pile', 'delete with its context', null, '', read.context);
              count('tombstone pile resolved');
            });
          }
          // One key piled with blind siblings up to siblingsMax (then refused TOO_MANY_SIBLINGS).
          if ((stats['sibling pile writes'] ?? 0) < SIBLING_PILE_WRITES_MAX) {
            count('sibling pile writes');
            const tag = `p${c}-${n}`;
            await operation(name, `pile ${tag}`, [], async (node, via, live) => {
              await tracedPut(node, via, live, name, 'pile', `pile ${tag}`, Buffer.from(`${tag}\n`), 'text/plain', '');
              acked(ackedTags, 'pile', tag);
            });
          }
        } else {
          const key = setKey(random.nextInt(SET_KEYS));
          await operation(name, 'read', [], async (node, via, live) => void (await tracedGet(node, via, live, name, key, 'read')));
        }
        await new Promise<void>((r) => scheduler.schedule(10 + random.nextInt(90), r));
      }
    }

    /**
     * Large values near the limits (up to valueBytesMax, one byte over now and then), blind, in
     * a burst. Half the seeds pile them on one key, whose versions must stop at the record bound
     * (RECORD_BYTES_MAX, 4 MiB: then RECORD_TOO_LARGE) and so never outgrow a 32 MiB frame. The
     * others spread them over 12-16 keys, each piling up to the bound, about twice a frame in
     * all, while one node is cut off for the burst: its hints, and the anti-entropy pulls and
     * pushes when it returns, must be cut by bytes.
     */
    async function largeClient(): Promise<void> {
      const lr = random.fork();
      const spread = lr.nextFloat() < 0.5;
      const keys = Array.from({ length: spread ? 12 + lr.nextInt(5) : 1 }, (_, i) => `large-${i}`);
      await new Promise<void>((r) => scheduler.schedule(lr.nextInt(Math.max(1, durationMs - 12_000)), r));
      let healCut = () => {};
      if (spread) {
        const cut = cluster.ids[lr.nextInt(cluster.ids.length)]!;
        log(`large burst on ${keys.length} keys; ${cut} is cut off for it`);
        healCut = cluster.network.isolate(cut);
      } else {
        log('large burst on one key');
      }
      const valueBytesMax = cluster.configOf('n1').valueBytesMax;
      for (let i = 0; i < LARGE_WRITES_MAX && scheduler.nowMs < durationMs; i++) {
        const key = keys[lr.nextInt(keys.length)]!;
        const roll = lr.nextInt(20);
        const bytes = roll < 2 ? valueBytesMax : roll === 2 ? valueBytesMax + 1 : LARGE_VALUE_BYTES_MIN + lr.nextInt(valueBytesMax - LARGE_VALUE_BYTES_MIN);
        const tag = `L${i}`;
        const value = Buffer.alloc(bytes, 0x61);
        value.write(`${tag}\n`);
        count('large writes');
        count('large bytes', bytes);
        await operation('large', `put ${tag}`, ['VALUE_TOO_LARGE', '413'], async (node, via, live) => {
          await tracedPut(node, via, live, 'large', key, `put ${tag}`, value, 'application/octet-stream', '');
          acked(ackedTags, key, tag);
        });
        await new Promise<void>((r) => scheduler.schedule(20 + lr.nextInt(200), r));
      }
      await new Promise<void>((r) => scheduler.schedule(1_000 + lr.nextInt(2_000), r));
      healCut();
    }

    /** Writes with contexts no node issued, now and then, to keys of their own. */
    async function hostileClientLoop(): Promise<void> {
      const hr = random.fork();
      while (scheduler.nowMs < durationMs) {
        await new Promise<void>((r) => scheduler.schedule(300 + hr.nextInt(1_500), r));
        const key = `hostile-${hr.nextInt(4)}`;
        const forged = hostileContext(hr, cluster.ids, SIM_EPOCH_MS + scheduler.nowMs, key);
        count(`hostile contexts ${forged.kind}`);
        await operation('hostile', `put ${forged.kind}`, ['BAD_CONTEXT'], async (node, via, live) => {
          trace(key, `hostile put (${forged.kind} context) via ${via}: invoke`);
          await frontPut(node, { key, value: Buffer.from(`forged-${forged.kind}`), contentType: 'text/plain', context: forged.context });
          live();
          trace(key, `hostile put via ${via}: accepted`);
          violations.push({ invariant: 'forged-context-refused', key, detail: `a ${forged.kind} context no node issued for ${key} was accepted through ${via}` });
        });
      }
    }

    const clients = Array.from({ length: options.clients ?? 6 }, (_, c) => client(c));
    if (largeValues) clients.push(largeClient());
    if (hostileClient) clients.push(hostileClientLoop());
    log(`workload: ${options.clients ?? 6} clients${largeValues ? ', large values' : ''}${hostileClient ? ', hostile contexts' : ''}`);
    await scheduler.complete(Promise.all(clients), durationMs + 600_000);

    // --- final heal and quiet period ----------------------------------------------------------
    finalHeal = true;
    for (const disk of cluster.diskFaults.values()) Object.assign(disk, { failRate: 0, full: false, slowMs: 0 });
    for (const heal of heals) await heal();
    await scheduler.runUntil(scheduler.nowMs + 10);
    for (const id of cluster.ids) {
      if (cluster.nodes.has(id)) continue;
      down.delete(id);
      if (!(await start(id))) violations.push({ invariant: 'not-bricked', detail: `${id} does not start after the final heal` });
    }
    log('final heal');
    await scheduler.runUntil(scheduler.nowMs + QUIET_MS);

    // --- invariants ----------------------------------------------------------------------------
    for (const line of [...new Set(unexpected)].slice(0, 10)) violations.push({ invariant: 'no-unexpected-errors', detail: line });
    if (unexpected.length > 10) violations.push({ invariant: 'no-unexpected-errors', detail: `(+${unexpected.length - 10} more)` });
    const ringIds = cluster.ids.filter((id) => !finalRemoved.has(id));
    const ring = Ring.of(ringIds);
    const reader = (i: number) => cluster.nodes.get(ringIds[i % ringIds.length]!);
    const finalRead = async (key: string, i: number): Promise<readonly Sibling[] | undefined> => {
      const node = reader(i);
      if (node === undefined) return undefined;
      try {
        return (await scheduler.complete(frontGet(node, key, 3))).siblings;
      } catch (err) {
        violations.push({ invariant: 'final-read', key, detail: `${key}: the final R=3 read through ${node.id} failed: ${describeError(err)}` });
        return undefined;
      }
    };
    for (const [key, elements] of ackedAdds) {
      const siblings = await finalRead(key, 0);
      if (siblings === undefined) continue;
      const present = elementsOf(siblings);
      const lost = [...elements].filter((e) => !present.has(e));
      if (lost.length > 0) violations.push({ invariant: 'no-lost-writes', key, detail: `${key}: acknowledged adds missing: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ` (+${lost.length - 5})` : ''}` });
    }
    // Partitioned set keys, read back the way Query reads them: a range read of the partition
    // from each live replica of its preference list; together they hold every acknowledged add.
    for (const [key, elements] of ackedAdds) {
      const partition = placementText(key);
      if (partition === key) continue;
      const node = reader(0);
      if (node === undefined) continue;
      const present = new Set<string>();
      for (const id of ring.preferenceList(key, 3).filter((r) => cluster.nodes.has(r))) {
        try {
          const read = await scheduler.complete(node.readRange(id, `${partition}\u0001`, `${partition}\u0002`, 256, false, 5_000));
          for (const e of read.entries) if (e.key === key) for (const x of elementsOf(e.siblings)) present.add(x);
        } catch (err) {
          violations.push({ invariant: 'final-read', key, detail: `${short(key)}: the final range read of ${id} through ${node.id} failed: ${describeError(err)}` });
        }
      }
      const lost = [...elements].filter((e) => !present.has(e));
      if (lost.length > 0) violations.push({ invariant: 'no-lost-writes', key, detail: `${short(key)}: acknowledged adds missing from the partition's range reads: ${lost.slice(0, 5).join(', ')}` });
    }
    for (const [key, tags] of ackedTags) {
      const siblings = await finalRead(key, 1);
      if (siblings === undefined) continue;
      const present = new Set(siblings.filter((s) => s.value !== null).map((s) => tagOf(s.value!)));
      const lost = [...tags].filter((t) => !present.has(t));
      if (lost.length > 0) violations.push({ invariant: 'no-lost-writes', key, detail: `${key}: acknowledged blind writes missing: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ` (+${lost.length - 5})` : ''}` });
    }
    for (const key of deletedKeys) {
      const siblings = await finalRead(key, 2);
      if (siblings !== undefined && distinctValues(siblings).length > 0) violations.push({ invariant: 'no-resurrection', key, detail: `${key} was deleted with its context and came back` });
    }
    const live = cluster.ids.filter((id) => cluster.nodes.has(id));
    const allKeys = new Set<string>();
    for (const id of live) for (const k of cluster.node(id).store.keys(undefined, 1_000_000)) allKeys.add(k);
    // A key whose versions are all tombstones reads as absent, and purging it is a local act
    // that replicas do at different times: for convergence such a state equals absence.
    const visible = (siblings: readonly Sibling[]) => (siblings.every((s) => s.value === null) ? [] : siblings);
    for (const key of allKeys) {
      const preferenceList = ring.preferenceList(key, 3);
      const replicas = preferenceList.filter((id) => cluster.nodes.has(id)).map((id) => visible(cluster.node(id).store.read(key)));
      if (!replicas.every((r) => r.length === replicas[0]!.length && siblingsEqual(r, replicas[0]!))) {
        violations.push({ invariant: 'convergence', key, detail: `${short(key)}: replicas ${preferenceList.join(',')} differ` });
      }
      for (const id of live) {
        const held = cluster.node(id).store.read(key);
        if (preferenceList.includes(id) || held.length === 0) continue;
        if (!finalRemoved.has(id)) {
          violations.push({ invariant: 'placement', key, detail: `${short(key)} is stored on ${id}, outside its preference list` });
          continue;
        }
        // A node removed for good may keep a key it handed off but failed to delete (its disk
        // was full): harmless, it serves nothing and discards it if re-added. What must not be
        // is a version only it holds.
        // (Where the replicas hold nothing visible, the key was deleted and its tombstone may be
        // purged since: nothing to compare against.)
        for (const replica of preferenceList.filter((r) => cluster.nodes.has(r))) {
          const there = visible(cluster.node(replica).store.read(key));
          if (there.length > 0 && !siblingsEqual(mergeSiblings(there, visible(held)), there)) {
            violations.push({ invariant: 'handed-off', key, detail: `${short(key)}: ${id}, removed for good, holds versions its replica ${replica} lacks` });
          }
        }
      }
    }
    checkMembership(live, ringIds);
    for (const id of live) {
      const held = Object.entries(cluster.node(id).hints.heldPerOwner()).filter(([, n]) => n > 0);
      for (const [owner, n] of held) {
        const membership = cluster.node(id).membership;
        if (finalRemoved.has(id)) {
          // A node removed for good may keep hints it could not hand off within the window (the
          // README's limit): harmless if their versions are on the keys' replicas, a loss if not.
          const prefix = hintKey(owner, '');
          for (const e of cluster.storages.get(id)!.scan('hints', { start: prefix, limit: 10_000 })) {
            if (!e.key.startsWith(prefix)) break;
            const key = e.key.slice(prefix.length);
            const hinted = visible(decodeRecord(e.value));
            for (const replica of ring.preferenceList(key, 3).filter((r) => cluster.nodes.has(r))) {
              const there = visible(cluster.node(replica).store.read(key));
              if (hinted.length > 0 && there.length > 0 && !siblingsEqual(mergeSiblings(there, hinted), there)) {
                violations.push({ invariant: 'handed-off', key, detail: `${short(key)}: ${id}, removed for good, holds a hint for ${short(owner)} with versions its replica ${replica} lacks` });
              }
            }
          }
          continue;
        }
        const keys = [...cluster.storages.get(id)!.scan('hints', { start: hintKey(owner, ''), limit: 3 })].filter((e) => e.key.startsWith(hintKey(owner, '')));
        const shown = keys.map((e) => `${short(e.key.slice(owner.length + 1))} (${e.value.length} bytes)`).join(', ');
        violations.push({
          invariant: 'hints-delivered',
          key: keys[0]?.key.slice(owner.length + 1),
          detail: `${id} still holds ${n} hint(s) for ${short(owner)} (${membership.record(owner)?.status ?? 'unknown'}${membership.isLocallyDown(owner) ? ', down to its detector' : ''}) after the quiet period: ${shown}`,
        });
      }
    }
    checkStoredCounters(live);
    await checkRestarts();

    const disk = cluster.diskStats();
    count('commits failed', disk.failed);
    count('commits lost in crashes', disk.lost);
    count('peer connections refused (no certificate)', cluster.network.refusedUnauthenticated);
    count('malformed peer requests', cluster.network.malformed);
    count('oversized frames', cluster.network.oversized);
    count('peer requests refused at the in-flight limit', cluster.network.overloaded);
    count('peer replies dropped (full link)', cluster.network.repliesDropped);
    count('fallback-coordinated writes', cluster.crashedFallbackWrites + [...cluster.nodes.values()].reduce((sum, node) => sum + node.coordinator.fallbackWrites, 0));
    return {
      seed: options.seed,
      profile: options.profile,
      ops,
      opsOk,
      faults: plan.length + (skew === undefined ? 0 : 1),
      simulatedMs: scheduler.nowMs,
      violations,
      traceHash: cluster.traceHash(),
      events,
      keyTraces: new Map(violations.flatMap((v) => (v.key === undefined ? [] : [[v.key, keyHistory.get(v.key) ?? []] as const]))),
      stats,
    };

    /** Tables agree, hold only valid records of real nodes, and final removals stand everywhere. */
    function checkMembership(ids: readonly string[], ringMembers: readonly string[]): void {
      // A removed node's gossip is answered but never merged, and it stops once it learns it was
      // removed: only members' tables must agree (removed-stays-removed holds on every node).
      const members = ids.filter((id) => ringMembers.includes(id));
      const tables = members.map((id) => JSON.stringify(cluster.node(id).membership.table().map((r) => [r.id, r.status, r.version])));
      if (!tables.every((t) => t === tables[0])) violations.push({ invariant: 'membership-convergence', detail: `tables differ: ${[...new Set(tables)].join(' vs ')}` });
      const expectedRing = [...ringMembers].sort().join(',');
      for (const id of ids) {
        const membership = cluster.node(id).membership;
        for (const r of membership.table()) {
          const problems = recordProblems(r, cluster.ids);
          if (problems.length > 0) violations.push({ invariant: 'membership-valid', detail: `${id} holds a bad record for ${JSON.stringify(r.id).slice(0, 40)}: ${problems.join(', ')}` });
        }
        for (const x of finalRemoved) {
          const record = membership.record(x);
          if (record?.status !== 'removed') {
            violations.push({ invariant: 'removed-stays-removed', detail: `${x} was removed for good, but ${id} has it ${record?.status} (version ${record?.version}, by ${record?.changedBy})` });
          }
        }
        const nodeRing = membership.ring()?.nodes.map((n) => n.id).sort().join(',') ?? '';
        if (members.includes(id) && nodeRing !== expectedRing) violations.push({ invariant: 'ring', detail: `${id}'s ring is [${nodeRing}], expected [${expectedRing}]` });
      }
    }

    /** Nothing stored anywhere carries a counter the cluster could not have issued. */
    function checkStoredCounters(ids: readonly string[]): void {
      for (const id of ids) {
        const disk = cluster.storages.get(id)!;
        const ceiling = disk.get('meta', 'dot-ceiling');
        if (ceiling !== undefined && !(Number(Buffer.from(ceiling).toString()) < BOGUS_COUNTER_MIN)) {
          violations.push({ invariant: 'bogus-counters', detail: `${id}'s dot ceiling is ${Buffer.from(ceiling).toString()}` });
        }
        for (const space of ['data', 'hints'] as const) {
          for (const { key, value } of disk.scan(space)) {
            stats['largest record bytes'] = Math.max(stats['largest record bytes'] ?? 0, value.length);
            let siblings: Sibling[];
            try {
              siblings = decodeRecord(value);
            } catch (err) {
              violations.push({ invariant: 'stored-records', key, detail: `${id} stores an undecodable record for ${short(key)} in ${space}: ${describeError(err)}` });
              continue;
            }
            if (siblings.length > STORED_SIBLINGS_MAX) {
              violations.push({ invariant: 'bounded-siblings', key, detail: `${id} stores ${siblings.length} versions of ${short(key)} in ${space} (at most ${STORED_SIBLINGS_MAX})` });
            }
            const bad = siblings.find((s) => s.dot.counter >= BOGUS_COUNTER_MIN || s.context.some((e) => e.counter >= BOGUS_COUNTER_MIN));
            if (bad !== undefined) violations.push({ invariant: 'bogus-counters', key, detail: `${id} stores ${short(key)} (${space}) with a counter no node issued: ${describeSiblings([bad])}` });
            const badId = siblings.flatMap((s) => [s.dot.node, ...s.context.map((e) => e.node)]).find((actor) => !isActorId(actor));
            if (badId !== undefined) violations.push({ invariant: 'stored-records', key, detail: `${id} stores ${short(key)} (${space}) with an actor id that breaks the id rule: ${JSON.stringify(badId).slice(0, 80)}` });
            if (space === 'hints' && !isNodeId(key.slice(0, key.indexOf('\u0000')))) {
              violations.push({ invariant: 'stored-records', detail: `${id} holds a hint for an owner that breaks the id rule: ${JSON.stringify(key).slice(0, 80)}` });
            }
          }
        }
      }
    }

    /** Every node restarts from its own disk (twice) and then coordinates a write and a read. */
    async function checkRestarts(): Promise<void> {
      for (const id of cluster.ids) {
        let ok = true;
        for (let i = 0; i < 2 && ok; i++) {
          await cluster.crashNode(id);
          try {
            await cluster.startNode(id);
          } catch (err) {
            violations.push({ invariant: 'not-bricked', detail: `${id} does not restart from its own disk: ${describeError(err)}` });
            ok = false;
          }
        }
        if (!ok) continue;
        await scheduler.runUntil(scheduler.nowMs + 1_000);
        const node = cluster.node(id);
        // A key this node replicates, so that it coordinates the write itself.
        let key = `probe-${id}`;
        for (let i = 0; i < 1_000 && !finalRemoved.has(id) && !ring.preferenceList(key, 3).includes(id); i++) key = `probe-${id}-${i}`;
        if (finalRemoved.has(id)) {
          // A removed node restarts from its disk, and refuses client requests clearly.
          const refusal = await scheduler.complete(frontPut(node, { key, value: Buffer.from('probe'), contentType: 'text/plain', context: '' })).then(
            () => 'accepted',
            (err: unknown) => (err instanceof CoordinationError && err.code === 'NOT_A_MEMBER' ? undefined : describeError(err)),
          );
          if (refusal !== undefined) violations.push({ invariant: 'not-bricked', detail: `${id} was removed for good, restarted, and answered a write with ${refusal} instead of NOT_A_MEMBER` });
          continue;
        }
        let lastError: unknown;
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            await scheduler.complete(frontPut(node, { key, value: Buffer.from('probe'), contentType: 'text/plain', context: '' }));
            const read = await scheduler.complete(frontGet(node, key));
            if (!read.siblings.some((s) => s.value !== null && Buffer.from(s.value).toString() === 'probe')) throw new Error('the probe write did not read back');
            lastError = undefined;
            break;
          } catch (err) {
            lastError = err;
            await scheduler.runUntil(scheduler.nowMs + 2_000);
          }
        }
        if (lastError !== undefined) violations.push({ invariant: 'not-bricked', detail: `${id} restarted but cannot write and read: ${describeError(lastError)}` });
      }
    }
  }
}

/** Why a membership record could never be valid: bad id, address, number, or a node that does not exist. */
function recordProblems(r: MemberRecord, ids: readonly string[]): string[] {
  const problems: string[] = [];
  if (!isNodeId(r.id)) problems.push('bad id');
  else if (!ids.includes(r.id)) problems.push('not a node of this cluster');
  if (!isHostPort(r.peer)) problems.push(`bad peer address ${JSON.stringify(r.peer).slice(0, 40)}`);
  if (r.http !== '' && !isHostPort(r.http)) problems.push('bad http address');
  if (!isTimeMs(r.changedAtMs)) problems.push(`changedAtMs ${r.changedAtMs}`);
  if (!isCount(r.epoch) || r.epoch >= BOGUS_COUNTER_MIN) problems.push(`epoch ${r.epoch}`);
  if (!isCount(r.version) || r.version >= BOGUS_COUNTER_MIN) problems.push(`version ${r.version}`);
  if (!isCount(r.heartbeat) || r.heartbeat >= BOGUS_COUNTER_MIN) problems.push(`heartbeat ${r.heartbeat}`);
  return problems;
}

/**
 * Set key i: odd ones are partitioned keys as the DynamoDB API makes them (placed by the part
 * before U+0001, several keys per partition), so crashes, wipes, transfers, hints and Merkle
 * repair all run over keys placed by partition too; final checks read them back by range.
 */
function setKey(i: number): string {
  return i % 2 === 0 ? `set-${i}` : `${setPartition(i)}\u0001set-${i}`;
}

function setPartition(i: number): string {
  return `\u0000Isim/p${i % 3}`;
}

function short(key: string): string {
  // Escaped: partitioned keys start with U+0000 and hold U+0001, which would garble a terminal.
  // eslint-disable-next-line no-control-regex
  const shown = key.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return shown.length > 48 ? `${shown.slice(0, 48)}...(${key.length})` : shown;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = codeOf(err);
  return `${err.name}${code !== undefined ? ` ${code}` : ''}: ${err.message.slice(0, 200)}`;
}

function describeClock(clock: VClock): string {
  return `{${clock.map((e) => `${e.node}:${e.counter}`).join(',')}}`;
}

/** One line per key state: each sibling as dot, value (or tombstone) and context. */
function describeSiblings(siblings: readonly Sibling[]): string {
  if (siblings.length === 0) return '(none)';
  return siblings
    .map((s) => {
      const value = s.value === null ? 'tombstone' : s.value.length > 64 ? `${tagOf(s.value)}(${s.value.length} bytes)` : Buffer.from(s.value).toString().trimEnd();
      return `${s.dot.node}:${s.dot.counter}=${value} ctx${describeClock(s.context)}`;
    })
    .join(' | ');
}
