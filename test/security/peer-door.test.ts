// Shows the peer door of real `dynakv node start` processes (a secure 3-node LocalCluster): a
// connection with a certificate from a foreign CA, a client certificate of the cluster's own CA,
// no certificate, or a node certificate whose hello names another node, sends a hello, ping,
// replica_get, a gossip of a fake member and a forward_put, and gets nothing: not one byte back,
// no member added, no key written. The same frames from a real node identity are answered (so
// the harness would see a reply). Then 200 strangers flooding the TLS port are closed and the
// node's resident memory stays within a small bound.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createCa, createNodeCert } from '../../src/security/certs.ts';
import { encodeFrame } from '../../src/transport/frame-codec.ts';
import { LocalCluster, waitFor } from '../support/local-cluster.ts';

let cluster: LocalCluster;

interface Identity {
  readonly cert?: string;
  readonly key?: string;
}

function files(dir: string, cert: string, key: string): Identity {
  return { cert: readFileSync(join(dir, cert), 'utf8'), key: readFileSync(join(dir, key), 'utf8') };
}

/** Every request an intruder would like answered, after a hello naming `from`. */
function intrusion(from: string): Buffer {
  const now = Date.now();
  const requests = [
    { kind: 'ping' },
    { kind: 'replica_get', key: 'door-key' },
    { kind: 'gossip', records: [{ id: 'evil', peer: '127.0.0.1:1', http: '127.0.0.1:2', status: 'up', version: 1_000_000, changedBy: 'evil', changedAtMs: now, heartbeat: 1, transfer: null, state: 'ready' }] },
    { kind: 'forward_put', key: 'evil-key', value: new Uint8Array([1, 2, 3]), contentType: 'text/plain', context: [], w: 1 },
  ];
  return Buffer.concat([encodeFrame({ t: 'hello', from, cluster: cluster.name }), ...requests.map((body, i) => encodeFrame({ t: 'req', id: i + 1, body }))]);
}

/** Connects to `port` with TLS as `identity`, sends `bytes` once its side of the handshake is done, and counts what comes back until the node closes (or `untilBytes` arrived). */
function knock(port: number, identity: Identity, bytes: Buffer, untilBytes = Infinity): Promise<number> {
  return new Promise((resolve) => {
    let received = 0;
    const ca = readFileSync(join(cluster.certsDir, 'ca.crt'), 'utf8');
    const socket = tls.connect({ host: '127.0.0.1', port, ca, ...identity, checkServerIdentity: () => undefined });
    socket.on('secureConnect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= untilBytes) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(received));
  });
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match !== null);
  return Number(match[1]) * 1024;
}

describe('the peer door of a secure cluster (real processes)', () => {
  before(async () => {
    cluster = await LocalCluster.start('door', 3);
    await cluster.node('n1').client.put('door-key', 'secret value');
  });
  after(async () => {
    await cluster?.stop();
  });

  it('intruders get nothing: no reply, no member, no write', async () => {
    const foreignRoot = join(cluster.root, 'foreign');
    await createCa({ certsDir: foreignRoot });
    await createNodeCert({ id: 'n1', certsDir: join(foreignRoot, 'n1'), caKey: join(foreignRoot, 'ca.key') });
    const target = cluster.node('n2').peerPort;
    const intruders: Array<[string, Identity, string]> = [
      ['foreign CA, claiming n1', files(join(foreignRoot, 'n1'), 'node.crt', 'node.key'), 'n1'],
      ['client certificate of the cluster CA', files(cluster.certsDir, 'client.admin.crt', 'client.admin.key'), 'n1'],
      ['no certificate', {}, 'n1'],
      ['n1\'s certificate, hello naming n3', files(join(cluster.certsDir, 'n1'), 'node.crt', 'node.key'), 'n3'],
    ];
    for (const [name, identity, from] of intruders) {
      assert.equal(await knock(target, identity, intrusion(from)), 0, `${name}: bytes received`);
    }
    for (const node of cluster.nodes) {
      const members = (await node.client.members()).members.map((m) => m.id);
      assert.deepEqual(members.sort(), ['n1', 'n2', 'n3'], `${node.id}'s members`);
    }
    for (const node of cluster.nodes) assert.equal((await node.client.get('evil-key', { r: 3 })).found, false, `${node.id} holds no evil-key`);

    // The control: the same kind of frames from n1's real identity are read and answered.
    const control = Buffer.concat([encodeFrame({ t: 'hello', from: 'n1', cluster: cluster.name }), encodeFrame({ t: 'req', id: 1, body: { kind: 'ping' } })]);
    assert.ok((await knock(target, files(join(cluster.certsDir, 'n1'), 'node.crt', 'node.key'), control, 1)) > 0, 'a real node is answered');
  });

  it('200 strangers flooding the peer port are closed and the node\'s memory stays bounded', async () => {
    const node = cluster.node('n2');
    const pid = node.process!.pid!;
    const before = rssBytes(pid);
    const sockets: net.Socket[] = [];
    let closed = 0;
    // Each sends a TLS record header and then 1 MiB of junk: before its handshake it may not make the node hold more than OpenSSL's bounded handshake buffers.
    const junk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 200; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: node.peerPort });
      socket.on('error', () => {});
      // Reading, so that the node's close is noticed here (a paused socket would not see it).
      socket.resume();
      socket.on('close', () => (closed += 1));
      socket.on('connect', () => {
        socket.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]));
        socket.write(junk);
      });
      sockets.push(socket);
    }
    let peakBytes = before;
    await waitFor('every stranger closed', () => {
      peakBytes = Math.max(peakBytes, rssBytes(pid));
      return closed === sockets.length;
    }, 30_000, 20);
    const grewBytes = peakBytes - before;
    console.log(`peer port flood: 200 connections x 1 MiB, RSS ${Math.round(before / 2 ** 20)} MiB -> peak ${Math.round(peakBytes / 2 ** 20)} MiB (+${(grewBytes / 2 ** 20).toFixed(1)} MiB)`);
    assert.ok(grewBytes < 48 * 2 ** 20, `RSS grew by ${grewBytes} bytes`);
    // And the cluster still works.
    await node.client.put('after-flood', 'ok');
    const read = await cluster.node('n3').client.get('after-flood');
    assert.ok(read.found);
    assert.equal(read.siblings[0]?.value.toString(), 'ok');
  });
});
