// Shows mutual TLS on the peer transport, on real TLS sockets on 127.0.0.1: two nodes with
// certificates from one cluster CA talk both ways; a connection with a certificate from a foreign
// CA, a client certificate, no certificate, a hello naming another node than its certificate, or
// no TLS at all gets nothing (no request reaches the handler, not one byte of reply); a dialer
// refuses a listener whose certificate names another node than the one dialed (a join seed may be
// any node); and the pre-hello time bound covers the TLS handshake. Certificates are made once in
// a temporary directory by src/security/certs.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, afterEach, before, describe, it } from 'node:test';
import { TransportError } from '../../src/env/transport.ts';
import { createCa, createClientCert, createNodeCert, loadClientCerts, loadNodeCerts, type NodeCerts } from '../../src/security/certs.ts';
import { encodeFrame } from '../../src/transport/frame-codec.ts';
import { TcpTransport, type PeerTls, type TcpTransportOptions } from '../../src/transport/tcp-transport.ts';
import { RecordingLog, waitFor } from './wait-for.ts';

type Req = { readonly op: 'echo'; readonly value: unknown };
type Rep = { readonly from: string; readonly value: unknown };

const host = '127.0.0.1';
let root: string;
const certs = new Map<string, NodeCerts>();
let foreignA: NodeCerts;
let client: { ca: string; cert: string; key: string };
const transports: Array<TcpTransport<Req, Rep>> = [];
const sockets: net.Socket[] = [];
const addressBook = new Map<string, { host: string; port: number }>();

interface Started {
  readonly transport: TcpTransport<Req, Rep>;
  readonly log: RecordingLog;
  /** `from` of every request the handler saw. */
  readonly handled: string[];
}

function tlsOf(c: NodeCerts): PeerTls {
  return { ca: c.ca, cert: c.cert, key: c.key };
}

async function start(id: string, options: Partial<TcpTransportOptions<Req, Rep>> = {}): Promise<Started> {
  const log = new RecordingLog();
  const handled: string[] = [];
  const transport = new TcpTransport<Req, Rep>({
    self: id,
    cluster: 'test',
    listenHost: host,
    listenPort: 0,
    resolve: (peer) => addressBook.get(peer) ?? (peer.startsWith('seed:') ? { host, port: Number(peer.split(':')[2]) } : undefined),
    parseRequest: (body) => (typeof body === 'object' && body !== null && (body as { op?: unknown }).op === 'echo' ? { op: 'echo', value: (body as { value?: unknown }).value } : undefined),
    parseReply: (body) => (typeof body === 'object' && body !== null ? (body as Rep) : undefined),
    log,
    tls: tlsOf(certs.get(id)!),
    ...options,
  });
  transport.serve(async (from, request) => {
    handled.push(from);
    return { from: id, value: request.value };
  });
  transports.push(transport);
  await transport.listen();
  addressBook.set(id, { host, port: transport.port });
  return { transport, log, handled };
}

/**
 * Connects with TLS as the given identity (or none), sends `bytes` once the client side of the
 * handshake is done, and resolves when the listener has closed the connection, with every byte
 * received in between.
 */
function attempt(port: number, identity: { cert?: string; key?: string }, bytes: Buffer): Promise<{ received: number; handshook: boolean }> {
  return new Promise((resolve) => {
    let received = 0;
    let handshook = false;
    const socket = tls.connect({ host, port, ca: certs.get('a')!.ca, ...identity, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    sockets.push(socket);
    socket.on('secureConnect', () => {
      handshook = true;
      socket.write(bytes);
    });
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ received, handshook }));
  });
}

function helloAnd(from: string, ...values: number[]): Buffer {
  return Buffer.concat([encodeFrame({ t: 'hello', from, cluster: 'test' }), ...values.map((value, i) => encodeFrame({ t: 'req', id: i + 1, body: { op: 'echo', value } }))]);
}

