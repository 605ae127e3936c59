// What HTTPS with client credentials costs on the HTTP port, roughly: a child process runs two
// one-node clusters (N=R=W=1, LMDB), one secure (HTTPS, a client certificate checked per
// connection) and one --insecure (plain HTTP); this process drives both with keep-alive undici
// Pools (CONNECTIONS connections, half GETs and half PUTs of VALUE_BYTES over KEYS keys), in
// alternating rounds of the same run. Prints the node's CPU (user + system of the child) and
// this client's CPU per request, and the throughput of each. Measured where real nodes spend it:
// parsing, routing, LMDB commits and the credential check are all in the node's share.
// Run: node --import tsx bench/http-tls-cost.ts [requests per round] [value bytes]
import { fork } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Pool } from 'undici';
import { DEFAULT_CONFIG, type NodeConfig } from '../src/node/config.ts';
import { startProductionNode, type NodeSecurity } from '../src/node/production.ts';
import { ensureClusterCerts, loadClientCerts, loadNodeCerts } from '../src/security/certs.ts';
import { insecureClusterSecret } from '../src/security/cluster-secret.ts';

const REQUESTS = Number(process.argv[2] ?? 20_000);
const VALUE_BYTES = Number(process.argv[3] ?? 100);
const CONNECTIONS = 32;
const KEYS = 1_000;
const ROUNDS = 3;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Ready {
  readonly kind: 'ready';
  readonly http: string;
  readonly https: string;
  readonly certsDir: string;
}

async function child(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'dynakv-http-tls-cost-'));
  const certs = await ensureClusterCerts({ certsDir: join(root, 'certs'), nodeIds: ['s'], clients: [{ name: 'bench', role: 'admin' }] });
  const start = async (id: string, security: NodeSecurity) => {
    const http = await freePort();
    const peer = await freePort();
    const config: NodeConfig = {
      ...DEFAULT_CONFIG, id, cluster: 'cost', n: 1, r: 1, w: 1,
      clusterSecret: security.mode === 'secure' ? security.certs.clusterSecret : insecureClusterSecret('cost'),
      peers: [{ id, host: '127.0.0.1', port: peer }], advertisePeer: `127.0.0.1:${peer}`, advertiseHttp: `127.0.0.1:${http}`,
    };
    return startProductionNode({ config, security, dataDir: join(root, `data-${id}-${security.mode}`), httpHost: '127.0.0.1', httpPort: http, peerHost: '127.0.0.1', peerPort: peer, logger: pino({ level: 'silent' }) });
  };
  const secure = await start('s', { mode: 'secure', certs: loadNodeCerts(certs.nodeDirs.get('s')!) });
  const plain = await start('p', { mode: 'insecure' });
  process.on('message', (message: { kind: string }) => {
    if (message.kind === 'cpu') process.send!({ kind: 'cpu', usage: process.cpuUsage() });
    if (message.kind === 'exit') {
      void Promise.all([secure.close(), plain.close()]).then(() => {
        rmSync(root, { recursive: true, force: true });
        process.exit(0);
      });
    }
  });
  process.send!({ kind: 'ready', http: plain.httpUrl, https: secure.httpUrl, certsDir: certs.certsDir } satisfies Ready);
}

async function main(): Promise<void> {
  const node = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<Ready>((resolve) => node.once('message', (m) => resolve(m as Ready)));
  const nodeCpuUs = () =>
    new Promise<number>((resolve) => {
      node.once('message', (m: { usage: NodeJS.CpuUsage }) => resolve(m.usage.user + m.usage.system));
      node.send({ kind: 'cpu' });
    });
  const admin = loadClientCerts(ready.certsDir, 'bench');
  const pools = {
    http: new Pool(ready.http, { connections: CONNECTIONS }),
    https: new Pool(ready.https, { connections: CONNECTIONS, connect: { ca: admin.ca, cert: admin.cert, key: admin.key } }),
  };
  const value = Buffer.alloc(VALUE_BYTES, 0x61);

  const round = async (kind: 'http' | 'https') => {
    const pool = pools[kind];
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        const i = sent++;
        const key = `/kv/key-${i % KEYS}`;
        const res = i % 2 === 0 ? await pool.request({ method: 'PUT', path: key, body: value, headers: { 'content-type': 'application/octet-stream' } }) : await pool.request({ method: 'GET', path: key });
        await res.body.arrayBuffer();
        if (res.statusCode !== 200 && res.statusCode !== 300 && res.statusCode !== 404) throw new Error(`${kind}: ${res.statusCode}`);
      }
    };
    // Every connection opened (and its handshake done) before the measurement.
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => pool.request({ method: 'GET', path: `/kv/warm-${i}` }).then((r) => r.body.arrayBuffer())));
    const nodeBefore = await nodeCpuUs();
    const clientBefore = process.cpuUsage();
    const startMs = performance.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    const ms = performance.now() - startMs;
    const client = process.cpuUsage(clientBefore);
    const nodeUs = (await nodeCpuUs()) - nodeBefore;
    return { nodeUsPerRequest: nodeUs / REQUESTS, clientUsPerRequest: (client.user + client.system) / REQUESTS, requestsPerS: REQUESTS / (ms / 1000) };
  };

  const results: Record<'http' | 'https', Array<Awaited<ReturnType<typeof round>>>> = { http: [], https: [] };
  console.log(`${ROUNDS} rounds each of ${REQUESTS} requests (half PUT, half GET, ${VALUE_BYTES}-byte values, ${CONNECTIONS} keep-alive connections), alternating`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const kind of ['http', 'https'] as const) {
      const result = await round(kind);
      results[kind].push(result);
      console.log(`  ${kind.padEnd(5)} node ${result.nodeUsPerRequest.toFixed(1)} us/request, client ${result.clientUsPerRequest.toFixed(1)} us/request, ${Math.round(result.requestsPerS)} requests/s`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = (kind: 'http' | 'https') => ({
    node: median(results[kind].map((x) => x.nodeUsPerRequest)),
    client: median(results[kind].map((x) => x.clientUsPerRequest)),
    rate: median(results[kind].map((x) => x.requestsPerS)),
  });
  const http = summary('http');
  const https = summary('https');
  console.log(`median: node CPU per request ${http.node.toFixed(1)} us (http) vs ${https.node.toFixed(1)} us (https): x${(https.node / http.node).toFixed(2)}; client x${(https.client / http.client).toFixed(2)}; throughput ${Math.round(http.rate)} vs ${Math.round(https.rate)} requests/s`);
  await Promise.all([pools.http.close(), pools.https.close()]);
  node.send({ kind: 'exit' });
}

if (process.argv[2] === '--child') await child();
else await main();
