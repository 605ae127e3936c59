// Production wiring of one node: LMDB storage, TCP peer transport (mutual TLS unless insecure), real clock and randomness,
// pino logs, the fastify HTTP API with /metrics and the /ui dashboard. Everything else in a
// node is the same code the simulator runs; this module is the only one that knows which world
// it is in.
import { assert } from '../env/assert.ts';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildHttpServer } from '../api/http-server.ts';
import { realClock } from '../env/real-clock.ts';
import { realRandom } from '../env/real-random.ts';
import { directoryBytes, NodeMetrics } from '../metrics/node-metrics.ts';
import { dynamoObserver, kvObserver, observeRequests } from '../metrics/request-hook.ts';
import { SEED_PREFIX } from '../membership/membership.ts';
import type { NodeCerts } from '../security/certs.ts';
import { parsePeerReply, parsePeerRequest, type PeerReply, type PeerRequest } from '../protocol/messages.ts';
import { openLmdbStorage } from '../storage/lmdb-storage.ts';
import { watchEventLoopStalls } from './stall-watch.ts';
import { TcpTransport } from '../transport/tcp-transport.ts';
import { registerDashboard } from '../ui/routes.ts';
import type { NodeConfig } from './config.ts';
import { DynakvNode } from './node.ts';

/**
 * How a node proves itself and checks others: `secure` with a loaded certs dir (peer mutual TLS;
 * NodeConfig.clusterSecret must be the dir's cluster.secret), or explicitly `insecure` (plain TCP
 * that trusts any hello; the node logs a warning once).
 */
export type NodeSecurity = { readonly mode: 'secure'; readonly certs: NodeCerts } | { readonly mode: 'insecure' };

export interface ProductionOptions {
  readonly config: NodeConfig;
  readonly security: NodeSecurity;
  readonly dataDir: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly logger?: Logger;
}

export interface RunningNode {
  readonly node: DynakvNode;
  readonly http: FastifyInstance;
  readonly httpUrl: string;
  readonly metrics: NodeMetrics;
  readonly peerPort: number;
  close(): Promise<void>;
}

export async function startProductionNode(options: ProductionOptions): Promise<RunningNode> {
  const { config } = options;
  const log = options.logger ?? pino({ base: { node: config.id } });
  const { security } = options;
  if (security.mode === 'secure') {
    if (security.certs.id !== config.id) throw new Error(`the certificate in ${security.certs.dir} is for node ${security.certs.id}, not ${config.id}`);
    assert(Buffer.from(config.clusterSecret).equals(security.certs.clusterSecret), 'config.clusterSecret is not the certs dir\'s cluster.secret');
  } else {
    log.warn(
      { mode: 'insecure' },
      'insecure mode: the peer port takes any connection that says hello, unencrypted, the HTTP port serves anyone without a credential over plain http, and the cluster secret derives from the cluster name; use --certs-dir outside a trusted test network',
    );
  }
  const lmdbDir = join(options.dataDir, 'lmdb');
  // Each step names what it does, so a failure says what failed; whatever the steps before it
  // opened (ports, LMDB, timers) is released before the error leaves, so a failed start never
  // lingers with a port bound (finding 4 of the attack review of issue 13).
  const undo: Array<() => unknown> = [];
  const step = async <T>(what: string, run: () => Promise<T> | T): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      for (const release of undo.reverse()) {
        try {
          await release();
        } catch (releaseErr) {
          log.warn({ err: releaseErr }, 'releasing a failed start');
        }
      }
      throw new StartError(config.id, what, err);
    }
  };
  const storage = await step(`opening its store in ${lmdbDir}`, () =>
    openLmdbStorage(lmdbDir, {
      // A commit this slow holds back every write queued behind it (replicas ack only once durable).
      onSlowCommit: ({ writes, ms }) => log.warn({ writes, ms }, 'slow LMDB commit'),
    }),
  );
  undo.push(() => storage.close());
  let node: DynakvNode | undefined;
  const transport = await step('setting up the peer transport', () => new TcpTransport<PeerRequest, PeerReply>({
    self: config.id,
    cluster: config.cluster,
    listenHost: options.peerHost,
    listenPort: options.peerPort,
    // The membership table is the address book; until it exists only bootstrap peers are known.
    resolve: (id) => node?.membership.addressOf(id) ?? bootstrapAddress(config, id),
    parseRequest: parsePeerRequest,
    parseReply: parsePeerReply,
    log,
    ...(security.mode === 'secure' ? { tls: { ca: security.certs.ca, cert: security.certs.cert, key: security.certs.key } } : {}),
    isSeed: (id) => id.startsWith(SEED_PREFIX),
  }));
  undo.push(() => transport.close());
  await step(`binding the peer port ${options.peerHost}:${options.peerPort}`, () => transport.listen());
  node = await step(`loading its state from ${lmdbDir}`, () => DynakvNode.open(config, { clock: realClock, random: realRandom, storage, transport, log }));
  const opened = node;
  undo.push(() => opened.stop());
  const metrics = new NodeMetrics(node, { storageBytes: () => directoryBytes(lmdbDir) });
  // Secure: HTTPS with the node's certificate, and a client credential on every route but /health.
  const http = buildHttpServer({ node, logger: log, observeKv: kvObserver(metrics), observeDynamo: dynamoObserver(metrics), ...(security.mode === 'secure' ? { tls: security.certs } : {}) });
  undo.push(() => http.close());
  observeRequests(http, metrics);
  registerDashboard(http, { node, metrics, log });
  const httpUrl = await step(`binding the HTTP port ${options.httpHost}:${options.httpPort}`, () => http.listen({ host: options.httpHost, port: options.httpPort }));
  log.info({ httpUrl, dashboard: `${httpUrl}/ui`, peerPort: transport.port, dataDir: options.dataDir }, 'node started');
  const stallWatch = watchEventLoopStalls((ms) => log.warn({ ms }, 'event loop stalled'));
  let closing: Promise<void> | undefined;
  return {
    node,
    http,
    httpUrl,
    metrics,
    peerPort: transport.port,
    close() {
      closing ??= (async () => {
        stallWatch.stop();
        opened.stop();
        await http.close();
        await transport.close();
        await storage.close();
        log.info({}, 'node stopped');
      })();
      return closing;
    },
  };
}

/** A start that failed at one step (named in the message), after releasing what it had opened. */
export class StartError extends Error {
  readonly code = 'START_FAILED';
  constructor(
    readonly nodeId: string,
    /** What the node was doing, e.g. "binding the HTTP port 127.0.0.1:7001". */
    readonly step: string,
    override readonly cause: unknown,
  ) {
    super(`node ${nodeId} did not start: ${step}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StartError';
  }
}

function bootstrapAddress(config: NodeConfig, id: string): { host: string; port: number } | undefined {
  const peer = config.peers.find((p) => p.id === id);
  return peer === undefined ? undefined : { host: peer.host, port: peer.port };
}
