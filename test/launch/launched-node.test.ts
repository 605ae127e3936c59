// One real node through the launcher, as every launcher uses it: a secure node (certificates made
// in process) on free loopback ports is healthy once /health answers; a write it acknowledged
// survives SIGKILL and a restart on the same data dir; paused (SIGSTOP) it answers nothing, and
// resumed it answers again; SIGTERM stops it; its output lands in its log file. A node that
// exits at start is reported at once, not after the health timeout, and a launcher process that
// exits takes its nodes with it. Every test removes what it made.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DynakvClient, type ClientCredentials, type ReadResult } from '../../src/client/http-client.ts';
import { freePort } from '../../src/launch/free-port.ts';
import { LaunchedNode } from '../../src/launch/launched-node.ts';
import { waitFor } from '../../src/launch/wait-for.ts';
import { ensureClusterCerts, loadClientCerts } from '../../src/security/certs.ts';

const HEALTH_TIMEOUT_MS = 60_000;
let root: string;
let credentials: ClientCredentials;

async function oneNode(id: string, extraArgs: readonly string[] = []): Promise<LaunchedNode> {
  const httpPort = await freePort();
  const peerPort = await freePort();
  return new LaunchedNode({
    node: {
      id,
      httpPort,
      peerPort,
      dataDir: join(root, id),
      ring: { peers: [{ id, host: '127.0.0.1', peerPort }] },
      cluster: 'launch-test',
      security: { mode: 'certs', certsDir: join(root, 'certs', id) },
      extraArgs,
    },
    output: { file: join(root, 'logs', `${id}.log`) },
    health: { url: `https://127.0.0.1:${httpPort}`, credentials, timeoutMs: HEALTH_TIMEOUT_MS },
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('launched node', { timeout: 180_000 }, () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-launch-'));
    await ensureClusterCerts({ certsDir: join(root, 'certs'), nodeIds: ['a1', 'a2', 'a3'], clients: [{ name: 'admin', role: 'admin' }] });
    const admin = loadClientCerts(join(root, 'certs'), 'admin');
    credentials = { ca: admin.ca, cert: admin.cert, key: admin.key };
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('starts, survives SIGKILL and a restart with its data, pauses, resumes and stops', async () => {
    const node = await oneNode('a1');
    const client = new DynakvClient(node.spec.health.url, { timeoutMs: 2_000, credentials });
    try {
      await node.start();
      assert.equal(node.running, true);
      // Alone in its ring, a node serves once admission lets it (src/membership/admission.ts).
      await waitFor('a1 to take a write', async () => (await client.put('k', 'v1', { w: 1 })) !== '', HEALTH_TIMEOUT_MS, 100);

      const firstPid = node.child?.pid;
      await node.restart();
      assert.notEqual(node.child?.pid, firstPid);
      let read: ReadResult | undefined;
      await waitFor('a1 to serve k again', async () => (read = await client.get('k', { r: 1 })).found, HEALTH_TIMEOUT_MS, 100);
      assert.deepEqual(read?.found === true ? read.siblings.map((s) => s.value.toString()) : [], ['v1']);

      node.pause();
      assert.equal(node.paused, true);
      const probe = new DynakvClient(node.spec.health.url, { timeoutMs: 500, credentials });
      await assert.rejects(probe.request('/health'), /TimeoutError|cannot reach/);
      probe.close();
      node.resume();
      assert.equal(node.paused, false);
      await node.waitHealthy();

      await node.stop();
      assert.equal(node.running, false);
      assert.equal(node.child?.exitCode, 0, 'closed itself on SIGTERM, not killed');
      assert.match(readFileSync(join(root, 'logs', 'a1.log'), 'utf8'), /node started/);
    } finally {
      client.close();
      await node.kill();
    }
  });

  it('reports a node that exits at start at once, with its log', async () => {
    const node = await oneNode('a2', ['--http-limit', 'noSuchLimit=1']);
    const started = Date.now();
    try {
      await assert.rejects(node.start(), /a2 exited \(code 1\) before answering \/health; see .*a2\.log/);
      assert.ok(Date.now() - started < HEALTH_TIMEOUT_MS / 2, 'not after the health timeout');
    } finally {
      await node.kill();
    }
  });

  it('kills the nodes of a launcher process that exits without stopping them', async () => {
    const script = join(root, 'launcher.mts');
    const launcher = resolve(import.meta.dirname, '../../src/launch/launched-node.ts');
    const port = await freePort();
    const peerPort = await freePort();
    writeFileSync(
      script,
      `import { LaunchedNode } from ${JSON.stringify(launcher)};
const node = new LaunchedNode({
  node: { id: 'a3', httpPort: ${port}, peerPort: ${peerPort}, dataDir: ${JSON.stringify(join(root, 'a3'))}, ring: { peers: [{ id: 'a3', host: '127.0.0.1', peerPort: ${peerPort} }] }, security: { mode: 'insecure' } },
  output: { file: ${JSON.stringify(join(root, 'logs', 'a3.log'))} },
  health: { url: 'http://127.0.0.1:${port}', timeoutMs: ${HEALTH_TIMEOUT_MS} },
});
// Healthy first: the node has written its start-up lines, and a lone node then says nothing
// more, so it cannot die of a broken pipe; only the launcher's exit hook can end it.
await node.start();
console.log(node.child?.pid);
process.exit(0);
`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: resolve(import.meta.dirname, '../..') });
    const pid = Number(stdout.trim());
    assert.ok(Number.isInteger(pid) && pid > 0, `pid ${stdout}`);
    try {
      await waitFor(`node process ${pid} to be gone`, () => !isAlive(pid), 10_000, 50);
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
