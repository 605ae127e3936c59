// Test helper: `dynakv node start` processes on free loopback ports, alone in their ring or with
// the peers given, secure (one CA per root: node certs in ROOT/certs/<id>, ca.crt and clients
// admin and alice in ROOT/certs) or --insecure, with extra flags (e.g. --http-limit). Collects
// output lines, reads resident memory, and stops with SIGTERM (SIGKILL after 10 s). The
// processes themselves are src/launch/'s.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchWith, type TestFetch } from '../support/cluster-fetch.ts';
import { freePort } from '../support/local-cluster.ts';
import { LaunchedNode } from '../../src/launch/launched-node.ts';
import type { PeerAddress } from '../../src/launch/node-args.ts';
import { ensureClusterCerts } from '../../src/security/certs.ts';

/** A node start compiles the sources through tsx; a node that exits is reported at once. */
const START_TIMEOUT_MS = 30_000;

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly url: string;
  readonly dataDir: string;
  /** Secure: where ca.crt and client.{admin,alice}.* are (ROOT/certs); undefined with --insecure. */
  readonly clientsDir: string | undefined;
  /** Everything it wrote to stdout and stderr so far, line by line. */
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
  /** The bootstrap ring; default this node alone. */
  readonly peers?: readonly PeerAddress[];
}

/** Spawns `dynakv node start` through the launcher without waiting for it; `exited` resolves with its exit code once its output is all read. */
export async function spawnNode(root: string, options: NodeSpawnOptions = {}) {
  const id = options.id ?? 'p1';
  const secure = options.secure ?? true;
  if (secure) await certsFor(root, id);
  const httpPort = options.httpPort ?? (await freePort());
  const peerPort = options.peerPort ?? (await freePort());
  const dataDir = options.dataDir ?? join(root, `data-${id}`);
  const clientsDir = secure ? join(root, 'certs') : undefined;
  const credentials = clientsDir === undefined ? undefined : { ca: readFileSync(join(clientsDir, 'ca.crt')), cert: readFileSync(join(clientsDir, 'client.admin.crt')), key: readFileSync(join(clientsDir, 'client.admin.key')) };
  const url = `${secure ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  let output = '';
  const launched = new LaunchedNode({
    node: {
      id, httpPort, peerPort, dataDir,
      ring: { peers: options.peers ?? [{ id, host: '127.0.0.1', peerPort }] },
      security: secure ? { mode: 'certs', certsDir: join(root, 'certs', id) } : { mode: 'insecure' },
      extraArgs: options.flags ?? [],
    },
    output: { lines: (line) => (output += `${line}\n`) },
    health: { url, ...(credentials !== undefined ? { credentials } : {}), timeoutMs: START_TIMEOUT_MS },
  });
  const child = launched.launch();
  // 'close', not 'exit': by then stdout and stderr are read to their end, so output() is whole.
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  return { child, launched, id, secure, httpPort, peerPort, dataDir, url, clientsDir, credentials, exited, output: () => output };
}

export async function startNodeProcess(root: string, options: NodeSpawnOptions = {}): Promise<NodeProcess> {
  const { child, launched, id, httpPort, peerPort, dataDir, url, clientsDir, credentials, exited, output: outputOf } = await spawnNode(root, options);
  const node: NodeProcess = {
    child,
    id,
    httpPort,
    peerPort,
    url,
    dataDir,
    clientsDir,
    output: outputOf,
    fetch: fetchWith(credentials),
    rssBytes() {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match === null) throw new Error('no VmRSS');
      return Number(match[1]) * 1024;
    },
    async stop() {
      await launched.stop();
      return exited;
    },
  };
  try {
    await launched.waitHealthy();
  } catch (err) {
    await node.stop();
    throw new Error(`${(err as Error).message}:\n${outputOf()}`);
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
