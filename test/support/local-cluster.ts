// Test helper: a cluster of real `dynakv node start` processes on free loopback ports, each with
// its own temporary data directory. Secure by default: certificates (a CA, one certs dir per node,
// an admin client) are made once in the temp dir, in process; `insecure` starts nodes with
// --insecure instead. It can SIGKILL and restart nodes, and it always cleans up (stop() kills
// every process and removes the directories; the launcher kills any left at exit). The
// processes themselves are src/launch/'s. Node logs go to test-output/<cluster name>/.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynakvClient } from '../../src/client/http-client.ts';
import { freePort } from '../../src/launch/free-port.ts';
import { LaunchedNode } from '../../src/launch/launched-node.ts';
import type { PeerAddress } from '../../src/launch/node-args.ts';
import { waitFor } from '../../src/launch/wait-for.ts';
import { ensureClusterCerts } from '../../src/security/certs.ts';
import { adminCredentials, fetchWith, type TestFetch } from './cluster-fetch.ts';

// Tests import these two from here, as they did before they moved to the launcher.
export { freePort, waitFor };

const ROOT = resolve(import.meta.dirname, '../..');
/** A node start compiles the sources through tsx; a node that exits is reported at once. */
const START_TIMEOUT_MS = 20_000;

export interface ClusterNode {
  readonly id: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly url: string;
  readonly dataDir: string;
  readonly client: DynakvClient;
  /** Started with --join (outside the ring until added) instead of the bootstrap --peers list. */
  joinVia?: string;
  /** Its process, from its first start on (restarts reuse it: same spec, same data dir). */
  launched?: LaunchedNode;
  /** The latest process started, running or not. */
  readonly process: ChildProcess | undefined;
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
    const node: ClusterNode = {
      id, httpPort, peerPort, url, dataDir: join(this.root, id), client,
      get process() {
        return this.launched?.child;
      },
    };
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

  /** The bootstrap ring: every node not started as a joiner. */
  private bootstrapRing(): PeerAddress[] {
    return this.nodes.filter((n) => n.joinVia === undefined).map((n) => ({ id: n.id, host: '127.0.0.1', peerPort: n.peerPort }));
  }

  async startNode(id: string): Promise<void> {
    const node = this.node(id);
    node.launched ??= new LaunchedNode({
      node: {
        id, httpPort: node.httpPort, peerPort: node.peerPort, dataDir: node.dataDir,
        ring: node.joinVia !== undefined ? { join: node.joinVia } : { peers: this.bootstrapRing() },
        cluster: this.name, logLevel: 'info',
        security: this.insecure ? { mode: 'insecure' } : { mode: 'certs', certsDir: join(this.certsDir, id) },
      },
      output: { file: join(ROOT, 'test-output', this.name, `${id}.log`) },
      health: { url: node.url, ...(this.insecure ? {} : { credentials: adminCredentials(this.certsDir) }), timeoutMs: START_TIMEOUT_MS, intervalMs: 50 },
    });
    await node.launched.start();
  }

  /** Waits until every other running node has heard `id` answer a ping since `sinceMs`. */
  async waitHeardByAll(id: string, sinceMs: number): Promise<void> {
    const others = this.nodes.filter((n) => n.id !== id && n.launched?.running === true);
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
    await this.node(id).launched?.kill();
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.id)));
    rmSync(this.root, { recursive: true, force: true });
  }
}
