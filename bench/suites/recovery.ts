// Recovery suite (dynakv only): how long, and how many bytes, a node that was down needs to catch
// up on the writes it missed. Load, SIGKILL one node, write fresh keys while it is down, restart
// it, then watch its own key count (/local/stats) and its I/O (/proc/PID/io) for a while, and
// finally check each missed key it replicates on /local/kv. Uses only the public HTTP API and
// the placement rule the README documents (MD5 ring, home range, N replicas).
import { createHash } from 'node:crypto';
import { fmtBytes, fmtNumber, summarizePhase, type PhaseSummary, type Table } from '../report.ts';
import { fetchFor, type ClusterFetch } from '../systems/cluster.ts';
import { DynakvCluster } from '../systems/dynakv-cluster.ts';
import { ioOf, type IoReading } from '../systems/processes.ts';
import { counterDeltas, dynakvRootOf, loadPhase, nodeCounters, startGenerator, type BenchContext } from './common.ts';

const RECOVERY_NODES = 5;
const VICTIM = 'n3';
const KEY_PREFIX = 'rec';
const POLL_MS = 250;
/** Quorum reads of missed keys after the restart: enough to see whether R=2 still answers. */
const QUORUM_READ_SAMPLE = 200;
const CHECK_CONCURRENCY = 32;

export interface RecoveryRecord {
  readonly victim: string;
  readonly keysBefore: number;
  readonly writtenWhileDown: number;
  readonly writePhase: PhaseSummary;
  /** Keys written while down whose preference list includes the victim. */
  readonly missedOnVictim: number;
  readonly waitedS: number;
  /** Seconds from the restart until /local/stats counted every missed key, or undefined. */
  readonly caughtUpAfterS: number | undefined;
  /** Missed keys the victim holds (on /local/kv) at the end of the wait. */
  readonly presentAtEnd: number;
  /** The victim's read()/write() bytes during the wait (sockets and files; not mmap reads). */
  readonly victimIo: IoReading;
  readonly quorumReads: { readonly asked: number; readonly ok: number; readonly errors: Record<string, number> };
  readonly countSeries: readonly number[];
  /** Change of every /local/stats number over the wait, summed over the nodes (what did the work). */
  readonly counters: Record<string, number>;
}

interface RingNode {
  readonly id: string;
  readonly range: { readonly start: string; readonly end: string; readonly wraps: boolean };
  readonly replicas: readonly string[];
}

function replicasOf(ring: readonly RingNode[], key: string): readonly string[] {
  const p = BigInt('0x' + createHash('md5').update(key, 'utf8').digest('hex'));
  for (const node of ring) {
    const start = BigInt('0x' + node.range.start);
    const end = BigInt('0x' + node.range.end);
    const inside = node.range.wraps ? p >= start || p < end : p >= start && p < end;
    if (inside || (ring.length === 1 && start === end)) return node.replicas;
  }
  throw new Error(`no home range contains MD5(${key}); the ring view is not what this suite expects`);
}

