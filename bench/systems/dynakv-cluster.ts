// A dynakv cluster for the benchmark: `bin/dynakv-dev.js node start` processes on free loopback ports,
// data in a temporary directory, logs under bench/results/logs/. Can SIGKILL and restart a node,
// and run every node under `node --cpu-prof` (profiles are written when a node exits on SIGTERM).
// Secure like a user's cluster (peer mutual TLS, HTTPS with a client certificate `bench` of role
// admin; certificates made once per cluster by the CLI's `certs` commands) unless `insecure`.
// The nodes are the measured checkout's own command, started like a user would, through this
// checkout's launcher (src/launch); nothing of the measured node's internals is imported, so an
// older checkout can be measured.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/launch/free-port.ts';
import { LaunchedNode } from '../../src/launch/launched-node.ts';
import type { NodeSecurity } from '../../src/launch/node-args.ts';
import type { ClientTls } from '../loadgen/protocol.ts';
import type { Cluster, Member } from './cluster.ts';
import { nodeFlagsFromEnv, removeTempDir, tempDir } from './processes.ts';

/** The checkout this benchmark belongs to; another one can be measured with DynakvClusterOptions.root. */
export const DEFAULT_DYNAKV_ROOT = resolve(import.meta.dirname, '../..');

/** The checkout's command from its sources: bin/dynakv-dev.js, or bin/dynakv.js in a checkout older than the build. */
function dynakvBin(root: string): string {
  const dev = join(root, 'bin/dynakv-dev.js');
  return existsSync(dev) ? dev : join(root, 'bin/dynakv.js');
}
/** Node start includes tsx compiling the sources; on 2 busy cores seven nodes take a while. */
const START_TIMEOUT_MS = 60_000;
/** A node flushes LMDB and (under --cpu-prof) writes its profile before exiting on SIGTERM. */
const STOP_GRACE_MS = 20_000;

export interface DynakvMember extends Member {
  readonly httpPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

export interface DynakvClusterOptions {
  readonly nodes: number;
  /** Directory for node logs (one file per node, appended across restarts). */
  readonly logDir: string;
  /** When set, every node runs under --cpu-prof and writes its profile here on a clean exit. */
  readonly cpuProfDir?: string;
  /** The dynakv checkout whose sources run the nodes (default: this one). */
  readonly root?: string;
  /** Start the nodes with --insecure (plain TCP between nodes) instead of certificates. */
  readonly insecure?: boolean;
}

const run = promisify(execFile);

export class DynakvCluster implements Cluster {
  readonly system = 'dynakv' as const;
  readonly label: string;
  /** Epoch ms at which each node process (by pid) was seen to exit: pins its CPU profile's clock. */
  readonly exitedAtMs = new Map<number, number>();

  private constructor(
    readonly members: readonly DynakvMember[],
    private readonly root: string,
    private readonly options: DynakvClusterOptions,
    private readonly name: string,
  ) {
    this.label = `dynakv (${members.length} nodes)`;
  }

  /** The CA and the `bench` client's certificate, once made (secure clusters of a checkout with HTTPS). */
  tls: ClientTls | undefined;
  /** Each member's process, from its first start on (restarts reuse it). */
  private readonly launched = new Map<string, LaunchedNode>();

