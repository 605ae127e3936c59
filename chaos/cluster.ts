// The chaos cluster: five `dynakv node start` processes, each in its network (see network.ts),
// with data in a temporary directory and logs in the run's results folder. Nodes are secure (peer
// mutual TLS; certificates, with an admin credential, made once in the data directory's certs/)
// unless started insecure. It kills (SIGKILL), wipes, restarts, pauses (SIGSTOP) and resumes
// (SIGCONT) nodes; the processes themselves (arguments, the netns prefix, logs, the /health wait,
// signals, the exit-time kill) are src/launch/'s. This module knows no workload and no checker.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynakvClient, type ClientCredentials } from '../src/client/http-client.ts';
import { LaunchedNode } from '../src/launch/launched-node.ts';
import { waitFor } from '../src/launch/wait-for.ts';
import { ensureClusterCerts, loadClientCerts } from '../src/security/certs.ts';
import { recordRunState } from './leftovers.ts';
import type { ChaosNetwork } from './network.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** tsx compiles the sources at start; five at once on 2 busy cores take a while. */
const START_TIMEOUT_MS = 90_000;
const BASE_HTTP_PORT = 7001;
const BASE_PEER_PORT = 7101;

export interface ChaosNode {
  readonly id: string;
  readonly index: number;
  readonly host: string;
  readonly httpPort: number;
  readonly peerPort: number;
  readonly url: string;
  readonly dataDir: string;
  /** Its process, started in its network (set once the certificates exist; restarts reuse it). */
  launched?: LaunchedNode;
}

export class ChaosCluster {
  private constructor(
    readonly name: string,
    readonly dataRoot: string,
    readonly nodes: readonly ChaosNode[],
    private readonly network: ChaosNetwork,
    private readonly logDir: string,
    private readonly insecure: boolean,
  ) {}

  /** The CA's certs dir (ca.crt, client.admin.crt/.key/.token); node n's is certsDir/n. Absent when insecure. */
  get certsDir(): string {
    return join(this.dataRoot, 'certs');
  }

  /** What the workload and checks talk to the nodes with: the CA and the admin client's certificate (none when insecure). */
  get credentials(): ClientCredentials | undefined {
    if (this.insecure) return undefined;
    this.adminCredentials ??= (() => {
      const admin = loadClientCerts(this.certsDir, 'admin');
      return { ca: admin.ca, cert: admin.cert, key: admin.key };
    })();
    return this.adminCredentials;
  }

  private adminCredentials: ClientCredentials | undefined;

  /** Allocates addresses (ports from `ports` in loopback mode) and starts every node. */
  static async start(options: { network: ChaosNetwork; count: number; logDir: string; ports: () => Promise<number>; insecure?: boolean }): Promise<ChaosCluster> {
    const name = `dkv-chaos-${process.pid}-${Date.now().toString(36)}`;
    const dataRoot = mkdtempSync(join(tmpdir(), `${name}-`));
    const nodes: ChaosNode[] = [];
    for (let index = 0; index < options.count; index++) {
      const host = options.network.hostOf(index);
      // In netns mode every node has an address of its own, so the ports can be fixed.
      const loopback = options.network.mode === 'loopback';
      const httpPort = loopback ? await options.ports() : BASE_HTTP_PORT;
      const peerPort = loopback ? await options.ports() : BASE_PEER_PORT;
      const id = `n${index + 1}`;
      // Secure nodes serve HTTPS (certificates from the cluster's CA) and want a credential.
      nodes.push({ id, index, host, httpPort, peerPort, url: `${options.insecure === true ? 'http' : 'https'}://${host}:${httpPort}`, dataDir: join(dataRoot, id) });
    }
    mkdirSync(options.logDir, { recursive: true });
    const cluster = new ChaosCluster(name, dataRoot, nodes, options.network, options.logDir, options.insecure === true);
    if (!cluster.insecure) {
      await ensureClusterCerts({
        certsDir: cluster.certsDir,
        nodeIds: nodes.map((n) => n.id),
        hosts: (id) => [cluster.node(id).host],
        clients: [{ name: 'admin', role: 'admin' }],
      });
    }
    cluster.saveState();
    await Promise.all(nodes.map((n) => cluster.startNode(n.id)));
    return cluster;
  }

  node(id: string): ChaosNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no chaos node ${id}`);
    return node;
  }

  get ids(): string[] {
    return this.nodes.map((n) => n.id);
  }

  isUp(id: string): boolean {
    return this.node(id).launched?.running === true;
  }

  async startNode(id: string): Promise<void> {
    const node = this.node(id);
    node.launched ??= new LaunchedNode({
      node: {
        id, host: node.host, httpPort: node.httpPort, peerPort: node.peerPort, dataDir: node.dataDir,
        ring: { peers: this.nodes.map((n) => ({ id: n.id, host: n.host, peerPort: n.peerPort })) },
        cluster: this.name, logLevel: 'info',
        security: this.insecure ? { mode: 'insecure' } : { mode: 'certs', certsDir: join(this.certsDir, id) },
      },
      // `ip netns exec` execs the command, so the child's pid is the node's: signals reach it.
      prefix: this.network.prefix(node.index),
      env: { ...process.env, NODE_OPTIONS: '' },
      cwd: ROOT,
      output: { file: join(this.logDir, `${id}.log`) },
      health: { url: node.url, ...(this.credentials !== undefined ? { credentials: this.credentials } : {}), timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
    });
    node.launched.launch();
    this.saveState();
    await node.launched.waitHealthy();
  }

  /** Waits until the node reports its start-up recovery done (`/local/stats` sync state ready). */
  async waitReady(id: string): Promise<void> {
    const node = this.node(id);
    const client = new DynakvClient(node.url, { timeoutMs: 2_000, ...(this.credentials !== undefined ? { credentials: this.credentials } : {}) });
    try {
      await waitFor(
        `${id} to finish its recovery`,
        async () => {
          const stats = JSON.parse((await client.request('/local/stats')).body.toString('utf8')) as { sync?: { state?: unknown } };
          return stats.sync?.state === 'ready';
        },
        START_TIMEOUT_MS,
        200,
      );
    } finally {
      client.close();
    }
  }

  /** SIGKILL: no chance to flush or close; what LMDB committed must survive. */
  async kill(id: string): Promise<void> {
    await this.node(id).launched?.kill();
  }

  /**
   * A lost disk: SIGKILL, then the node's data directory (LMDB: replicas, hints, membership,
   * dot counter) is deleted. Its certificates live elsewhere, so startNode brings it back as the
   * same node id on an empty disk.
   */
  async wipe(id: string): Promise<void> {
    await this.kill(id);
    rmSync(this.node(id).dataDir, { recursive: true, force: true });
  }

  pause(id: string): void {
    this.node(id).launched?.pause();
  }

  resume(id: string): void {
    this.node(id).launched?.resume();
  }

  /** Resumes paused nodes and starts killed ones; resolves once every node answers /health. */
  async reviveAll(): Promise<void> {
    for (const n of this.nodes) this.resume(n.id);
    await Promise.all(this.nodes.filter((n) => !this.isUp(n.id)).map((n) => this.startNode(n.id)));
  }

  /** Kills every node (a SIGSTOPped process dies on SIGKILL too) and removes the data. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.id)));
    rmSync(this.dataRoot, { recursive: true, force: true });
  }

  private saveState(): void {
    const nodePids = this.nodes.flatMap((n) => (n.launched?.child?.pid !== undefined ? [n.launched.child.pid] : []));
    recordRunState({ runnerPid: process.pid, cluster: this.name, dataRoot: this.dataRoot, nodePids });
  }
}
