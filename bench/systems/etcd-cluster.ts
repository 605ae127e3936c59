// A 3-member etcd cluster on loopback for the side-by-side runs: the `etcd` binary (Debian's
// etcd-server) with temporary data dirs and free ports, default settings otherwise (fsync per
// raft batch, linearizable reads). Finds the leader through /v3/maintenance/status. Returns
// undefined from findEtcd() when the binary is missing, so the benchmark can skip etcd clearly.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, Member } from './cluster.ts';
import { isRunning, killChild, stopChild, track } from '../../src/launch/children.ts';
import { freePort } from '../../src/launch/free-port.ts';
import { GiveUp, waitFor } from '../../src/launch/wait-for.ts';
import { removeTempDir, tempDir } from './processes.ts';

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

/** The etcd binary's path and version, or undefined when it is not installed. */
export function findEtcd(): { readonly path: string; readonly version: string } | undefined {
  const which = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  if (which.status !== 0 || path === '') return undefined;
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.replace('etcd Version:', '').trim() ?? '?';
  return { path, version };
}

interface EtcdMember extends Member {
  readonly peerPort: number;
  readonly dataDir: string;
}

interface StatusAnswer {
  readonly header?: { readonly member_id?: string };
  readonly leader?: string;
}

export class EtcdCluster implements Cluster {
  readonly system = 'etcd' as const;
  readonly label: string;

  private constructor(
    readonly members: readonly EtcdMember[],
    private readonly root: string,
  ) {
    this.label = `etcd (${members.length} members)`;
  }

  static async start(binary: string, options: { readonly members: number; readonly logDir: string }): Promise<EtcdCluster> {
    const root = tempDir('etcd');
    const members: EtcdMember[] = [];
    for (let i = 1; i <= options.members; i++) {
      const clientPort = await freePort();
      const peerPort = await freePort();
      members.push({ id: `e${i}`, url: `http://127.0.0.1:${clientPort}`, peerPort, dataDir: join(root, `e${i}`) });
    }
    const cluster = new EtcdCluster(members, root);
    const initialCluster = members.map((m) => `${m.id}=http://127.0.0.1:${m.peerPort}`).join(',');
    // One token for all members (it seeds the cluster ID), unique per run so runs never mix.
    const token = `bench-${process.pid}-${Date.now().toString(36)}`;
    mkdirSync(options.logDir, { recursive: true });
    try {
      for (const m of members) {
        const args = [
          '--name', m.id,
          '--data-dir', m.dataDir,
          '--listen-client-urls', m.url,
          '--advertise-client-urls', m.url,
          '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
          '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
          '--initial-cluster', initialCluster,
          '--initial-cluster-token', token,
          '--initial-cluster-state', 'new',
          '--logger', 'zap',
          '--log-level', 'warn',
        ];
        const child = track(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
        const log = createWriteStream(join(options.logDir, `etcd-${m.id}.log`), { flags: 'a' });
        child.stdout!.pipe(log);
        child.stderr!.pipe(log);
        m.process = child;
      }
      await waitFor(
        'etcd to elect a leader',
        async () => {
          const dead = members.find((m) => m.process?.exitCode !== null || m.process.signalCode !== null);
          if (dead !== undefined) throw new GiveUp(`etcd ${dead.id} exited; see ${options.logDir}/etcd-${dead.id}.log`);
          return (await cluster.leader()) !== undefined;
        },
        START_TIMEOUT_MS,
        100,
      );
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.url);
  }

  /** The id of the member every live member names as leader, or undefined (election, or down). */
  async leader(): Promise<string | undefined> {
    const answers = await Promise.all(
      this.members
        .filter((m) => isRunning(m.process))
        .map(async (m) => {
          const res = await fetch(`${m.url}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1_000) });
          if (!res.ok) throw new Error(`${m.id} status: HTTP ${res.status}`);
          return { member: m, status: (await res.json()) as StatusAnswer };
        }),
    );
    const leaderIds = new Set(answers.map((a) => a.status.leader));
    if (leaderIds.size !== 1) return undefined;
    const leader = answers.find((a) => a.status.header?.member_id !== undefined && leaderIds.has(a.status.header.member_id));
    return leader?.member.id;
  }

  async kill(id: string): Promise<void> {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new Error(`no etcd member ${id}`);
    await killChild(m.process);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => stopChild(m.process, STOP_GRACE_MS)));
    removeTempDir(this.root);
  }
}
