// `dynakv node start`: runs one node in this process until SIGINT/SIGTERM, then closes it
// cleanly (HTTP, peer connections, LMDB) before exiting.
import { pino } from 'pino';
import { DEFAULT_CONFIG, parsePeerList, type NodeConfig } from '../node/config.ts';
import { startProductionNode } from '../node/production.ts';
import { insecureClusterSecret } from '../security/cluster-secret.ts';

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
}

export async function runNodeStart(options: NodeStartOptions): Promise<void> {
  const peers = parsePeerList(options.peers ?? '');
  const join = (options.join ?? '').split(',').map((j) => j.trim()).filter((j) => j !== '');
  const httpPort = parsePort(options.httpPort, '--http-port');
  const peerPort = parsePort(options.peerPort, '--peer-port');
  const advertise = options.advertiseHost ?? options.host;
  const config: NodeConfig = {
    ...DEFAULT_CONFIG,
    id: options.id,
    cluster: options.cluster,
    clusterSecret: insecureClusterSecret(options.cluster),
    peers,
    join,
    advertisePeer: `${advertise}:${peerPort}`,
    advertiseHttp: `${advertise}:${httpPort}`,
  };
  const logger = pino({ level: options.logLevel, base: { node: options.id } });
  const running = await startProductionNode({
    config,
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
