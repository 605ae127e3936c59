// A node's configuration: one typed object, every default in this file with its unit and why.
import type { NodeId } from '../env/transport.ts';

export interface PeerAddress {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  readonly id: NodeId;
  /** Nodes refuse peer connections that name another cluster, so two local clusters never mix. */
  readonly cluster: string;
  /**
   * The cluster secret (32 bytes, the same on every node; see src/security/cluster-secret.ts):
   * keys for client contexts and credentials derive from it.
   */
  readonly clusterSecret: Uint8Array;
  /** The static bootstrap membership (first start only; the persisted table wins afterwards). */
  readonly peers: readonly PeerAddress[];
  /** Peer addresses (HOST:PORT) to learn the cluster from when this node starts outside it. */
  readonly join: readonly string[];
  /** This node's own addresses as others should reach them (HOST:PORT). */
  readonly advertisePeer: string;
  readonly advertiseHttp: string;
  /** Gossip, ping and failure detection timing (see src/membership/membership.ts). */
  readonly gossipIntervalMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly acceptablePauseMs: number;
  /** How often held hints are offered to their owners. */
  readonly hintIntervalMs: number;
  /** How often one random range is compared with one other replica in the background. */
  readonly antiEntropyIntervalMs: number;
  /** A tombstone held by every replica is purged once older than this (see purgeTombstones). */
  readonly tombstoneGraceMs: number;
  /** Replicas per key (the seed: a node and its 2 successors). */
  readonly n: number;
  /** Default read quorum; R + W > N gives read-your-writes when no node fails. */
  readonly r: number;
  /** Default write quorum. */
  readonly w: number;
  /** Coordinator's wait for R/W replies. 2 s: far above a healthy LMDB commit plus a LAN hop. */
  readonly requestTimeoutMs: number;
  /**
   * Vector clock entries kept per version context: one per actor that coordinated writes of the
   * key (a node's actor changes each time it loses its disk), with room for growth. Past it the
   * oldest entries go, except those covering a version the context saw (see prune).
   */
  readonly clockEntriesMax: number;
  /** Live siblings per key: beyond this, blind writes are refused until a client resolves them. */
  readonly siblingsMax: number;
  /** Largest value accepted (HTTP 413 above it). */
  readonly valueBytesMax: number;
  /**
   * Limits of the client HTTP(S) port (finding 8 of issue 13), set on the node:http/https server
   * (src/api/http-server.ts) and documented in the README. What happens at each is in DEFAULT_CONFIG.
   */
  readonly httpConnectionsMax: number;
  readonly httpPreAuthConnectionsMax: number;
  readonly httpPreAuthTimeoutMs: number;
  readonly httpHeaderBytesMax: number;
  readonly httpAnswerBytesMax: number;
  readonly httpHandshakeTimeoutMs: number;
  readonly httpHeadersTimeoutMs: number;
  readonly httpRequestTimeoutMs: number;
  readonly httpKeepAliveTimeoutMs: number;
  readonly httpIdleTimeoutMs: number;
  readonly httpTimeoutCheckMs: number;
}

export const DEFAULT_CONFIG = {
  cluster: 'dynakv',
  join: [] as readonly string[],
  /** Gossip with one random peer per second: a change reaches 5 nodes in a few rounds. */
  gossipIntervalMs: 1_000,
  /** Ping every peer twice a second; 3 misses in a row (about 1.5-2 s) mark it down. */
  pingIntervalMs: 500,
  pingTimeoutMs: 500,
  acceptablePauseMs: 1_000,
  /** Offer hints every second: a returning node gets its writes within about one interval. */
  hintIntervalMs: 1_000,
  /** Background Merkle comparison of one range every 10 s: divergence heals within minutes. */
  antiEntropyIntervalMs: 10_000,
  /** One day: far longer than a node is expected to stay down with hints waiting for it. */
  tombstoneGraceMs: 24 * 3_600_000,
  n: 3,
  r: 2,
  w: 2,
  requestTimeoutMs: 2_000,
  clockEntriesMax: 32,
  siblingsMax: 64,
  valueBytesMax: 1024 * 1024,
  /**
   * Established connections on the HTTP port: those on which a request carried a valid
   * credential (with --insecure: any request). Past it, a connection's first authenticated
   * request answers 503 with Retry-After and the connection is closed; established connections
   * are never closed to make room. Twice the largest benchmarked client count (256 keep-alive
   * connections, see BENCHMARKS.md). Bounds memory: an authenticated client can hold one body of
   * up to valueBytesMax per connection (512 MiB in all, for at most httpRequestTimeoutMs).
   */
  httpConnectionsMax: 512,
  /**
   * Connections without a credential yet (in their TLS handshake, before their first request
   * head, or making only public requests such as /health), counted apart from the established
   * ones: at the limit the oldest is closed for the newcomer, so strangers who open connections
   * and stay silent only slow new clients down, never lock them (or anyone established) out.
   * As many as the largest benchmarked client count connecting at once. Each holds at most its
   * TLS state and httpHeaderBytesMax of headers (secure nodes check the credential before reading a body).
   */
  httpPreAuthConnectionsMax: 256,
  /**
   * A connection without a credential is closed this long after it was accepted (once its
   * answers in progress are sent): a client on a LAN handshakes and sends its first request
   * within milliseconds; 5 s forgives a stalled link, not a connection held open to take a place.
   */
  httpPreAuthTimeoutMs: 5_000,
  /**
   * Answer bytes the node holds for clients that have not taken them yet, node-wide
   * (src/api/answer-budget.ts): past it, answers that waited 1 s or more lose their connections,
   * oldest first, to make room; if that is not enough, a read answers 503 with Retry-After. One
   * answer alone always fits (the largest, 64 siblings of 1 MiB as JSON, is about 86 MiB), so
   * held answers stay below this plus one answer. 128 MiB: room for 128 clients each fetching a
   * 1 MiB value at once, far more than a LAN needs to keep its links busy.
   */
  httpAnswerBytesMax: 128 * 1024 * 1024,
  /** Request line and headers together; larger answers 431. Node's own default, named here. */
  httpHeaderBytesMax: 16 * 1024,
  /** A TLS handshake must finish within this or the connection is closed (node's default: 120 s). */
  httpHandshakeTimeoutMs: 10_000,
  /**
   * A request's headers must all arrive within this (408 and close otherwise). A client on a LAN
   * sends them in well under a millisecond; 10 s forgives a stalled link, not a slowloris.
   */
  httpHeadersTimeoutMs: 10_000,
  /**
   * A whole request, headers and body, must arrive within this (408 and close otherwise): a
   * 1 MiB value at 35 KiB/s or faster. Keeps a slow sender from holding a body buffer for minutes.
   */
  httpRequestTimeoutMs: 30_000,
  /**
   * An idle keep-alive connection is closed after this (announced in the Keep-Alive header, so
   * clients close first). Clients with keep-alive pools reuse a connection far sooner.
   */
  httpKeepAliveTimeoutMs: 5_000,
  /**
   * A connection with no traffic either way (a client that stopped reading its answer) is closed
   * after this. Far above the coordinator's requestTimeoutMs; dashboards' streams write every second.
   */
  httpIdleTimeoutMs: 30_000,
  /** How often the server checks the headers and request deadlines: they fire at most this late. */
  httpTimeoutCheckMs: 1_000,
} as const;