  static async start(options: DynakvClusterOptions): Promise<DynakvCluster> {
    const root = tempDir(`dynakv${options.nodes}`);
    const scheme = servesHttps(options) ? 'https' : 'http';
    const members: DynakvMember[] = [];
    for (let i = 1; i <= options.nodes; i++) {
      const httpPort = await freePort();
      const peerPort = await freePort();
      members.push({ id: `n${i}`, httpPort, peerPort, url: `${scheme}://127.0.0.1:${httpPort}`, dataDir: join(root, `n${i}`) });
    }
    // A cluster name of its own: a stray node of another run can never join this ring.
    const cluster = new DynakvCluster(members, root, options, `bench-${process.pid}-${Date.now().toString(36)}`);
    try {
      await cluster.makeCerts();
      await Promise.all(members.map((m) => cluster.startNode(m.id)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /**
   * How the nodes of this checkout are told their security: a certs dir each (made here by the
   * CLI), --insecure, or nothing for a checkout older than certificates (it knows neither flag).
   */
  private securityOf(id: string): NodeSecurity {
    const root = this.options.root ?? DEFAULT_DYNAKV_ROOT;
    if (!existsSync(join(root, 'src/security/certs.ts'))) return { mode: 'unstated' };
    return this.options.insecure === true ? { mode: 'insecure' } : { mode: 'certs', certsDir: join(this.root, 'certs', id) };
  }

  private async makeCerts(): Promise<void> {
    const root = this.options.root ?? DEFAULT_DYNAKV_ROOT;
    if (this.options.insecure === true || !existsSync(join(root, 'src/security/certs.ts'))) return;
    const bin = dynakvBin(root);
    const certsDir = join(this.root, 'certs');
    const options = { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } };
    await run(process.execPath, [bin, 'certs', 'create-ca', '--certs-dir', certsDir], options);
    await Promise.all(this.members.map((m) => run(process.execPath, [bin, 'certs', 'create-node', m.id, '--certs-dir', join(certsDir, m.id), '--ca-key', join(certsDir, 'ca.key')], options)));
    if (!servesHttps(this.options)) return;
    await run(process.execPath, [bin, 'certs', 'create-client', 'bench', '--role', 'admin', '--certs-dir', certsDir, '--ca-key', join(certsDir, 'ca.key')], options);
    const read = (file: string) => readFileSync(join(certsDir, file), 'utf8');
    this.tls = { ca: read('ca.crt'), cert: read('client.bench.crt'), key: read('client.bench.key') };
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.url);
  }

  member(id: string): DynakvMember {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new Error(`no dynakv node ${id}`);
    return m;
  }

  async startNode(id: string): Promise<void> {
    const m = this.member(id);
    const node = this.launchedNode(m);
    const child = node.launch();
    m.process = child;
    child.once('exit', () => {
      if (child.pid !== undefined) this.exitedAtMs.set(child.pid, Date.now());
    });
    await node.waitHealthy();
  }

  async kill(id: string): Promise<void> {
    await this.launched.get(this.member(id).id)?.kill();
  }

  async stop(): Promise<void> {
    // SIGTERM first: a clean close, and the only way --cpu-prof writes its profile.
    await Promise.all([...this.launched.values()].map((node) => node.stop(STOP_GRACE_MS)));
    removeTempDir(this.root);
  }

  /** The member's launcher: made once, after the certificates (its health check needs them). */
  private launchedNode(m: DynakvMember): LaunchedNode {
    const made = this.launched.get(m.id);
    if (made !== undefined) return made;
    const root = this.options.root ?? DEFAULT_DYNAKV_ROOT;
    // Default profile names (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile): tsx's loader runs
    // in a worker thread that writes a profile too, and a fixed --cpu-prof-name would let it
    // overwrite the main thread's.
    const nodeFlags = this.options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', this.options.cpuProfDir];
    // BENCH_NODE_ARGS: extra node flags for every dynakv node, e.g. "--trace-gc" (output in the node logs).
    nodeFlags.push(...nodeFlagsFromEnv('BENCH_NODE_ARGS'));
    const node = new LaunchedNode({
      node: {
        id: m.id, httpPort: m.httpPort, peerPort: m.peerPort, dataDir: m.dataDir,
        ring: { peers: this.members.map((x) => ({ id: x.id, host: '127.0.0.1', peerPort: x.peerPort })) },
        cluster: this.name, logLevel: 'warn', security: this.securityOf(m.id),
      },
      bin: dynakvBin(root),
      nodeFlags,
      // NODE_OPTIONS of the benchmark itself (e.g. --import tsx) must not leak into the nodes.
      env: { ...process.env, NODE_OPTIONS: '' },
      cwd: root,
      output: { file: join(this.options.logDir, `${this.members.length}n-${m.id}.log`) },
      health: { url: m.url, ...(this.tls !== undefined ? { credentials: this.tls } : {}), timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
    });
    this.launched.set(m.id, node);
    return node;
  }
}

/** Whether the checkout's secure nodes serve HTTPS with client credentials (those newer than src/api/auth.ts). */
function servesHttps(options: DynakvClusterOptions): boolean {
  return options.insecure !== true && existsSync(join(options.root ?? DEFAULT_DYNAKV_ROOT, 'src/api/auth.ts'));
}
