// Test helper: `dynakv node start` processes on free loopback ports, alone in their ring or with
// the peers given, secure (one CA per root: node certs in ROOT/certs/<id>, ca.crt and clients
// admin and alice in ROOT/certs) or --insecure, with extra flags (e.g. --http-limit). Collects
// output lines, reads resident memory, and stops with SIGTERM (SIGKILL after 10 s).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fetchWith, type TestFetch } from '../support/cluster-fetch.ts';
import { freePort, waitFor } from '../support/local-cluster.ts';
import { ensureClusterCerts } from '../../src/security/certs.ts';

export const BIN = resolve(import.meta.dirname, '../../bin/dynakv-dev.js');

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly url: string;
  readonly dataDir: string;
  /** Secure: where ca.crt and client.{admin,alice}.* are (ROOT/certs); undefined with --insecure. */
  readonly clientsDir: string | undefined;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** fetch() with the admin credential (secure) or plain (insecure). */
  readonly fetch: TestFetch;
  rssBytes(): number;
  stop(): Promise<number | null>;
}

/** Certificates for node `id` under ROOT/certs, from the root's one CA (made on first use). */
export async function certsFor(root: string, id: string): Promise<void> {
  await ensureClusterCerts({ certsDir: join(root, 'certs'), nodeIds: [id], clients: [{ name: 'admin', role: 'admin' }, { name: 'alice', role: 'user' }] });
}

export interface NodeSpawnOptions {
  readonly id?: string;
  readonly secure?: boolean;
  readonly flags?: readonly string[];
  readonly dataDir?: string;
  readonly httpPort?: number;
  readonly peerPort?: number;
  /** The bootstrap ring (ID=HOST:PORT,...); default this node alone. */
  readonly peers?: string;
}

/** Spawns `dynakv node start` without waiting for it; `exited` resolves with its exit code. */
export async function spawnNode(root: string, options: NodeSpawnOptions = {}) {
  const id = options.id ?? 'p1';
  const secure = options.secure ?? true;
  if (secure) await certsFor(root, id);
  const httpPort = options.httpPort ?? (await freePort());
  const peerPort = options.peerPort ?? (await freePort());
  const dataDir = options.dataDir ?? join(root, `data-${id}`);
  const child = spawn(
    process.execPath,
    [BIN, 'node', 'start', '--id', id, '--http-port', String(httpPort), '--peer-port', String(peerPort), '--data-dir', dataDir, '--peers', options.peers ?? `${id}=127.0.0.1:${peerPort}`, ...(secure ? ['--certs-dir', join(root, 'certs', id)] : ['--insecure']), ...(options.flags ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, id, secure, httpPort, peerPort, dataDir, exited, output: () => output };
}

export async function startNodeProcess(root: string, options: NodeSpawnOptions = {}): Promise<NodeProcess> {
  const { child, id, secure, httpPort, peerPort, dataDir, exited, output: outputOf } = await spawnNode(root, options);
  const clientsDir = secure ? join(root, 'certs') : undefined;
  const url = `${secure ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  const get: TestFetch = clientsDir === undefined ? fetchWith(undefined) : fetchWith({ ca: readFileSync(join(clientsDir, 'ca.crt')), cert: readFileSync(join(clientsDir, 'client.admin.crt')), key: readFileSync(join(clientsDir, 'client.admin.key')) });
  const node: NodeProcess = {
    child,
    id,
    httpPort,
    peerPort,
    url,
    dataDir,
    clientsDir,
    output: outputOf,
    fetch: get,
    rssBytes() {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match === null) throw new Error('no VmRSS');
      return Number(match[1]) * 1024;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(kill);
      }
      return exited;
    },
  };
  try {
    let healthy = false;
    await waitFor(`${id} to answer /health or exit`, async () => {
      healthy = await get(`${url}/health`).then((r) => r.ok, () => false);
      return healthy || child.exitCode !== null;
    }, 30_000, 100);
    if (!healthy) throw new Error(`${id} exited with ${child.exitCode}:\n${outputOf()}`);
  } catch (err) {
    await node.stop();
    throw err;
  }
  return node;
}

/** Pino JSON lines of `output` at level warn (40) or above. */
export function warnLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => typeof l.level === 'number' && l.level >= 40);
}
