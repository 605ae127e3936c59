// Test helper for the HTTP door: one production node (LMDB, TCP, fastify, dashboard) in this
// process on free loopback ports, alone in its ring (N=R=W=1) so writes succeed at once, with
// config overrides (e.g. small HTTP limits). stop() closes it and removes its directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_CONFIG, type NodeConfig } from '../../src/node/config.ts';
import { startProductionNode, type RunningNode } from '../../src/node/production.ts';
import { insecureClusterSecret } from '../../src/security/cluster-secret.ts';
import { freePort } from '../support/local-cluster.ts';

export interface OneNode {
  readonly running: RunningNode;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startOneNode(name: string, overrides: Partial<NodeConfig> = {}): Promise<OneNode> {
  const root = mkdtempSync(join(tmpdir(), `dynakv-${name}-`));
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
  try {
    const running = await startProductionNode({ config, dataDir: join(root, id), httpHost: '127.0.0.1', httpPort: http, peerHost: '127.0.0.1', peerPort: peer, logger: pino({ level: 'silent' }) });
    return {
      running,
      url: running.httpUrl,
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
