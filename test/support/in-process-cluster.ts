// Test helper: production nodes (LMDB, TCP, fastify, metrics, dashboard) running inside the
// test process on free loopback ports, each with its own temporary data directory. Quicker
// than child processes, and a test can read a node's state directly. Nodes are secure (peer
// mutual TLS, certificates made once in the cluster's temp dir) unless `insecure` is asked for.
// stop() closes every node and removes the directories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_CONFIG, type NodeConfig } from '../../src/node/config.ts';
import { ensureClusterCerts, loadNodeCerts } from '../../src/security/certs.ts';
import { insecureClusterSecret } from '../../src/security/cluster-secret.ts';
import { startProductionNode, type NodeSecurity, type RunningNode } from '../../src/node/production.ts';
import { clusterFetch, type TestFetch } from './cluster-fetch.ts';
import { freePort } from './local-cluster.ts';

export class InProcessCluster {
  private constructor(
    readonly root: string,
    readonly nodes: RunningNode[],
  ) {}

  /** fetch() for the nodes' HTTP doors: with the CA and the admin certificate when secure. */
  fetch: TestFetch = (url, init) => fetch(url, init);

  static async start(name: string, ids: readonly string[], options: { readonly insecure?: boolean } = {}): Promise<InProcessCluster> {
    const cluster = new InProcessCluster(mkdtempSync(join(tmpdir(), `dynakv-${name}-`)), []);
    try {
      const certs = options.insecure === true ? undefined : await ensureClusterCerts({ certsDir: join(cluster.root, 'certs'), nodeIds: ids, clients: [{ name: 'admin', role: 'admin' }] });
      cluster.fetch = clusterFetch(certs?.certsDir);
      const ports = await Promise.all(ids.map(async () => ({ http: await freePort(), peer: await freePort() })));
      const peers = ids.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i]!.peer }));
      for (const [i, id] of ids.entries()) {
        const security: NodeSecurity = certs === undefined ? { mode: 'insecure' } : { mode: 'secure', certs: loadNodeCerts(certs.nodeDirs.get(id)!) };
        const clusterSecret = security.mode === 'secure' ? security.certs.clusterSecret : insecureClusterSecret(name);
        const config: NodeConfig = { ...DEFAULT_CONFIG, id, cluster: name, clusterSecret, peers, advertisePeer: `127.0.0.1:${ports[i]!.peer}`, advertiseHttp: `127.0.0.1:${ports[i]!.http}` };
        cluster.nodes.push(
          await startProductionNode({
            config,
            security,
            dataDir: join(cluster.root, id),
            httpHost: '127.0.0.1',
            httpPort: ports[i]!.http,
            peerHost: '127.0.0.1',
            peerPort: ports[i]!.peer,
            logger: pino({ level: 'silent' }),
          }),
        );
      }
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.close()));
    rmSync(this.root, { recursive: true, force: true });
  }
}
