// What mutual TLS costs on the peer link, roughly: two TcpTransports in this process, a loop of
// replica_put requests (real protocol messages, VALUE_BYTES per record, CONCURRENCY in flight),
// over plain TCP and over TLS in alternating rounds of the same run; prints the CPU time (user +
// system, both ends together) per request and the throughput of each. The handler answers at
// once, so this is the transport's cost alone, not a node's.
// Run: node --import tsx bench/peer-tls-cost.ts [requests per round] [value bytes]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePeerReply, parsePeerRequest, type PeerReply, type PeerRequest } from '../src/protocol/messages.ts';
import { ensureClusterCerts, loadNodeCerts } from '../src/security/certs.ts';
import { TcpTransport, type PeerTls } from '../src/transport/tcp-transport.ts';
import { EncodedRecord } from '../src/version/record-codec.ts';

const REQUESTS = Number(process.argv[2] ?? 40_000);
const VALUE_BYTES = Number(process.argv[3] ?? 1024);
const CONCURRENCY = 64;
const ROUNDS = 3;
const quiet = { info() {}, warn() {} };

async function pair(tls: { a: PeerTls; b: PeerTls } | undefined): Promise<{ a: TcpTransport<PeerRequest, PeerReply>; b: TcpTransport<PeerRequest, PeerReply> }> {
  const ports = new Map<string, number>();
  const make = (self: string, own: PeerTls | undefined) =>
    new TcpTransport<PeerRequest, PeerReply>({
      self, cluster: 'cost', listenHost: '127.0.0.1', listenPort: 0, log: quiet,
      resolve: (id) => (ports.has(id) ? { host: '127.0.0.1', port: ports.get(id)! } : undefined),
      parseRequest: parsePeerRequest, parseReply: parsePeerReply,
      ...(own === undefined ? {} : { tls: own }),
    });
  const a = make('a', tls?.a);
  const b = make('b', tls?.b);
  b.serve(async () => ({ kind: 'replica_put_ok' }));
  a.serve(async () => ({ kind: 'replica_put_ok' }));
  await a.listen();
  await b.listen();
  ports.set('a', a.port);
  ports.set('b', b.port);
  return { a, b };
}

async function round(label: string, tls: { a: PeerTls; b: PeerTls } | undefined): Promise<{ cpuUsPerRequest: number; requestsPerS: number }> {
  const { a, b } = await pair(tls);
  const value = new Uint8Array(VALUE_BYTES).fill(0x61);
  let counter = 0;
  const request = (): PeerRequest => {
    counter += 1;
    const record = EncodedRecord.of([{ dot: { node: 'a', counter, timeMs: Date.now() }, context: [], value, contentType: 'application/octet-stream' }]);
    return { kind: 'replica_put', key: `key-${counter % 10_000}`, record };
  };
  // Warm up the connection (and the TLS handshake) outside the measurement.
  await a.request('b', request(), 5_000);
  const cpuBefore = process.cpuUsage();
  const startMs = performance.now();
  let sent = 0;
  const worker = async () => {
    while (sent < REQUESTS) {
      sent += 1;
      await a.request('b', request(), 10_000);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsedMs = performance.now() - startMs;
  const cpu = process.cpuUsage(cpuBefore);
  await a.close();
  await b.close();
  const result = { cpuUsPerRequest: (cpu.user + cpu.system) / REQUESTS, requestsPerS: (REQUESTS / elapsedMs) * 1000 };
  console.log(`${label.padEnd(6)} ${result.cpuUsPerRequest.toFixed(1).padStart(6)} us CPU/request  ${Math.round(result.requestsPerS).toString().padStart(7)} requests/s`);
  return result;
}

const root = mkdtempSync(join(tmpdir(), 'dynakv-tls-cost-'));
try {
  const certs = await ensureClusterCerts({ certsDir: root, nodeIds: ['a', 'b'] });
  const tlsOf = (id: string): PeerTls => {
    const c = loadNodeCerts(certs.nodeDirs.get(id)!);
    return { ca: c.ca, cert: c.cert, key: c.key };
  };
  const tls = { a: tlsOf('a'), b: tlsOf('b') };
  console.log(`${REQUESTS} replica_put requests of ${VALUE_BYTES}-byte values per round, ${CONCURRENCY} in flight, both ends in this process`);
  const plain: number[] = [];
  const secure: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    plain.push((await round('plain', undefined)).cpuUsPerRequest);
    secure.push((await round('tls', tls)).cpuUsPerRequest);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  console.log(`median CPU per request: plain ${median(plain).toFixed(1)} us, TLS ${median(secure).toFixed(1)} us (+${(((median(secure) - median(plain)) / median(plain)) * 100).toFixed(0)}%)`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
