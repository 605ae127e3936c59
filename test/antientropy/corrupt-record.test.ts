// Attack review finding 4, data side: one record on disk that does not decode made a node refuse
// to start (anti-entropy's rebuild decoded every record unguarded) and would have thrown on
// every read of its key. A node must start; the record is reported, treated as absent for reads
// and for the Merkle trees, so anti-entropy rewrites it from the other replicas, and is never
// served. Shown on anti-entropy alone (five nodes wired directly, the trees must agree after the
// repair) and on three real nodes (LMDB, TCP): corrupt a record of a stopped node, start it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DEFAULT_CONFIG, type NodeConfig } from '../../src/node/config.ts';
import { startProductionNode, type RunningNode } from '../../src/node/production.ts';
import { Ring } from '../../src/ring/ring.ts';
import { insecureClusterSecret } from '../../src/security/cluster-secret.ts';
import { openLmdbStorage } from '../../src/storage/lmdb-storage.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import { encodeRecord } from '../../src/version/record-codec.ts';
import type { Sibling } from '../../src/version/siblings.ts';
import { freePort } from '../support/local-cluster.ts';
import { RecordingLog, waitFor } from '../transport/wait-for.ts';
import { aeCluster, IDS, keysOfRange, live } from './harness.ts';

const NOT_A_RECORD = Buffer.from('c1deadbeef', 'hex');
const values = (siblings: readonly Sibling[]) => siblings.map((s) => (s.value === null ? null : Buffer.from(s.value).toString()));

describe('a corrupt record on disk', () => {
  it('is absent for the Merkle trees: a sync rewrites it from a replica, and the trees then agree', async () => {
    const ring = Ring.of([...IDS]);
    const [key] = keysOfRange(ring, 'n1', 1);
    const replicas = ring.preferenceList(key!, 3);
    const storages = new Map(IDS.map((id) => [id as string, new MemoryStorage()]));
    const good = encodeRecord(live('the value'));
    for (const id of replicas) await storages.get(id)!.commit([{ space: 'data', key: key!, value: id === 'n1' ? NOT_A_RECORD : good }]);
    const log = new RecordingLog();
    const c = aeCluster({ graceMs: 3_600_000, storages, log }); // rebuilds every node's trees
    const n1 = c.node('n1');
    assert.deepEqual(n1.store.read(key!), [], 'a corrupt record was served');
    assert.ok(log.entries.some((e) => e.level === 'error' && JSON.stringify(e.obj).includes(key!)), 'the corrupt record is reported by key');
    const peer = replicas.find((id) => id !== 'n1')!;
    const first = await n1.ae.syncRange('n1', peer);
    assert.deepEqual(values(n1.store.read(key!)), ['the value']);
    assert.equal(first.pulled, 1);
    for (const id of replicas.filter((id) => id !== 'n1')) {
      const again = await n1.ae.syncRange('n1', id);
      assert.deepEqual({ pulled: again.pulled, pushed: again.pushed }, { pulled: 0, pushed: 0 }, `n1 and ${id} still differ after the repair`);
    }
  });

  it('does not stop a real node from starting; it serves, and after its start-up sync holds the replicas\' version', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dynakv-corrupt-'));
    const ids = ['n1', 'n2', 'n3'];
    const ports = await Promise.all(ids.map(async () => ({ http: await freePort(), peer: await freePort() })));
    const peers = ids.map((id, i) => ({ id, host: '127.0.0.1', port: ports[i]!.peer }));
    const lines: string[] = [];
    const start = (id: string): Promise<RunningNode> => {
      const i = ids.indexOf(id);
      const config: NodeConfig = {
        ...DEFAULT_CONFIG, id, cluster: 'corrupt', clusterSecret: insecureClusterSecret('corrupt'), peers,
        advertisePeer: `127.0.0.1:${ports[i]!.peer}`, advertiseHttp: `127.0.0.1:${ports[i]!.http}`,
      };
      const logger = id === 'n3' ? pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) : pino({ level: 'silent' });
      return startProductionNode({ config, security: { mode: 'insecure' }, dataDir: join(root, id), httpHost: '127.0.0.1', httpPort: ports[i]!.http, peerHost: '127.0.0.1', peerPort: ports[i]!.peer, logger });
    };
    const nodes = new Map<string, RunningNode>();
    try {
      for (const id of ids) nodes.set(id, await start(id));
      const key = 'corrupted-key';
      const n1 = nodes.get('n1')!.node;
      await waitFor(() => ids.every((id) => nodes.get(id)!.node.ring()?.nodes.length === 3 && ids.every((other) => !nodes.get(id)!.node.membership.isLocallyDown(other))), 20_000, 'every node knows the ring and sees the others up');
      // On a loaded host the first writes may time out: retry, superseding what a failed one left.
      await waitFor(async () => {
        try {
          await n1.put({ key, value: Buffer.from('the value'), contentType: 'text/plain', context: (await n1.get(key)).context, w: 3 });
          return true;
        } catch {
          return false;
        }
      }, 30_000, 'a write acknowledged by all three replicas');
      const held = nodes.get('n1')!.node.readLocal(key).siblings;
      await nodes.get('n3')!.close();
      nodes.delete('n3');
      const disk = await openLmdbStorage(join(root, 'n3', 'lmdb'));
      assert.ok(disk.get('data', key) !== undefined);
      await disk.commit([{ space: 'data', key, value: NOT_A_RECORD }]);
      await disk.close();

      const n3 = await start('n3');
      nodes.set('n3', n3);
      // The start-up scan runs once the node has heard the table from a member (it serves no
      // data before), so the error line comes a little after start() returns.
      await waitFor(() => lines.some((l) => l.includes('"level":50') && l.includes(key)), 20_000, `an error line naming the key (log: ${lines.length} lines)`).catch(() => {});
      assert.ok(lines.some((l) => l.includes('"level":50') && l.includes(key)), `no error line names the key: ${lines.join('')}`);
      assert.ok(n3.node.stats().corruptRecords >= 1);
      const read = await n3.node.get(key);
      assert.deepEqual(values(read.siblings), ['the value'], 'n3 does not serve the key');
      await waitFor(() => n3.node.readLocal(key).siblings.length > 0, 20_000, 'the start-up sync rewrites the key on n3');
      assert.deepEqual(n3.node.readLocal(key).siblings, held);
    } finally {
      await Promise.allSettled([...nodes.values()].map((n) => n.close()));
      rmSync(root, { recursive: true, force: true });
    }
  });
});
