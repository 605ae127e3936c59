// One dynakv node process, the one way every launcher starts one (`dynakv cluster start`, the
// tests' clusters, the benchmark, chaos): `dynakv node start` built from a NodeSpec
// (node-args.ts) under this Node.js, optionally behind a command prefix that execs it (`ip netns
// exec NAME`), its output captured (appended to a log file, or handed over line by line), healthy
// once it answers GET /health, and killed (SIGKILL), stopped (SIGTERM), paused (SIGSTOP), resumed
// (SIGCONT) or restarted on the same spec and data dir. Every process is tracked (children.ts),
// so none outlives its launcher. Knows no cluster: callers choose how many nodes, ports, when.
import { assert } from '../env/assert.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DynakvClient, type ClientCredentials } from '../client/http-client.ts';
import { isRunning, killChild, stopChild, track } from './children.ts';
import { nodeStartArgs, type NodeSpec } from './node-args.ts';
import { GiveUp, waitFor } from './wait-for.ts';

/**
 * The `dynakv` command of this code, run the way this module runs: from the built JavaScript
 * (dist/launch/, the package) through bin/dynakv.js under plain node, or from the TypeScript
 * sources (a checkout's tests, bench and chaos) through bin/dynakv-dev.js, which loads tsx. The
 * package has no sources and needs no tsx; a checkout never runs a stale build.
 */
export const DYNAKV_BIN = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../bin/dynakv-dev.js' : '../../bin/dynakv.js', import.meta.url));

/** One /health probe waits this long: a node that accepts but does not answer is not up yet. */
const HEALTH_PROBE_TIMEOUT_MS = 1_000;
const HEALTH_INTERVAL_MS_DEFAULT = 100;
/** SIGTERM lets a node close LMDB (and write a --cpu-prof profile); past this it is SIGKILLed. */
const STOP_GRACE_MS_DEFAULT = 10_000;

/** Where a node's stdout and stderr go: appended to one file (across restarts), or line by line to a callback. */
export type NodeOutput =
  | { readonly file: string }
  | { readonly lines: (line: string, stream: 'stdout' | 'stderr') => void };

/** When a started node counts as up: GET `url`/health answers 2xx within timeoutMs of the start. */
export interface HealthCheck {
  /** The node's client URL (http:// or https://HOST:HTTP_PORT). */
  readonly url: string;
  /** For HTTPS: the cluster CA at least (/health wants no client credential). */
  readonly credentials?: ClientCredentials;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
}

export interface LaunchSpec {
  readonly node: NodeSpec;
  /** The dynakv command to run (default DYNAKV_BIN; the benchmark runs another checkout's). */
  readonly bin?: string;
  /** Flags for Node.js itself, before the command (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  /**
   * A command the node runs under, e.g. ['ip', 'netns', 'exec', 'dkv-n1']. It must exec the
   * node, so that the child's pid is the node's and signals (kill, pause) reach it.
   */
  readonly prefix?: readonly string[];
  /** The node's environment (default this process's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly output: NodeOutput;
  readonly health: HealthCheck;
}

export class LaunchedNode {
  private current: ChildProcess | undefined;
  private spawnError: Error | undefined;
  private stopped = false;

  constructor(readonly spec: LaunchSpec) {}

  get id(): string {
    return this.spec.node.id;
  }

  /** The latest process started (running or not); undefined before the first launch. */
  get child(): ChildProcess | undefined {
    return this.current;
  }

  get running(): boolean {
    return this.spawnError === undefined && isRunning(this.current);
  }

  /** Stopped by pause() and not resumed, killed or restarted since. */
  get paused(): boolean {
    return this.stopped && this.running;
  }

  /** The whole command line: prefix, node, its flags, the dynakv command and `node start ...`. */
  get argv(): string[] {
    return [...(this.spec.prefix ?? []), process.execPath, ...(this.spec.nodeFlags ?? []), this.spec.bin ?? DYNAKV_BIN, ...nodeStartArgs(this.spec.node)];
  }