describe('peer transport over mutual TLS', () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-peer-tls-'));
    const caKey = join(root, 'ca', 'ca.key');
    await createCa({ certsDir: join(root, 'ca') });
    for (const id of ['a', 'b', 'c']) {
      await createNodeCert({ id, certsDir: join(root, id), caKey });
      certs.set(id, loadNodeCerts(join(root, id)));
    }
    await createCa({ certsDir: join(root, 'foreign-ca') });
    await createNodeCert({ id: 'a', certsDir: join(root, 'foreign-a'), caKey: join(root, 'foreign-ca', 'ca.key') });
    foreignA = loadNodeCerts(join(root, 'foreign-a'));
    await createClientCert({ name: 'ops', role: 'admin', certsDir: join(root, 'clients'), caKey });
    client = loadClientCerts(join(root, 'clients'), 'ops');
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(transports.splice(0).map((t) => t.close()));
    addressBook.clear();
  });

  it('carries requests both ways between nodes of one CA; the handler sees the certificate\'s id', async () => {
    const a = await start('a');
    const b = await start('b');
    assert.deepEqual(await a.transport.request('b', { op: 'echo', value: 'x' }, 2_000), { from: 'b', value: 'x' });
    assert.deepEqual(await b.transport.request('a', { op: 'echo', value: 'y' }, 2_000), { from: 'a', value: 'y' });
    assert.deepEqual(b.handled, ['a']);
    assert.deepEqual(a.handled, ['b']);
    assert.equal(a.log.warnings().length + b.log.warnings().length, 0);
  });

  it('refuses to start with a certificate for another node', () => {
    assert.throws(() => new TcpTransport<Req, Rep>({
      self: 'a', cluster: 'test', listenHost: host, listenPort: 0, resolve: () => undefined, parseRequest: () => undefined, parseReply: () => undefined,
      log: new RecordingLog(), tls: tlsOf(certs.get('b')!),
    }), /node certificate for a, it is for b/);
  });

  it('a node with a certificate from a foreign CA gets nothing', async () => {
    const b = await start('b');
    const a = await start('a', { tls: tlsOf(foreignA) });
    // a trusts only its own (foreign) CA, so it drops b during the handshake.
    await assert.rejects(a.transport.request('b', { op: 'echo', value: 1 }, 2_000), (error: unknown) => error instanceof TransportError);
    // Raw, with our CA to trust b and the foreign certificate as its own: b refuses it.
    const result = await attempt(b.transport.port, { cert: foreignA.cert, key: foreignA.key }, helloAnd('a', 1, 2));
    assert.equal(result.received, 0);
    assert.deepEqual(b.handled, []);
    assert.equal(b.log.warnings('peer certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE').length, 1, JSON.stringify(b.log.entries));
  });

  it('an expired node certificate of the cluster CA gets nothing', async () => {
    const b = await start('b');
    await createNodeCert({ id: 'old', certsDir: join(root, 'old'), caKey: join(root, 'ca', 'ca.key'), now: new Date(Date.now() - 6 * 365 * 86_400_000) });
    // Read as files: loadNodeCerts would refuse them.
    const old = { cert: readFileSync(join(root, 'old', 'node.crt'), 'utf8'), key: readFileSync(join(root, 'old', 'node.key'), 'utf8') };
    const result = await attempt(b.transport.port, old, helloAnd('old', 1));
    assert.equal(result.received, 0);
    assert.deepEqual(b.handled, []);
    assert.equal(b.log.warnings('peer certificate refused: CERT_HAS_EXPIRED').length, 1);
  });

  it('a client certificate of the cluster CA gets nothing on the peer port', async () => {
    const b = await start('b');
    const result = await attempt(b.transport.port, { cert: client.cert, key: client.key }, helloAnd('ops', 1));
    assert.equal(result.handshook, true, 'TLS accepted the certificate: the identity check refused it');
    assert.equal(result.received, 0);
    assert.deepEqual(b.handled, []);
    assert.equal(b.log.warnings('the peer port takes nodes only').length, 1);
  });

  it('a connection without a certificate gets nothing', async () => {
    const b = await start('b');
    const result = await attempt(b.transport.port, {}, helloAnd('a', 1));
    assert.equal(result.received, 0);
    assert.deepEqual(b.handled, []);
    assert.equal(b.log.warnings('peer certificate refused: none was sent').length, 1);
  });

  it('a hello naming another node than the certificate gets nothing', async () => {
    const b = await start('b');
    const a = certs.get('a')!;
    const result = await attempt(b.transport.port, { cert: a.cert, key: a.key }, helloAnd('c', 1, 2));
    assert.equal(result.handshook, true);
    assert.equal(result.received, 0);
    assert.deepEqual(b.handled, []);
    assert.equal(b.log.warnings('hello names node c, its certificate is for node a').length, 1);
    // The same certificate with its own id is served.
    const ok = await start('a');
    assert.deepEqual(await ok.transport.request('b', { op: 'echo', value: 3 }, 2_000), { from: 'b', value: 3 });
  });

  it('plain TCP and TLS do not mix: neither side serves the other', async () => {
    const b = await start('b');
    const plain = await start('c', { tls: undefined });
    await assert.rejects(plain.transport.request('b', { op: 'echo', value: 1 }, 2_000), (error: unknown) => error instanceof TransportError);
    const a = await start('a');
    await assert.rejects(a.transport.request('c', { op: 'echo', value: 1 }, 2_000), (error: unknown) => error instanceof TransportError);
    assert.deepEqual(b.handled, []);
    assert.deepEqual(plain.handled, []);
  });

  it('a dialer refuses a listener proving another node than the one dialed; a join seed may be any node', async () => {
    const a = await start('a', { isSeed: (to) => to.startsWith('seed:') });
    const c = await start('c');
    addressBook.set('b', { host, port: c.transport.port });
    await assert.rejects(a.transport.request('b', { op: 'echo', value: 1 }, 2_000), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.equal(error.code, 'UNREACHABLE');
      assert.match(error.message, /it is for node c, dialed b/);
      return true;
    });
    assert.deepEqual(c.handled, [], 'nothing was sent to the impostor');
    assert.deepEqual(await a.transport.request(`seed:${host}:${c.transport.port}`, { op: 'echo', value: 2 }, 2_000), { from: 'c', value: 2 });
  });

  it('waits past connectTimeoutMs for a handshake the listener is slow to answer (its event loop busy)', async () => {
    const b = await start('b');
    // A relay that accepts at once (as the kernel does) but passes bytes on only after 600 ms.
    const relay = net.createServer((inbound) => {
      inbound.pause();
      setTimeout(() => {
        const outbound = net.connect({ host, port: b.transport.port });
        sockets.push(inbound, outbound);
        inbound.pipe(outbound).pipe(inbound);
        inbound.resume();
        outbound.on('error', () => inbound.destroy());
        inbound.on('error', () => outbound.destroy());
      }, 600);
    });
    await new Promise<void>((resolve) => relay.listen(0, host, resolve));
    try {
      const a = await start('a', { connectTimeoutMs: 200 });
      addressBook.set('b', { host, port: (relay.address() as net.AddressInfo).port });
      assert.deepEqual(await a.transport.request('b', { op: 'echo', value: 'slow' }, 3_000), { from: 'b', value: 'slow' });
    } finally {
      for (const socket of sockets.splice(0)) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    }
  });

  it('closes a TCP connection that never finishes its TLS handshake within helloTimeoutMs, and counts it as pre-auth', async () => {
    const b = await start('b', { helloTimeoutMs: 200 });
    const socket = net.connect({ host, port: b.transport.port });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    // The start of a TLS record that never completes.
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01]));
    await waitFor(() => b.transport.stats.preAuthConnections === 1, 1_000, 'pre-auth connection counted');
    await waitFor(() => socket.destroyed || socket.readableEnded, 3_000, 'handshake timeout');
    await waitFor(() => b.transport.stats.preAuthConnections === 0 && b.transport.stats.inboundConnections === 0, 1_000, 'state released');
    assert.deepEqual(b.handled, []);
  });
});
