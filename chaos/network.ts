// Where the chaos cluster's nodes live and how partitions are made. netns: as root with `ip` and
// `iptables`, each node runs in its own network namespace (dkv-n1..) with its own address on a
// bridge (dkv-br0, 10.213.0.0/24; the root namespace holds 10.213.0.1 so the workload and checker
// reach every node), and partitions are iptables DROP rules inside the namespaces: real packet
// loss, no RST. loopback: nodes on 127.0.0.1, no partitions. Only names with the dkv- prefix and
// that subnet are ever created or removed; teardown is synchronous so it also runs in 'exit'.
import { execFileSync } from 'node:child_process';

export const NAME_PREFIX = 'dkv-';
const BRIDGE = 'dkv-br0';
const SUBNET_PREFIX = '10.213.0';
const BRIDGE_ADDRESS = `${SUBNET_PREFIX}.1`;

export interface ChaosNetwork {
  readonly mode: 'netns' | 'loopback';
  /** Whether isolate and split faults can be made. */
  readonly partitions: boolean;
  /** The address node `index` (0-based) listens on. */
  hostOf(index: number): string;
  /** The command a node `index` runs under to be in its network (it execs the node); [] on loopback. */
  prefix(index: number): string[];
  /** Drops every packet between the two sides (one side may be the node alone, the other everyone). */
  cut(index: number, from: 'everyone' | readonly number[]): void;
  /** Removes every cut made in these nodes' networks. */
  heal(indices: readonly number[]): void;
  /** Removes everything setup created; safe to call twice. */
  teardown(): void;
}

function run(argv: readonly string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(argv: readonly string[]): string | undefined {
  try {
    return run(argv);
  } catch {
    return undefined;
  }
}

/** Why netns mode cannot be used here, or undefined when it can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (tryRun(['ip', 'netns', 'list']) === undefined) return '`ip netns` is not available';
  if (tryRun(['iptables', '--version']) === undefined) return '`iptables` is not installed (apt-get install -y iptables)';
  return undefined;
}

const namespaceOf = (index: number) => `${NAME_PREFIX}n${index + 1}`;
const addressOf = (index: number) => `${SUBNET_PREFIX}.${11 + index}`;

/** Deletes every dkv- namespace (killing what still runs inside) and every dkv- link. */
export function removeNetnsLeftovers(): string[] {
  const removed: string[] = [];
  for (const line of (tryRun(['ip', 'netns', 'list']) ?? '').split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    if (!ns.startsWith(NAME_PREFIX)) continue;
    for (const pid of (tryRun(['ip', 'netns', 'pids', ns]) ?? '').split('\n').filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    tryRun(['ip', 'netns', 'del', ns]);
    removed.push(`namespace ${ns}`);
  }
  for (const line of (tryRun(['ip', '-o', 'link', 'show']) ?? '').split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name === undefined || !name.startsWith(NAME_PREFIX)) continue;
    tryRun(['ip', 'link', 'del', name]);
    removed.push(`link ${name}`);
  }
  return removed;
}

export function setupNetns(nodes: number): ChaosNetwork {
  const clash = (tryRun(['ip', '-o', 'addr', 'show']) ?? '').split('\n').find((l) => l.includes(` ${SUBNET_PREFIX}.`) && !l.includes(NAME_PREFIX));
  if (clash !== undefined) throw new Error(`the chaos subnet ${SUBNET_PREFIX}.0/24 is already in use here: ${clash.trim()}`);
  let tornDown = false;
  const network: ChaosNetwork = {
    mode: 'netns',
    partitions: true,
    hostOf: addressOf,
    prefix: (index) => ['ip', 'netns', 'exec', namespaceOf(index)],
    cut(index, from) {
      const ns = namespaceOf(index);
      const rules = from === 'everyone' ? [[]] : from.map((other) => ['-s', addressOf(other)]);
      const outRules = from === 'everyone' ? [[]] : from.map((other) => ['-d', addressOf(other)]);
      // Loopback inside the namespace stays open: a node always reaches itself.
      for (const r of rules) run(['ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '!', '-i', 'lo', ...r, '-j', 'DROP']);
      for (const r of outRules) run(['ip', 'netns', 'exec', ns, 'iptables', '-A', 'OUTPUT', '!', '-o', 'lo', ...r, '-j', 'DROP']);
    },
    heal(indices) {
      for (const i of indices) run(['ip', 'netns', 'exec', namespaceOf(i), 'iptables', '-F']);
    },
    teardown() {
      if (tornDown) return;
      tornDown = true;
      removeNetnsLeftovers();
    },
  };
  try {
    run(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    run(['ip', 'addr', 'add', `${BRIDGE_ADDRESS}/24`, 'dev', BRIDGE]);
    run(['ip', 'link', 'set', BRIDGE, 'up']);
    for (let i = 0; i < nodes; i++) {
      const ns = namespaceOf(i);
      const hostSide = `${NAME_PREFIX}h${i + 1}`;
      const nodeSide = `${NAME_PREFIX}p${i + 1}`;
      run(['ip', 'netns', 'add', ns]);
      run(['ip', 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nodeSide]);
      run(['ip', 'link', 'set', nodeSide, 'netns', ns]);
      run(['ip', 'link', 'set', hostSide, 'master', BRIDGE, 'up']);
      run(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${addressOf(i)}/24`, 'dev', nodeSide]);
      run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', nodeSide, 'up']);
      run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    network.teardown();
    throw err;
  }
  return network;
}

export function loopbackNetwork(): ChaosNetwork {
  return {
    mode: 'loopback',
    partitions: false,
    hostOf: () => '127.0.0.1',
    prefix: () => [],
    cut() {
      throw new Error('assertion: partitions need netns mode');
    },
    heal() {},
    teardown() {},
  };
}
