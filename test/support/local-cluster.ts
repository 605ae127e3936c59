// Test helper: a cluster of real `dynakv node start` processes on free loopback ports, each with
// its own temporary data directory. Secure by default: certificates (a CA, one certs dir per node,
// an admin client) are made once in the temp dir, in process; `insecure` starts nodes with
// --insecure instead. It can SIGKILL and restart nodes, and it always cleans up (stop() kills
// every process and removes the directories). Node logs go to test-output/.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynakvClient } from '../../src/client/http-client.ts';
import { ensureClusterCerts } from '../../src/security/certs.ts';
import { adminCredentials, fetchWith, type TestFetch } from './cluster-fetch.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/dynakv-dev.js');

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await predicate()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface ClusterNode {
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly url: string;
  readonly dataDir: string;
  readonly client: DynakvClient;
  /** Started with --join (outside the ring until added) instead of the bootstrap --peers list. */
  joinVia?: string;
  process?: ChildProcess;
}

export class LocalCluster {
  private constructor(
    readonly name: string,
    readonly root: string,
    readonly nodes: ClusterNode[],
    readonly insecure: boolean,
  ) {}

  /** The CA's certs dir (ca.crt, ca.key, cluster.secret, client.admin.crt/.key/.token); node n's is certsDir/n. Absent when insecure. */
  get certsDir(): string {
    return join(this.root, 'certs');
  }

  static async start(name: string, count = 5, options: { readonly insecure?: boolean } = {}): Promise<LocalCluster> {
    const root = mkdtempSync(join(tmpdir(), `dynakv-${name}-`));
    const cluster = new LocalCluster(name, root, [], options.insecure === true);
    for (let i = 1; i <= count; i++) await cluster.allocate(`n${i}`);
    const nodes = cluster.nodes;
    try {
      await cluster.ensureCerts();
      await Promise.all(nodes.map((n) => cluster.startNode(n.id)));
      // A node serves data once it has heard the table from a member (src/membership/admission.ts).
      await waitFor('every node to serve', async () => {
        for (const n of nodes) if (((await (await cluster.fetch(`${n.url}/local/stats`)).json()) as { admission?: string }).admission !== 'serving') return false;
        return true;
      });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async allocate(id: string): Promise<ClusterNode> {
    const httpPort = await freePort();
    const peerPort = await freePort();
    // Secure nodes serve HTTPS and want a credential: the admin client's certificate.
    if (!this.insecure) await ensureClusterCerts({ certsDir: this.certsDir, nodeIds: [], clients: [{ name: 'admin', role: 'admin' }] });
    const url = `${this.insecure ? 'http' : 'https'}://127.0.0.1:${httpPort}`;
    const client = new DynakvClient(url, this.insecure ? {} : { credentials: adminCredentials(this.certsDir) });
    const node: ClusterNode = { id, httpPort, peerPort, url, dataDir: join(this.root, id), client };
    this.nodes.push(node);
    return node;
  }

  /** fetch() for this cluster's nodes: with the CA and the admin certificate when secure. */
  get fetch(): TestFetch {
    this.fetcher ??= fetchWith(this.insecure ? undefined : adminCredentials(this.certsDir));
    return this.fetcher;
  }

  private fetcher: TestFetch | undefined;

  /** Starts a new node that only knows how to reach the cluster (--join); an operator must add it. */
  async startJoiner(id: string, via: string): Promise<ClusterNode> {
    const node = await this.allocate(id);
    node.joinVia = `127.0.0.1:${this.node(via).peerPort}`;
    await this.ensureCerts();
    await this.startNode(id);
    return node;
  }

  /** Makes the certificates still missing (all on the first call; a joiner's later). */
  private async ensureCerts(): Promise<void> {
    if (this.insecure) return;
    await ensureClusterCerts({ certsDir: this.certsDir, nodeIds: this.nodes.map((n) => n.id), clients: [{ name: 'admin', role: 'admin' }] });
  }

  node(id: string): ClusterNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  get peerList(): string {
    return this.nodes.filter((n) => n.joinVia === undefined).map((n) => `${n.id}=127.0.0.1:${n.peerPort}`).join(',');
  }

  async startNode(id: string): Promise<void> {
    const node = this.node(id);
    mkdirSync(node.dataDir, { recursive: true });
    const logDir = join(ROOT, 'test-output', this.name);
    mkdirSync(logDir, { recursive: true });
    const log = createWriteStream(join(logDir, `${id}.log`), { flags: 'a' });
    const child = spawn(
      process.execPath,
      [
        BIN, 'node', 'start', '--id', id, '--http-port', String(node.httpPort), '--peer-port', String(node.peerPort), '--data-dir', node.dataDir,
        ...(node.joinVia !== undefined ? ['--join', node.joinVia] : ['--peers', this.peerList]),
        '--cluster', this.name, '--log-level', 'info',
        ...(this.insecure ? ['--insecure'] : ['--certs-dir', join(this.certsDir, id)]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    node.process = child;
    await waitFor(`${id} to answer /health`, async () => {
      if (child.exitCode !== null) throw new Error(`${id} exited with ${child.exitCode}`);
      return (await this.fetch(`${node.url}/health`)).ok;
    });
  }

  /** Waits until every other running node has heard `id` answer a ping since `sinceMs`. */
  async waitHeardByAll(id: string, sinceMs: number): Promise<void> {
    const others = this.nodes.filter((n) => n.id !== id && n.process?.exitCode === null && n.process.signalCode === null);
    await waitFor(`every node to hear from ${id}`, async () => {
      for (const n of others) {
        const heard = (await n.client.members()).members.find((m) => m.id === id)?.lastHeardMs ?? 0;
        if (heard < sinceMs) return false;
      }
      return true;
    });
  }

  /** SIGKILL: no chance to flush or close; what LMDB committed must survive. */
  async kill(id: string): Promise<void> {
    const child = this.node(id).process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.id)));
    rmSync(this.root, { recursive: true, force: true });
  }
}
