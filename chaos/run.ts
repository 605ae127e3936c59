// One chaos run, start to finish: clean up what a crashed run left, set up the network (netns
// when possible, else loopback and process faults only, said out loud), start 5 nodes, run the
// workload and the nemesis together, heal everything, wait for convergence, read every key at
// R=N, check, and write history.jsonl and report.json into chaos/results/<timestamp>/. Every exit
// path (error, Ctrl-C, SIGTERM) kills the nodes and removes the namespaces and the data.
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynakvClient } from '../src/client/http-client.ts';
import { SeededRandom } from '../src/env/seeded-random.ts';
import { killTrackedNow } from '../src/launch/children.ts';
import { freePort } from '../src/launch/free-port.ts';
import { waitFor } from '../src/launch/wait-for.ts';
import { check } from './checker.ts';
import { ChaosCluster } from './cluster.ts';
import { gatherFinalState } from './final-state.ts';
import type { FaultKind, FaultRecord, HistoryEntry, OpRecord } from './history.ts';
import { removeLeftovers, removeOwnRun } from './leftovers.ts';
import { planFaults, runNemesis } from './nemesis.ts';
import { loopbackNetwork, netnsUnavailableReason, setupNetns, type ChaosNetwork } from './network.ts';
import { runHostile, type HostileReport } from './hostile.ts';
import { formatSummary } from './report.ts';
import { runWorkload } from './workload.ts';

const NODES = 5;
/**
 * Above a healthy coordinator's worst case (its quorum wait, 2 s) with room for a loaded machine.
 * A forwarded write may wait up to 4 s, but only when its replica is silent, so giving up on it
 * earlier and asking another node is what a production driver would do too.
 */
const ATTEMPT_TIMEOUT_MS = 3_000;
const RESULTS_ROOT = resolve(import.meta.dirname, 'results');

export interface ChaosOptions {
  readonly durationS: number;
  readonly clients: number;
  readonly seed: number;
  readonly overlap: boolean;
  readonly network: 'auto' | 'netns' | 'loopback';
  /** Fault kinds to draw from; undefined: every kind the network allows. */
  readonly faults: readonly FaultKind[] | undefined;
  /** How long to wait for convergence after the heal before declaring it failed. */
  readonly quietDeadlineS: number;
  /** How clients pick a node: the key's replicas (ring), any node (round-robin), or half each (mixed). */
  readonly routing: ClientRouting;
  /** Run the hostile client (chaos/hostile.ts) beside the workload. */
  readonly hostile: boolean;
}

export type ClientRouting = 'ring' | 'round-robin' | 'mixed';

function chooseNetwork(wanted: ChaosOptions['network'], say: (line: string) => void): ChaosNetwork {
  const unavailable = netnsUnavailableReason();
  if (wanted === 'netns' && unavailable !== undefined) throw new Error(`--network netns: ${unavailable}`);
  if (wanted === 'loopback' || unavailable !== undefined) {
    say(`network: loopback, process faults only (kill, pause)${unavailable !== undefined ? `: netns mode unavailable, ${unavailable}` : ''}`);
    return loopbackNetwork();
  }
  const removed = removeLeftovers(true);
  if (removed.length > 0) say(`removed leftovers of a previous run: ${removed.join(', ')}`);
  let network: ChaosNetwork | undefined;
  try {
    network = setupNetns(NODES);
    network.heal([0]); // iptables inside a namespace: fails here, not mid-run, where it cannot work
  } catch (err) {
    network?.teardown();
    removeLeftovers(true);
    if (wanted === 'netns') throw err;
    say(`network: loopback, process faults only (kill, pause): netns setup failed here: ${(err as Error).message.split('\n')[0]}`);
    return loopbackNetwork();
  }
  say('network: one namespace per node on bridge dkv-br0 (10.213.0.0/24); partitions are iptables drops');
  return network;
}