/** Parses `n1=127.0.0.1:7101,n2=127.0.0.1:7102`; throws with a message naming the bad part. */
export function parsePeerList(text: string): PeerAddress[] {
  const peers: PeerAddress[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const match = /^([A-Za-z0-9_.-]{1,64})=([^:=\s]+):(\d{1,5})$/.exec(part);
    if (match === null) throw new Error(`bad peer "${part}": expected ID=HOST:PORT`);
    const port = Number(match[3]);
    if (port < 1 || port > 65535) throw new Error(`bad peer "${part}": port out of range`);
    if (peers.some((p) => p.id === match[1])) throw new Error(`peer id ${match[1]} appears twice`);
    peers.push({ id: match[1]!, host: match[2]!, port });
  }
  return peers;
}

/** The HTTP limits an operator may set (`dynakv node start --http-limit NAME=VALUE`). */
export const HTTP_LIMIT_NAMES = [
  'httpConnectionsMax',
  'httpPreAuthConnectionsMax',
  'httpPreAuthTimeoutMs',
  'httpHeaderBytesMax',
  'httpAnswerBytesMax',
  'httpHandshakeTimeoutMs',
  'httpHeadersTimeoutMs',
  'httpRequestTimeoutMs',
  'httpKeepAliveTimeoutMs',
  'httpIdleTimeoutMs',
  'httpTimeoutCheckMs',
] as const;

export type HttpLimits = { -readonly [K in (typeof HTTP_LIMIT_NAMES)[number]]: number };

/** Largest value any limit takes: about 24 days in ms (node's timer limit), or that many connections or bytes. */
const HTTP_LIMIT_MAX = 2 ** 31 - 1;

/**
 * Parses `NAME=VALUE` pairs (comma-separated or repeated) into limits over the defaults; throws
 * with a message naming the bad part. Values are whole numbers from 1 (every limit must bound).
 */
export function parseHttpLimits(parts: readonly string[], base: HttpLimits = DEFAULT_CONFIG): HttpLimits {
  const limits: HttpLimits = Object.fromEntries(HTTP_LIMIT_NAMES.map((name) => [name, base[name]])) as HttpLimits;
  for (const part of parts.flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== '')) {
    const match = /^([A-Za-z]+)=(\d{1,10})$/.exec(part);
    const name = match?.[1] as (typeof HTTP_LIMIT_NAMES)[number] | undefined;
    if (match === null || name === undefined || !HTTP_LIMIT_NAMES.includes(name)) {
      throw new Error(`bad --http-limit "${part}": expected NAME=NUMBER with NAME one of ${HTTP_LIMIT_NAMES.join(', ')}`);
    }
    const value = Number(match[2]);
    if (value < 1 || value > HTTP_LIMIT_MAX) throw new Error(`bad --http-limit "${part}": must be 1..${HTTP_LIMIT_MAX}`);
    limits[name] = value;
  }
  // node:http refuses a headers deadline past the whole request's.
  if (limits.httpHeadersTimeoutMs > limits.httpRequestTimeoutMs) {
    throw new Error(`httpHeadersTimeoutMs (${limits.httpHeadersTimeoutMs}) must not exceed httpRequestTimeoutMs (${limits.httpRequestTimeoutMs})`);
  }
  return limits;
}
