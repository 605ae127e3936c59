// A dynakv cluster for the benchmark: `bin/dynakv-dev.js node start` processes on free loopback ports,
// data in a temporary directory, logs under bench/results/logs/. Can SIGKILL and restart a node,
// and run every node under `node --cpu-prof` (profiles are written when a node exits on SIGTERM).
// Secure like a user's cluster (peer mutual TLS, HTTPS with a client certificate `bench` of role
// admin; certificates made once per cluster by the CLI's `certs` commands) unless `insecure`. Spawns the CLI like a user would; it must not import
// dynakv's internals.
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import type { ClientTls } from '../loadgen/protocol.ts';
import { fetchFor, type Cluster, type ClusterFetch, type Member } from './cluster.ts';
import { freePort, GiveUp, isRunning, killChild, nodeFlagsFromEnv, removeTempDir, stopChild, tempDir, track, waitFor } from './processes.ts';

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
  private healthFetch: ClusterFetch | undefined;

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
  private securityFlags(id: string): string[] {
    const root = this.options.root ?? DEFAULT_DYNAKV_ROOT;
    if (!existsSync(join(root, 'src/security/certs.ts'))) return [];
    return this.options.insecure === true ? ['--insecure'] : ['--certs-dir', join(this.root, 'certs', id)];
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
    if (isRunning(m.process)) throw new Error(`assertion: ${id} is already running`);
    mkdirSync(m.dataDir, { recursive: true });
    mkdirSync(this.options.logDir, { recursive: true });
    const peers = this.members.map((x) => `${x.id}=127.0.0.1:${x.peerPort}`).join(',');
    // Default profile names (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile): tsx's loader runs
    // in a worker thread that writes a profile too, and a fixed --cpu-prof-name would let it
    // overwrite the main thread's.
    const nodeArgs = this.options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', this.options.cpuProfDir];
    // BENCH_NODE_ARGS: extra node flags for every dynakv node, e.g. "--trace-gc" (output in the node logs).
    nodeArgs.push(...nodeFlagsFromEnv('BENCH_NODE_ARGS'));
    const root = this.options.root ?? DEFAULT_DYNAKV_ROOT;
    const args = [...nodeArgs, dynakvBin(root), 'node', 'start', '--id', id, '--http-port', String(m.httpPort), '--peer-port', String(m.peerPort), '--data-dir', m.dataDir, '--peers', peers, '--cluster', this.name, '--log-level', 'warn', ...this.securityFlags(id)];
    // NODE_OPTIONS of the benchmark itself (e.g. --import tsx) must not leak into the nodes.
    const env = { ...process.env, NODE_OPTIONS: '' };
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: root }));
    const log = createWriteStream(join(this.options.logDir, `${this.members.length}n-${id}.log`), { flags: 'a' });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    m.process = child;
    child.once('exit', () => {
      if (child.pid !== undefined) this.exitedAtMs.set(child.pid, Date.now());
    });
    await waitFor(
      `dynakv ${id} to answer /health`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new GiveUp(`${id} exited (${child.signalCode ?? child.exitCode}); see ${this.options.logDir}`);
        this.healthFetch ??= fetchFor(this);
        return (await this.healthFetch(`${m.url}/health`, { signal: AbortSignal.timeout(1_000) })).ok;
      },
      START_TIMEOUT_MS,
      100,
    );
  }

  async kill(id: string): Promise<void> {
    await killChild(this.member(id).process);
  }

  async stop(): Promise<void> {
    // SIGTERM first: a clean close, and the only way --cpu-prof writes its profile.
    await Promise.all(this.members.map((m) => stopChild(m.process, STOP_GRACE_MS)));
    removeTempDir(this.root);
  }
}

/** Whether the checkout's secure nodes serve HTTPS with client credentials (those newer than src/api/auth.ts). */
function servesHttps(options: DynakvClusterOptions): boolean {
  return options.insecure !== true && existsSync(join(options.root ?? DEFAULT_DYNAKV_ROOT, 'src/api/auth.ts'));
}