export async function runChaos(options: ChaosOptions): Promise<boolean> {
  const say = (line: string) => console.log(line);
  say(`chaos: seed ${options.seed} (replay the schedule with --seed ${options.seed}), ${options.durationS} s, ${options.clients} clients (routing: ${options.routing})${options.overlap ? ', overlapping faults' : ''}`);
  const removed = removeLeftovers(false);
  if (removed.length > 0) say(`removed leftovers of a previous run: ${removed.join(', ')}`);
  const network = chooseNetwork(options.network, say);
  let cluster: ChaosCluster | undefined;
  let finished = false;
  const teardown = () => {
    if (finished) return;
    finished = true;
    killTrackedNow();
    network.teardown();
    removeOwnRun();
  };
  process.on('exit', teardown);
  const onSignal = (signal: NodeJS.Signals, code: number) => () => {
    process.stderr.write(`\nchaos: ${signal}, stopping the nodes and removing the namespaces...\n`);
    teardown();
    process.exit(code);
  };
  const handlers = [['SIGINT', onSignal('SIGINT', 130)], ['SIGTERM', onSignal('SIGTERM', 143)], ['SIGHUP', onSignal('SIGHUP', 129)]] as const;
  for (const [signal, handler] of handlers) process.on(signal, handler);

  try {
    const resultsDir = join(RESULTS_ROOT, new Date().toISOString().replace(/[:.]/g, '-'));
    mkdirSync(resultsDir, { recursive: true });
    say(`starting ${NODES} nodes (logs in ${resultsDir}/logs)...`);
    cluster = await ChaosCluster.start({ network, count: NODES, logDir: join(resultsDir, 'logs'), ports: freePort });
    const endpoints = new Map(cluster.nodes.map((n) => [n.id, n.url]));
    const credentials = cluster.credentials;
    await waitFor('every node to see every other up', async () => {
      for (const url of endpoints.values()) {
        const client = new DynakvClient(url, { timeoutMs: 2_000, ...(credentials !== undefined ? { credentials } : {}) });
        const { members } = await client.members().finally(() => client.close());
        if (members.filter((m) => m.status === 'up').length < NODES) return false;
      }
      return true;
    }, 60_000, 200);

    const kinds: FaultKind[] = (options.faults ?? ['kill', 'wipe', 'pause', 'isolate', 'split']).filter((k) => network.partitions || (k !== 'isolate' && k !== 'split'));
    const random = new SeededRandom(options.seed);
    const durationMs = options.durationS * 1000;
    const plan = planFaults({ ids: cluster.ids, durationMs, kinds, overlap: options.overlap, random: random.fork() });
    say(`nemesis: ${plan.length} faults planned from [${kinds.join(', ')}]`);

    const history: HistoryEntry[] = [];
    const historyFile = createWriteStream(join(resultsDir, 'history.jsonl'));
    const record = (entry: HistoryEntry) => {
      history.push(entry);
      historyFile.write(`${JSON.stringify(entry)}\n`);
    };
    const t0 = performance.now();
    const elapsedMs = () => performance.now() - t0;
    let workloadDone = false;
    const progress = setInterval(() => {
      const ops = history.filter((e): e is OpRecord => e.type === 'op');
      say(`${(elapsedMs() / 1000).toFixed(1).padStart(6)} s  ops ${ops.length}, failed ${ops.filter((o) => o.outcome !== 'ok').length}`);
    }, 10_000);
    const nemesis = runNemesis(plan, { cluster, network, elapsedMs, record: (f: FaultRecord) => record(f), log: say, stopped: () => workloadDone });
    const hostileRandom = random.fork();
    const hostile: Promise<HostileReport | undefined> = options.hostile
      ? runHostile({
          targets: cluster.nodes.map((n) => ({ id: n.id, url: n.url, peerHost: n.host, peerPort: n.peerPort })),
          ...(credentials !== undefined ? { credentials } : {}),
          durationMs,
          random: hostileRandom,
          elapsedMs,
        })
      : Promise.resolve(undefined);
    await runWorkload({ clients: options.clients, routing: options.routing, durationMs, endpoints, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, random: random.fork(), elapsedMs, record, ...(credentials !== undefined ? { credentials } : {}) });
    workloadDone = true;
    clearInterval(progress);
    await nemesis.done;
    const hostileReport = await hostile;

    say(`${(elapsedMs() / 1000).toFixed(1).padStart(6)} s  final heal; waiting for hints and anti-entropy to converge (deadline ${options.quietDeadlineS} s)`);
    network.heal(cluster.nodes.map((n) => n.index));
    await cluster.reviveAll();
    await new Promise<void>((r) => historyFile.end(r));
    const keys = [...new Set(history.flatMap((e) => (e.type === 'op' ? [e.key] : [])))].sort();
    const final = await gatherFinalState(endpoints, keys, options.quietDeadlineS * 1000, say, credentials);
    const report = check(history, final);
    const summary = {
      seed: options.seed,
      durationS: options.durationS,
      clients: options.clients,
      network: network.mode === 'netns' ? 'netns (real packet drops)' : 'loopback (process faults only)',
      convergedAfterMs: final.convergedAfterMs,
      resultsDir,
      check: report,
      ...(hostileReport !== undefined ? { hostile: hostileReport } : {}),
    };
    writeFileSync(join(resultsDir, 'report.json'), `${JSON.stringify({ ...summary, options, plan, faults: history.filter((e) => e.type === 'fault') }, null, 2)}\n`);
    say(formatSummary(summary));
    return report.valid && (hostileReport?.unexpected.length ?? 0) === 0;
  } finally {
    await cluster?.stop();
    teardown();
    process.off('exit', teardown);
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