  /** Spawns the node (its data dir made if missing) and returns at once; waitHealthy() waits for it. */
  launch(): ChildProcess {
    assert(!this.running, () => `${this.id} is already running`);
    mkdirSync(this.spec.node.dataDir, { recursive: true });
    const [command, ...args] = this.argv;
    assert(command !== undefined, 'a command line has a command');
    const child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.spec.env ?? process.env, ...(this.spec.cwd !== undefined ? { cwd: this.spec.cwd } : {}) }));
    this.current = child;
    this.spawnError = undefined;
    this.stopped = false;
    // A command that cannot be run (a prefix not installed) is an 'error', not an exit.
    child.once('error', (err) => {
      if (this.current === child) this.spawnError = err;
    });
    capture(child, this.id, this.spec.output);
    return child;
  }

  /** Resolves once the latest process answers /health; gives up at once if it exits first. */
  async waitHealthy(): Promise<void> {
    const child = this.current;
    assert(child !== undefined, () => `${this.id} was never launched`);
    const { url, credentials, timeoutMs, intervalMs } = this.spec.health;
    const client = new DynakvClient(url, { timeoutMs: HEALTH_PROBE_TIMEOUT_MS, ...(credentials !== undefined ? { credentials } : {}) });
    try {
      await waitFor(
        `${this.id} to answer ${url}/health`,
        async () => {
          if (this.spawnError !== undefined) throw new GiveUp(`${this.id} could not be started (${this.argv[0]}): ${this.spawnError.message}`);
          if (child.exitCode !== null || child.signalCode !== null) throw new GiveUp(`${this.id} exited (${child.signalCode ?? `code ${child.exitCode}`}) before answering /health${outputHint(this.spec.output)}`);
          await client.request('/health');
          return true;
        },
        timeoutMs,
        intervalMs ?? HEALTH_INTERVAL_MS_DEFAULT,
      );
    } finally {
      client.close();
    }
  }

  /** launch() and waitHealthy(). */
  async start(): Promise<void> {
    this.launch();
    await this.waitHealthy();
  }

  /** SIGKILL: no chance to flush or close (what LMDB committed must survive); resolves once it has exited. */
  async kill(): Promise<void> {
    await killChild(this.current);
    this.stopped = false;
  }

  /** SIGTERM (a clean close), SIGKILL after graceMs; resolves once it has exited. */
  async stop(graceMs = STOP_GRACE_MS_DEFAULT): Promise<void> {
    await stopChild(this.current, graceMs);
    this.stopped = false;
  }

  /** kill(), then start() on the same spec and data dir. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** SIGSTOP: the process holds its sockets and answers nothing until resume(). */
  pause(): void {
    if (!this.running || this.current === undefined) return;
    this.current.kill('SIGSTOP');
    this.stopped = true;
  }

  /** SIGCONT, if paused. */
  resume(): void {
    if (!this.paused || this.current === undefined) return;
    this.current.kill('SIGCONT');
    this.stopped = false;
  }
}

function capture(child: ChildProcess, id: string, output: NodeOutput): void {
  const streams: Array<[Readable, 'stdout' | 'stderr']> = [];
  if (child.stdout !== null) streams.push([child.stdout, 'stdout']);
  if (child.stderr !== null) streams.push([child.stderr, 'stderr']);
  if ('lines' in output) {
    for (const [stream, name] of streams) createInterface({ input: stream }).on('line', (line) => output.lines(line, name));
    return;
  }
  mkdirSync(dirname(output.file), { recursive: true });
  const log = createWriteStream(output.file, { flags: 'a' });
  log.once('error', (err) => process.stderr.write(`launch: cannot write ${id}'s log ${output.file}: ${err.message}\n`));
  // Both streams write into the one file; it is closed once both have closed, not when the first ends.
  let open = streams.length;
  for (const [stream] of streams) {
    stream.pipe(log, { end: false });
    stream.once('close', () => {
      open -= 1;
      if (open === 0) log.end();
    });
  }
}

function outputHint(output: NodeOutput): string {
  return 'file' in output ? `; see ${output.file}` : '';
}
