// Shows the bounds on what a connection that has not (yet) said hello can make a node hold
// (issue 13, finding 5): a frame before the hello may declare at most helloFrameBytesMax bytes,
// so a 32 MiB partial frame is refused on its header; at most preAuthConnectionsMax such
// connections are held (the oldest is closed for a new one), separately from the total cap; and
// a connection that says nothing is closed after helloTimeoutMs. Real sockets on 127.0.0.1,
// plain TCP (the TLS path shares the same accept code; see peer-tls.test.ts).
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { encodeFrame } from '../../src/transport/frame-codec.ts';
import { TcpTransport, helloFrameBytesMax, preAuthConnectionsMaxDefault, type TcpTransportOptions } from '../../src/transport/tcp-transport.ts';
import { RecordingLog, waitFor } from './wait-for.ts';

type Req = { readonly op: 'echo'; readonly value: unknown };
type Rep = { readonly value: unknown };

const host = '127.0.0.1';
const transports: Array<TcpTransport<Req, Rep>> = [];
const sockets: Socket[] = [];
const addressBook = new Map<string, { host: string; port: number }>();

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(transports.splice(0).map((t) => t.close()));
  addressBook.clear();
});

async function start(id: string, options: Partial<TcpTransportOptions<Req, Rep>> = {}): Promise<{ transport: TcpTransport<Req, Rep>; log: RecordingLog; handled: string[] }> {
  const log = new RecordingLog();
  const handled: string[] = [];
  const transport = new TcpTransport<Req, Rep>({
    self: id,
    cluster: 'test',
    listenHost: host,
    listenPort: 0,
    resolve: (peer) => addressBook.get(peer),
    parseRequest: (body) => (typeof body === 'object' && body !== null && (body as { op?: unknown }).op === 'echo' ? { op: 'echo', value: (body as { value?: unknown }).value } : undefined),
    parseReply: (body) => (typeof body === 'object' && body !== null ? { value: (body as { value?: unknown }).value } : undefined),
    log,
    ...options,
  });
  transport.serve(async (from, request) => {
    handled.push(from);
    return { value: request.value };
  });
  transports.push(transport);
  await transport.listen();
  addressBook.set(id, { host, port: transport.port });
  return { transport, log, handled };
}

async function rawConnect(port: number): Promise<Socket> {
  const socket = net.connect({ host, port });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

function isClosed(socket: Socket): boolean {
  return socket.destroyed || socket.readableEnded;
}

function header(length: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(length, 0);
  return bytes;
}

describe('pre-authentication bounds', () => {
  it('closes connections that send large partial frames before a hello, holding at most the hello bound each', async () => {
    // A long hello timeout: anything closed below was closed for its bytes, not for its silence.
    const b = await start('b', { helloTimeoutMs: 60_000 });
    const attackers: Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const socket = await rawConnect(b.transport.port);
      socket.write(header(32 * 1024 * 1024 - 1));
      socket.write(Buffer.alloc(1024 * 1024, 0x61));
      attackers.push(socket);
    }
    await waitFor(() => attackers.every(isClosed), 5_000, 'every large pre-hello frame refused');
    // One kind of refusal: logged once, the other 7 counted (refusals are rate-limited per kind).
    assert.equal(b.log.warnings(`exceeds frameBytesMax ${helloFrameBytesMax}`).length, 1, JSON.stringify(b.log.warnings().slice(0, 2)));

    // A partial frame within the hello bound is held, and counted, until the hello timeout.
    const slow = await rawConnect(b.transport.port);
    slow.write(Buffer.concat([header(helloFrameBytesMax), Buffer.alloc(helloFrameBytesMax - 1, 0x61)]));
    await waitFor(() => b.transport.stats.preAuthBytesHeld === 4 + helloFrameBytesMax - 1, 2_000, 'partial hello held');
    assert.ok(b.transport.stats.preAuthBytesHeld <= b.transport.stats.preAuthConnections * (4 + helloFrameBytesMax));
    assert.deepEqual(b.handled, []);

    // A real peer still gets through.
    const a = await start('a');
    assert.deepEqual(await a.transport.request('b', { op: 'echo', value: 1 }, 2_000), { value: 1 });
  });

  it('holds at most preAuthConnectionsMax connections without a hello, closing the oldest, and peers still connect', async () => {
    const preAuthConnectionsMax = 4;
    const b = await start('b', { helloTimeoutMs: 60_000, preAuthConnectionsMax });
    const silent: Socket[] = [];
    for (let i = 0; i < 10; i++) silent.push(await rawConnect(b.transport.port));
    await waitFor(() => silent.slice(0, 6).every(isClosed), 5_000, 'the 6 oldest silent connections closed');
    await waitFor(() => b.transport.stats.preAuthConnections === preAuthConnectionsMax, 2_000, 'cap reached');
    assert.ok(silent.slice(6).every((s) => !isClosed(s)), 'the newest 4 are kept');
    // A peer gets in: its connection takes the oldest silent one's slot until its hello, and
    // then counts only against the total cap.
    const a = await start('a');
    assert.deepEqual(await a.transport.request('b', { op: 'echo', value: 2 }, 2_000), { value: 2 });
    await waitFor(() => isClosed(silent[6]!), 2_000, 'the oldest remaining silent connection closed for the peer');
    assert.equal(b.transport.stats.preAuthConnections, preAuthConnectionsMax - 1);
    assert.equal(b.transport.stats.inboundConnections, preAuthConnectionsMax);
    assert.ok(preAuthConnectionsMaxDefault >= 16 && preAuthConnectionsMaxDefault < 1024);
  });

  it('closes a connection that stays silent for helloTimeoutMs', async () => {
    const b = await start('b', { helloTimeoutMs: 200 });
    const socket = await rawConnect(b.transport.port);
    const startedMs = performance.now();
    await waitFor(() => isClosed(socket), 5_000, 'silent connection closed');
    assert.ok(performance.now() - startedMs >= 150);
    assert.equal(b.log.warnings('no hello within 200 ms').length, 1);
    assert.equal(b.transport.stats.preAuthConnections, 0);
  });

  it('takes a hello and the requests that follow it in one chunk', async () => {
    const b = await start('b');
    const socket = await rawConnect(b.transport.port);
    const replies: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => replies.push(chunk));
    // A request larger than the hello bound, in the same write as the hello.
    const big = 'x'.repeat(4 * helloFrameBytesMax);
    socket.write(Buffer.concat([encodeFrame({ t: 'hello', from: 'raw', cluster: 'test' }), encodeFrame({ t: 'req', id: 7, body: { op: 'echo', value: big } })]));
    await waitFor(() => Buffer.concat(replies).length > big.length, 2_000, 'reply to the request after the hello');
    assert.deepEqual(b.handled, ['raw']);
    assert.equal(b.transport.stats.preAuthConnections, 0);
  });

  it('refuses a hello whose id breaks the id rule (control characters included)', async () => {
    const b = await start('b', { helloTimeoutMs: 60_000 });
    for (const from of ['a b', 'n1\u001b[31m', 'x'.repeat(65), 'seed:127.0.0.1:1']) {
      const socket = await rawConnect(b.transport.port);
      socket.write(Buffer.concat([encodeFrame({ t: 'hello', from, cluster: 'test' }), encodeFrame({ t: 'req', id: 1, body: { op: 'echo', value: 1 } })]));
      await waitFor(() => isClosed(socket), 2_000, `hello from ${JSON.stringify(from)} refused`);
    }
    assert.equal(b.log.warnings('not a node id').length, 4);
    assert.deepEqual(b.handled, []);
  });
});