async function localKeys(get: ClusterFetch, url: string): Promise<number> {
  const res = await get(`${url}/local/stats`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { keys?: unknown };
  if (typeof body.keys !== 'number') throw new Error('/local/stats has no "keys" number');
  return body.keys;
}

/** The restarted node's key count, or undefined while it is too busy catching up to answer. */
async function localKeysIfAnswered(get: ClusterFetch, url: string): Promise<number | undefined> {
  try {
    return await localKeys(get, url);
  } catch {
    return undefined;
  }
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function recoverySuite(ctx: BenchContext): Promise<RecoveryRecord> {
  const { recoveryKeys, recoveryWaitS } = ctx.options;
  ctx.log(`\n== recovery: dynakv with ${RECOVERY_NODES} nodes, ${VICTIM} down while ${recoveryKeys} keys are written`);
  const cluster = await DynakvCluster.start({ nodes: RECOVERY_NODES, logDir: ctx.logDir, ...dynakvRootOf(ctx) });
  try {
    const generator = await startGenerator(ctx);
    try {
      await loadPhase(ctx, generator, cluster);
      const get = fetchFor(cluster);
      const victim = cluster.member(VICTIM);
      const live = cluster.members.filter((m) => m.id !== VICTIM);
      const keysBefore = await localKeys(get, victim.url);
      const ringRes = await get(`${live[0]!.url}/cluster/ring`);
      const ring = ((await ringRes.json()) as { nodes: RingNode[] }).nodes;

      await cluster.kill(VICTIM);
      ctx.log(`  ${VICTIM} killed (it held ${keysBefore} keys); writing ${recoveryKeys} new keys...`);
      const writePhase = summarizePhase(
        await generator.load(
          cluster,
          live.map((m) => m.url),
          recoveryKeys,
          KEY_PREFIX,
        ),
      );
      const written = Array.from({ length: recoveryKeys }, (_, i) => `${KEY_PREFIX}${i}`);
      const missed = written.filter((k) => replicasOf(ring, k).includes(VICTIM));

      ctx.log(`  restarting ${VICTIM}; ${missed.length} of the new keys belong on it; watching for ${recoveryWaitS} s...`);
      const counters0 = await nodeCounters(cluster);
      await cluster.startNode(VICTIM);
      const restartedAt = Date.now();
      const pid = victim.process?.pid;
      const io0 = ioOf(pid);
      const countSeries: number[] = [];
      let caughtUpAfterS: number | undefined;
      while (Date.now() - restartedAt < recoveryWaitS * 1000) {
        const count = await localKeysIfAnswered(get, victim.url);
        if (count === undefined) continue;
        countSeries.push(count - keysBefore);
        if (caughtUpAfterS === undefined && count >= keysBefore + missed.length) {
          caughtUpAfterS = (Date.now() - restartedAt) / 1000;
          break;
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      const waitedS = (Date.now() - restartedAt) / 1000;
      // The victim's own counters restart from zero: count them from nothing.
      const counters1 = await nodeCounters(cluster);
      counters0.set(VICTIM, new Map());
      const counters = Object.fromEntries(Object.entries(counterDeltas(counters0, counters1)).filter(([, v]) => v !== 0));
      const io1 = ioOf(pid);
      const victimIo = { rchar: (io1?.rchar ?? NaN) - (io0?.rchar ?? NaN), wchar: (io1?.wchar ?? NaN) - (io0?.wchar ?? NaN) };

      let presentAtEnd = 0;
      await inParallel(missed, CHECK_CONCURRENCY, async (key) => {
        const res = await get(`${victim.url}/local/kv/${encodeURIComponent(key)}`);
        await res.arrayBuffer();
        if (res.status === 200) presentAtEnd++;
      });

      const sample = missed.slice(0, QUORUM_READ_SAMPLE);
      const errors: Record<string, number> = {};
      let ok = 0;
      await inParallel(sample, CHECK_CONCURRENCY, async (key) => {
        // Coordinated by the restarted node itself: it must gather R=2 from its peers.
        const res = await get(`${victim.url}/kv/${encodeURIComponent(key)}`);
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else errors[`http ${res.status}`] = (errors[`http ${res.status}`] ?? 0) + 1;
      });

      const record: RecoveryRecord = {
        victim: VICTIM,
        keysBefore,
        writtenWhileDown: recoveryKeys,
        writePhase,
        missedOnVictim: missed.length,
        waitedS,
        caughtUpAfterS,
        presentAtEnd,
        victimIo,
        quorumReads: { asked: sample.length, ok, errors },
        countSeries,
        counters,
      };
      ctx.log(
        `  recovery: ${presentAtEnd}/${missed.length} missed keys present after ${waitedS.toFixed(1)} s` +
          (caughtUpAfterS === undefined ? ' (not caught up)' : ` (caught up after ${caughtUpAfterS.toFixed(2)} s)`) +
          `; victim read ${fmtBytes(victimIo.rchar)}, wrote ${fmtBytes(victimIo.wchar)}`,
      );
      return record;
    } finally {
      await generator.close();
    }
  } finally {
    await cluster.stop();
  }
}

export function recoveryTables(r: RecoveryRecord | undefined): Table[] {
  if (r === undefined) return [];
  return [
    {
      title: `Recovery: dynakv ${RECOVERY_NODES} nodes, ${r.victim} SIGKILLed, ${r.writtenWhileDown} keys written while it was down, then restarted`,
      headers: ['missed keys', 'write ops/s while down', 'write errors', 'caught up after', 'present after wait', 'victim bytes read', 'victim bytes written', 'quorum reads ok'],
      rows: [
        [
          String(r.missedOnVictim),
          fmtNumber(r.writePhase.opsPerSec),
          String(r.writePhase.errorCount),
          r.caughtUpAfterS === undefined ? `not within ${r.waitedS.toFixed(0)} s` : `${r.caughtUpAfterS.toFixed(2)} s`,
          `${r.presentAtEnd}/${r.missedOnVictim}`,
          fmtBytes(r.victimIo.rchar),
          fmtBytes(r.victimIo.wchar),
          `${r.quorumReads.ok}/${r.quorumReads.asked}`,
        ],
      ],
      notes: [
        `new keys on ${r.victim} (from /local/stats) every ${POLL_MS} ms after the restart: ${r.countSeries.join(' ')}`,
        `/local/stats changes over the wait, all nodes: ${Object.entries(r.counters).map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`).join(', ') || 'none'}`,
      ],
    },
  ];
}
