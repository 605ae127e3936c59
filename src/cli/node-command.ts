// `dynakv node start`: runs one node in this process until SIGINT/SIGTERM, then closes it
// cleanly (HTTP, peer connections, LMDB) before exiting.
import { pino } from 'pino';
import { DEFAULT_CONFIG, parseHttpLimits, parsePeerList, type NodeConfig } from '../node/config.ts';
import { startProductionNode } from '../node/production.ts';
import { isNodeId, NODE_ID_RULE } from '../protocol/ids.ts';
import { loadNodeCerts } from '../security/certs.ts';
import { insecureClusterSecret } from '../security/cluster-secret.ts';
import type { NodeSecurity } from '../node/production.ts';

export interface NodeStartOptions {
  readonly id: string;
  readonly host: string;
  readonly httpPort: string;
  readonly peerPort: string;
  readonly dataDir: string;
  readonly peers?: string;
  readonly join?: string;
  readonly advertiseHost?: string;
  readonly cluster: string;
  readonly logLevel: string;
  /** A certs dir made by `dynakv certs create-node` (secure mode). */
  readonly certsDir?: string;
  /** Explicitly run without authentication or encryption. */
  readonly insecure?: boolean;
  /** NAME=VALUE overrides of the HTTP limits (src/node/config.ts). */
  readonly httpLimit?: readonly string[];
}

/** What a node started with neither --certs-dir nor --insecure prints (and exits 1). */
export function missingSecurityMessage(id: string): string {
  const name = isNodeId(id) ? id : '<id>';
  return [
    'refusing to start without --certs-dir or --insecure.',
    'A secure node needs a certs dir (its certificate, the cluster CA and the cluster secret); make one with:',
    '  npx dynakv certs create-ca --certs-dir certs            (once per cluster; keep certs/ca.key private)',
    `  npx dynakv certs create-node ${name} --certs-dir certs/${name} --ca-key certs/ca.key [--host HOST]`,
    `and start with --certs-dir certs/${name}. To run without authentication or encryption, say so: --insecure.`,
    '(npm start makes all of this for a local cluster by itself.)',
  ].join('\n');
}

/** The node's security from its flags: loads and checks the certs dir, or accepts --insecure; throws with a message otherwise. */
export function securityFromFlags(id: string, options: { certsDir?: string; insecure?: boolean }): NodeSecurity {
  if (options.certsDir !== undefined && options.insecure === true) throw new Error('--certs-dir and --insecure exclude each other');
  if (options.insecure === true) return { mode: 'insecure' };
  if (options.certsDir === undefined) throw new Error(missingSecurityMessage(id));
  const certs = loadNodeCerts(options.certsDir);
  if (certs.id !== id) throw new Error(`${certs.dir}/node.crt is for node ${certs.id}, not ${id} (--id)`);
  return { mode: 'secure', certs };
}

export async function runNodeStart(options: NodeStartOptions): Promise<void> {
  if (!isNodeId(options.id)) throw new Error(`--id must be ${NODE_ID_RULE}, got ${JSON.stringify(options.id)}`);
  const security = securityFromFlags(options.id, options);
  const peers = parsePeerList(options.peers ?? '');
  const join = (options.join ?? '').split(',').map((j) => j.trim()).filter((j) => j !== '');
  const httpPort = parsePort(options.httpPort, '--http-port');
  const peerPort = parsePort(options.peerPort, '--peer-port');
  const advertise = options.advertiseHost ?? options.host;
  const config: NodeConfig = {
    ...DEFAULT_CONFIG,
    id: options.id,
    cluster: options.cluster,
    clusterSecret: security.mode === 'secure' ? security.certs.clusterSecret : insecureClusterSecret(options.cluster),
    peers,
    join,
    advertisePeer: `${advertise}:${peerPort}`,
    advertiseHttp: `${advertise}:${httpPort}`,
    ...parseHttpLimits(options.httpLimit ?? []),
  };
  const logger = pino({ level: options.logLevel, base: { node: options.id } });
  const running = await startProductionNode({
    config,
    security,
    dataDir: options.dataDir,
    httpHost: options.host,
    httpPort,
    peerHost: options.host,
    peerPort,
    logger,
  });
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

export function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag} must be a port number, got ${text}`);
  return port;
}
