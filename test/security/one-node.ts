// Test helper for the HTTP door: one production node (LMDB, TCP, fastify, dashboard) in this
// process on free loopback ports, alone in its ring (N=R=W=1) so writes succeed at once, with
// config overrides (e.g. small HTTP limits) and optionally a logger. Secure: a fresh CA, the node's certificate and
// clients `admin` (admin) and `alice` (user) under certsDir, the node started secure (HTTPS,
// peer mutual TLS). stop() closes it and removes its directories.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { DEFAULT_CONFIG, type NodeConfig } from '../../src/node/config.ts';
import { startProductionNode, type NodeSecurity, type RunningNode } from '../../src/node/production.ts';
import { CLUSTER_SECRET_FILE, createCa, createClientCert, createNodeCert, loadNodeCerts } from '../../src/security/certs.ts';
import { insecureClusterSecret } from '../../src/security/cluster-secret.ts';
import { freePort } from '../support/local-cluster.ts';

export interface OneNode {
  readonly running: RunningNode;
  readonly url: string;
  /** Secure nodes: the dir holding ca.crt and client.{admin,alice}.{crt,key,token}; '' otherwise. */
  readonly certsDir: string;
  stop(): Promise<void>;
}

/** A CA in ROOT/ca, node certificates in ROOT/<id>, client credentials (admin, alice) in ROOT/clients. */
export async function makeCerts(root: string, nodeIds: readonly string[]): Promise<{ caKey: string; clients: string; secret: Buffer }> {
  const caKey = join(root, 'ca', 'ca.key');
  await createCa({ certsDir: join(root, 'ca'), caKey });
  for (const id of nodeIds) await createNodeCert({ id, certsDir: join(root, id), caKey });
  const clients = join(root, 'clients');
  await createClientCert({ name: 'admin', role: 'admin', certsDir: clients, caKey });
  await createClientCert({ name: 'alice', role: 'user', certsDir: clients, caKey });
  return { caKey, clients, secret: readFileSync(join(root, 'ca', CLUSTER_SECRET_FILE)) };
}

export async function startOneNode(name: string, overrides: Partial<NodeConfig> = {}, options: { secure?: boolean; logger?: Logger } = {}): Promise<OneNode> {
  const root = mkdtempSync(join(tmpdir(), `dynakv-${name}-`));
  if (options.secure === true) return startSecure(name, root, overrides, options.logger);
  try {
    const running = await startOneNodeIn(name, root, overrides, { mode: 'insecure' }, options.logger);
    return {
      running,
      url: running.httpUrl,
      certsDir: '',
      async stop() {
        await running.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

async function startSecure(name: string, root: string, overrides: Partial<NodeConfig>, logger?: Logger): Promise<OneNode> {
  try {
    const { clients } = await makeCerts(join(root, 'certs'), ['s1']);
    const certs = loadNodeCerts(join(root, 'certs', 's1'));
    const running = await startOneNodeIn(name, root, { ...overrides, clusterSecret: certs.clusterSecret }, { mode: 'secure', certs }, logger);
    return {
      running,
      url: running.httpUrl,
      certsDir: clients,
      async stop() {
        await running.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

async function startOneNodeIn(name: string, root: string, overrides: Partial<NodeConfig>, security: NodeSecurity = { mode: 'insecure' }, logger: Logger = pino({ level: 'silent' })): Promise<RunningNode> {
  const id = 's1';
  const http = await freePort();
  const peer = await freePort();
  const config: NodeConfig = {
    ...DEFAULT_CONFIG,
    id,
    cluster: name,
    clusterSecret: insecureClusterSecret(name),
    peers: [{ id, host: '127.0.0.1', port: peer }],
    advertisePeer: `127.0.0.1:${peer}`,
    advertiseHttp: `127.0.0.1:${http}`,
    n: 1,
    r: 1,
    w: 1,
    ...overrides,
  };
  return startProductionNode({ config, security, dataDir: join(root, id), httpHost: '127.0.0.1', httpPort: http, peerHost: '127.0.0.1', peerPort: peer, logger });
}
