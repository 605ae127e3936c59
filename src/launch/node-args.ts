import { assert } from '../env/assert.ts';
// What a launched node is told: the command line of `dynakv node start` built from one typed
// spec (id, addresses, data dir, ring, cluster name, security, extra flags). Pure: it starts
// nothing and reads no file, so every launcher (the CLI's local cluster, tests, bench, chaos)
// gets the same flags for the same spec, and a test can check them without a process.

/** A node's place in the bootstrap ring: `--peers ID=HOST:PORT,...` lists these. */
export interface PeerAddress {
  readonly id: string;
  readonly host: string;
  readonly peerPort: number;
}

/**
 * How a node is secured. `certs`: its certs dir (node certificate, the cluster CA and secret),
 * peer mutual TLS and HTTPS. `insecure`: an explicit, logged opt-out. `unstated`: neither flag,
 * only for a checkout older than certificates (the benchmark can measure one), which knows neither.
 */
export type NodeSecurity =
  | { readonly mode: 'certs'; readonly certsDir: string }
  | { readonly mode: 'insecure' }
  | { readonly mode: 'unstated' };

export interface NodeSpec {
  readonly id: string;
  /** The address it listens on and announces (--host); omitted: the node's default, 127.0.0.1. */
  readonly host?: string;
  readonly httpPort: number;
  readonly peerPort: number;
  /** Its LMDB files; created by the launcher if missing. */
  readonly dataDir: string;
  /** A member of the bootstrap ring, or a node outside it that learns the cluster through `join` (HOST:PORT) until an operator adds it. */
  readonly ring: { readonly peers: readonly PeerAddress[] } | { readonly join: string };
  /** --cluster: peers must agree on it, so a stray node of another run never joins; omitted: the node's default. */
  readonly cluster?: string;
  /** --log-level; omitted: the node's default (info). */
  readonly logLevel?: string;
  readonly security: NodeSecurity;
  /** More `node start` flags, after the others (e.g. --http-limit NAME=VALUE). */
  readonly extraArgs?: readonly string[];
}

/** The --peers value: `ID=HOST:PORT` per member, comma-separated. */
export function peersFlag(peers: readonly PeerAddress[]): string {
  return peers.map((p) => `${p.id}=${p.host}:${p.peerPort}`).join(',');
}

/** The arguments after the `dynakv` command: `node start --id ...`. */
export function nodeStartArgs(spec: NodeSpec): string[] {
  assert(!('peers' in spec.ring) || spec.ring.peers.some((p) => p.id === spec.id), () => `the bootstrap ring does not hold ${spec.id}`);
  return [
    'node', 'start', '--id', spec.id,
    ...(spec.host !== undefined ? ['--host', spec.host] : []),
    '--http-port', String(spec.httpPort), '--peer-port', String(spec.peerPort),
    '--data-dir', spec.dataDir,
    ...('peers' in spec.ring ? ['--peers', peersFlag(spec.ring.peers)] : ['--join', spec.ring.join]),
    ...(spec.cluster !== undefined ? ['--cluster', spec.cluster] : []),
    ...(spec.logLevel !== undefined ? ['--log-level', spec.logLevel] : []),
    ...securityArgs(spec.security),
    ...(spec.extraArgs ?? []),
  ];
}

function securityArgs(security: NodeSecurity): string[] {
  switch (security.mode) {
    case 'certs':
      return ['--certs-dir', security.certsDir];
    case 'insecure':
      return ['--insecure'];
    case 'unstated':
      return [];
  }
}
