// Attack finding 2 on issue 13, on four secure in-process production nodes (mutual TLS, LMDB):
// a certificate signed by the cluster CA for a node that was never added (n6), and the real
// certificate of a node the operator removed (n4), talk to a member's peer port by hand. They
// get their pings and the table answered, and every data request refused with a NOT_A_MEMBER
// error reply on the same connection; n6's gossip does not put it in the ring, and n4's gossip
// at a higher epoch does not undo its removal (/tmp/review-attack/gossip-selfadd.sh). Within the
// hand-off window the removed n4 may still deliver keys (replica_put_batch).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import '../../src/protocol/messages.ts'; // registers the record extension the frames below use
import { createNodeCert } from '../../src/security/certs.ts';
import { FrameDecoder, encodeFrame } from '../../src/transport/frame-codec.ts';
import { EncodedRecord } from '../../src/version/record-codec.ts';
import { waitFor } from '../support/local-cluster.ts';
import { InProcessCluster } from '../support/in-process-cluster.ts';

interface Answer {
  readonly t: string;
  readonly id: number;
  readonly code?: string;
  readonly body?: { kind?: string; records?: Array<{ id: string; status: string; epoch: number }> };
}

/** Sends a hello naming `from` and then `requests` on one TLS connection; resolves with every answer, in request order. */
function talk(port: number, certDir: string, from: string, cluster: string, requests: readonly unknown[]): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const answers: Answer[] = [];
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(join(certDir, 'ca.crt')),
      cert: readFileSync(join(certDir, 'node.crt')),
      key: readFileSync(join(certDir, 'node.key')),
      checkServerIdentity: () => undefined,
    });
    const decoder = new FrameDecoder();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${answers.length} of ${requests.length} answers came back`));
    }, 10_000);
    socket.on('secureConnect', () => {
      socket.write(encodeFrame({ t: 'hello', from, cluster }));
      requests.forEach((body, i) => socket.write(encodeFrame({ t: 'req', id: i + 1, body })));
    });
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) answers.push(frame as Answer);
      if (answers.length === requests.length) {
        clearTimeout(timer);
        socket.end();
        resolve(answers.sort((a, b) => a.id - b.id));
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function outcomes(answers: readonly Answer[]): string[] {
  return answers.map((a) => (a.t === 'err' ? `err ${a.code}` : (a.body?.kind ?? a.t)));
}

describe('the peer port of a secure cluster answers by membership', () => {
  let cluster: InProcessCluster;
  const ids = ['n1', 'n2', 'n3', 'n4'];
  const record = EncodedRecord.of([{ dot: { node: 'n6#0000000000', counter: 1, timeMs: 0 }, context: [], value: null, contentType: '' }]);
  before(async () => {
    cluster = await InProcessCluster.start('peer-door-members', ids);
    const res = await cluster.fetch(`${cluster.nodes[0]!.httpUrl}/kv/door-key`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'secret value' });
    assert.equal(res.status, 200, await res.text());
  });
  after(() => cluster.stop());

  const selfAdd = (id: string, epoch: number) => ({ id, peer: '127.0.0.1:1', http: '127.0.0.1:2', status: 'up', epoch, version: epoch, changedBy: id, changedAtMs: Date.now(), heartbeat: 0, transfer: null, state: 'ready' });
  const dataRequests = [
    { kind: 'replica_get', key: 'door-key' },
    { kind: 'replica_put', key: 'door-key', record },
    { kind: 'hint_put', owner: 'n1', key: 'door-key', record },
    { kind: 'forward_put', key: 'evil-key', value: new Uint8Array([1, 2, 3]), contentType: 'text/plain', context: [], w: 1 },
    { kind: 'replica_get_batch', keys: ['door-key'] },
    { kind: 'ae_level', range: 'n1', level: 0, indexes: [0] },
  ];

  it('a CA-signed certificate never added may ping and pull the table, and nothing else', { timeout: 60_000 }, async () => {
    const certDir = join(cluster.root, 'intruder-n6');
    await createNodeCert({ id: 'n6', certsDir: certDir, caKey: join(cluster.root, 'certs', 'ca.key') });
    const answers = await talk(cluster.nodes[1]!.peerPort, certDir, 'n6', 'peer-door-members', [
      { kind: 'ping' },
      { kind: 'gossip', records: [selfAdd('n6', 1)] },
      ...dataRequests,
      { kind: 'replica_put_batch', entries: [{ key: 'door-key', record }] },
    ]);
    assert.deepEqual(outcomes(answers), ['pong', 'gossip_ok', ...dataRequests.map(() => 'err NOT_A_MEMBER'), 'err NOT_A_MEMBER']);
    assert.deepEqual(answers[1]!.body!.records!.map((r) => r.id), ids, 'answered with the table');
    for (const n of cluster.nodes) assert.equal(n.node.membership.record('n6'), undefined, `${n.node.id} has no n6`);
    const read = await cluster.fetch(`${cluster.nodes[2]!.httpUrl}/kv/door-key`);
    assert.equal(await read.text(), 'secret value');
  });

  it('a removed node cannot gossip itself back at a higher epoch, and only hands keys off', { timeout: 60_000 }, async () => {
    const res = await cluster.fetch(`${cluster.nodes[0]!.httpUrl}/cluster/members/n4`, { method: 'DELETE', headers: { 'x-dynakv-request': '1' } });
    assert.equal(res.status, 200, await res.text());
    await waitFor('n4 removed everywhere', () => cluster.nodes.every((n) => n.node.membership.record('n4')?.status === 'removed'));
    const epoch = cluster.nodes[0]!.node.membership.record('n4')!.epoch;
    const answers = await talk(cluster.nodes[1]!.peerPort, join(cluster.root, 'certs', 'n4'), 'n4', 'peer-door-members', [
      { kind: 'gossip', records: [{ ...selfAdd('n4', epoch + 1), peer: cluster.nodes[0]!.node.membership.record('n4')!.peer }] },
      ...dataRequests,
      { kind: 'replica_put_batch', entries: [{ key: 'handed-off', record }] },
    ]);
    assert.deepEqual(outcomes(answers), ['gossip_ok', ...dataRequests.map(() => 'err NOT_A_MEMBER'), 'replica_put_ok']);
    assert.equal(answers[0]!.body!.records!.find((r) => r.id === 'n4')?.status, 'removed', 'n4 learns it was removed');
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // a gossip round or so
    for (const n of cluster.nodes) assert.equal(n.node.membership.record('n4')?.status, 'removed', `n4 as ${n.node.id} sees it`);
  });
});
