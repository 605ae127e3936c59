// `npm run bench:detector -- [--dynakv-root DIR] [--burn-s S] [--kills N]`: the failure
// detector's figures on 5 real nodes (issue 14 section 4), for this checkout or another one (a
// baseline), so that before and after are measured the same way on the same machine:
//   1. false downs: S seconds with every core saturated by busy loops (twice as many as cores)
//      while 8 writers put through every node; no node fails, so every detector transition to
//      down (dynakv_failure_detector_transitions_total, summed over the nodes) is a false one,
//      and so is every hinted write;
//   2. detection: a node SIGKILLed, then the time until every live node's table says it is down
//      (repeated N times, a different node each time, restarted in between);
//   3. a pause healed: a node SIGSTOPped for 8 s and resumed; then writes through that node for
//      10 s: how many fail, and how long until it holds no peer down.
// A measurement, not a test: prints its figures, asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { fetchFor } from './systems/cluster.ts';
import { DynakvCluster } from './systems/dynakv-cluster.ts';

const { values } = parseArgs({ options: { 'dynakv-root': { type: 'string' }, 'burn-s': { type: 'string', default: '60' }, kills: { type: 'string', default: '3' } } });
const root = values['dynakv-root'];
const burnS = Number(values['burn-s']);
const kills = Number(values.kills);
if (!(burnS > 0 && burnS <= 600) || !(Number.isSafeInteger(kills) && kills >= 0 && kills <= 5)) {
  console.error('--burn-s: 1-600; --kills: 0-5');
  process.exit(2);
}

const cluster = await DynakvCluster.start({ nodes: 5, logDir: 'bench/results/logs', ...(root !== undefined ? { root } : {}) });
const get = fetchFor(cluster);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function downTransitions(): Promise<number> {
  let total = 0;
  for (const m of cluster.members) {
    if (m.process === undefined || m.process.exitCode !== null || m.process.signalCode !== null) continue;
    const text = await (await get(`${m.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const line = text.split('\n').find((l) => l.startsWith('dynakv_failure_detector_transitions_total{') && l.includes('to="down"'));
    total += line === undefined ? 0 : Number(line.split(' ').pop());
  }
  return total;
}

async function hintedWrites(): Promise<number> {
  let total = 0;
  for (const m of cluster.members) {
    const body = (await (await get(`${m.url}/local/stats`, { signal: AbortSignal.timeout(5_000) })).json()) as { hintedWrites?: number };
    total += body.hintedWrites ?? 0;
  }
  return total;
}

async function put(url: string, key: string): Promise<boolean> {
  try {
    const res = await get(`${url}/kv/${key}`, { method: 'PUT', body: `v-${key}`, headers: { 'content-type': 'text/plain' }, signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function statusOf(viewer: string, id: string): Promise<string | undefined> {
  try {
    const body = (await (await get(`${viewer}/cluster/members`, { signal: AbortSignal.timeout(2_000) })).json()) as { members: Array<{ id: string; status: string }> };
    return body.members.find((m) => m.id === id)?.status;
  } catch {
    return undefined;
  }
}

try {
  await sleep(5_000);
  // 1. False downs under saturation.
  const downsBefore = await downTransitions();
  const hintedBefore = await hintedWrites();
  const burners: ChildProcess[] = [];
  for (let i = 0; i < 2 * cpus().length; i++) {
    burners.push(spawn(process.execPath, ['-e', `const end = Date.now() + ${burnS * 1000}; while (Date.now() < end) {}`], { stdio: 'ignore' }));
  }
  const endAt = Date.now() + burnS * 1000;
  let writes = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; Date.now() < endAt; i++) {
        const m = cluster.members[(w + i) % cluster.members.length]!;
        writes++;
        if (!(await put(m.url, `burn-${w}-${i}`))) failed++;
      }
    }),
  );
  await Promise.all(burners.map((b) => new Promise((r) => (b.exitCode !== null ? r(null) : b.once('exit', r)))));
  await sleep(2_000);
  const falseDowns = (await downTransitions()) - downsBefore;
  const hinted = (await hintedWrites()) - hintedBefore;
  console.log(`saturated ${burnS} s (${burners.length} busy loops on ${cpus().length} cores): ${writes} writes, ${failed} failed; false downs ${falseDowns}; hinted writes ${hinted}`);

  // 2. Detection of a SIGKILL.
  for (let k = 0; k < kills; k++) {
    const victim = cluster.members[(k + 2) % cluster.members.length]!;
    const live = cluster.members.filter((m) => m !== victim);
    await cluster.kill(victim.id);
    const killedAt = Date.now();
    let heldDownMs = -1;
    while (Date.now() - killedAt < 30_000) {
      const statuses = await Promise.all(live.map((m) => statusOf(m.url, victim.id)));
      if (statuses.every((s) => s === 'down')) {
        heldDownMs = Date.now() - killedAt;
        break;
      }
      await sleep(50);
    }
    console.log(`SIGKILL ${victim.id}: down on every live node after ${heldDownMs} ms`);
    await cluster.startNode(victim.id);
    await sleep(5_000);
  }

  // 3. A pause, healed; then writes through the paused node.
  const paused = cluster.members[1]!;
  paused.process!.kill('SIGSTOP');
  await sleep(8_000);
  paused.process!.kill('SIGCONT');
  const resumedAt = Date.now();
  let afterWrites = 0;
  let afterFailed = 0;
  let firstOkMs = -1;
  let allUpMs = -1;
  const others = cluster.members.filter((m) => m !== paused).map((m) => m.id);
  while (Date.now() - resumedAt < 10_000) {
    afterWrites++;
    const ok = await put(paused.url, `healed-${afterWrites}`);
    if (ok && firstOkMs < 0) firstOkMs = Date.now() - resumedAt;
    if (!ok) afterFailed++;
    if (allUpMs < 0) {
      const statuses = await Promise.all(others.map((id) => statusOf(paused.url, id)));
      if (statuses.every((s) => s === 'up')) allUpMs = Date.now() - resumedAt;
    }
  }
  console.log(`SIGSTOP ${paused.id} 8 s, then SIGCONT: ${afterWrites} writes through it in 10 s, ${afterFailed} failed; first ok after ${firstOkMs} ms; its table shows every peer up after ${allUpMs} ms`);
} finally {
  await cluster.stop();
}
