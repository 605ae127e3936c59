// Shows the HTTP port's limits (finding 8 of issue 13) on a real node with small limits: a
// client that sends its headers too slowly, or its body too slowly, is cut off within the
// configured time (plus one timeout check), not after node's 60 s / 300 s defaults. Times are
// measured from the first byte; every wait is on a socket event. Connections: past
// httpConnectionsMax established ones, a newly established one answers 503; past
// httpPreAuthConnectionsMax without a credential, the oldest of those is closed, never an
// established one; and one without a credential is closed at httpPreAuthTimeoutMs. Operators set the limits with
// `dynakv node start --http-limit NAME=VALUE` (parseHttpLimits), which refuses nonsense.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG, parseHttpLimits } from '../../src/node/config.ts';
import { startOneNode, type OneNode } from './one-node.ts';

/** Resolves with what the server sent and when it closed, in ms since the call. */
function untilClosed(socket: Socket): Promise<{ ms: number; received: string }> {
  const start = Date.now();
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  return new Promise((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => resolve({ ms: Date.now() - start, received }));
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

const portOf = (url: string) => Number(new URL(url).port);

describe('HTTP limits: slow clients', { timeout: 60_000 }, () => {
  let node: OneNode | undefined;
  before(async () => {
    node = await startOneNode('http-slow', { httpHeadersTimeoutMs: 400, httpRequestTimeoutMs: 1_000, httpTimeoutCheckMs: 50 });
  });
  after(async () => {
    await node?.stop();
  });

  it('cuts off a client that sends its headers too slowly', async () => {
    const socket = await open(portOf(node!.url));
    const closed = untilClosed(socket);
    socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const { ms, received } = await closed;
    assert.ok(ms >= 350 && ms < 3_000, `closed after ${ms} ms`);
    assert.match(received, /^HTTP\/1\.1 408/);
  });

  it('cuts off a client that sends its body too slowly, before it is read whole', async () => {
    const socket = await open(portOf(node!.url));
    const closed = untilClosed(socket);
    socket.write('PUT /kv/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n');
    const drip = setInterval(() => socket.writable && socket.write('x'.repeat(10)), 50);
    const { ms } = await closed;
    clearInterval(drip);
    assert.ok(ms >= 900 && ms < 4_000, `closed after ${ms} ms`);
    assert.equal((await fetch(`${node!.url}/kv/slow`)).status, 404, 'nothing was written');
  });
});

/** Sends one request on `socket` and resolves with the status line of its answer. */
function ask(socket: Socket, path = '/health'): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(received.split('\r\n')[0]!);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('HTTP limits: connections (insecure: a request head establishes a connection)', { timeout: 60_000 }, () => {
  let node: OneNode | undefined;
  before(async () => {
    node = await startOneNode('http-conns', { httpConnectionsMax: 4, httpPreAuthConnectionsMax: 3, httpPreAuthTimeoutMs: 60_000 });
  });
  after(async () => {
    await node?.stop();
  });

  it('refuses a connection past httpConnectionsMax established ones with 503, and takes it when a place frees', async () => {
    const port = portOf(node!.url);
    const held = await Promise.all([1, 2, 3, 4].map(() => open(port)));
    const holders = held.map((s) => untilClosed(s));
    for (const s of held) assert.match(await ask(s), /^HTTP\/1\.1 200/);

    const extra = await open(port);
    const refused = untilClosed(extra);
    extra.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const { received } = await refused;
    assert.match(received, /^HTTP\/1\.1 503/);
    assert.match(received, /retry-after: 1/i);
    assert.match(received, /httpConnectionsMax/);
    // Every established connection still answers.
    for (const s of held) assert.match(await ask(s), /^HTTP\/1\.1 200/);

    held[1]!.destroy();
    await holders[1];
    // The server counts the freed place once it has seen the close; retry until it has.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = await fetch(`${node!.url}/health`, { headers: { connection: 'close' } }).then((r) => r.status, () => 0);
    }
    assert.equal(status, 200);
    for (const s of held) s.destroy();
    await Promise.all(holders);
  });

  it('holds at most httpPreAuthConnectionsMax silent connections, closing the oldest, never an established one', async () => {
    const port = portOf(node!.url);
    const established = await open(port);
    const establishedClosed = untilClosed(established);
    assert.match(await ask(established), /^HTTP\/1\.1 200/);
    const silent: Socket[] = [];
    const closed: Array<Promise<unknown>> = [];
    for (let i = 0; i < 6; i++) {
      const s = await open(port);
      silent.push(s);
      closed.push(untilClosed(s));
    }
    // Three places: the three oldest silent ones were closed for the three newest.
    await Promise.all(closed.slice(0, 3));
    assert.ok(silent.slice(3).every((s) => !s.destroyed && !s.readableEnded), 'the newest three are held');
    assert.match(await ask(established), /^HTTP\/1\.1 200/, 'the established connection was not pushed out');
    // A newcomer still gets in, and its request head establishes it.
    const newcomer = await open(port);
    assert.match(await ask(newcomer), /^HTTP\/1\.1 200/);
    await closed[3];
    for (const s of [established, newcomer, ...silent]) s.destroy();
    await establishedClosed;
  });
});

describe('HTTP limits: connections without a credential (secure)', { timeout: 60_000 }, () => {
  let node: OneNode | undefined;
  before(async () => {
    node = await startOneNode('http-preauth', { httpPreAuthTimeoutMs: 300 }, { secure: true });
  });
  after(async () => {
    await node?.stop();
  });

  it('closes a connection that sends no ClientHello, or no credential, within httpPreAuthTimeoutMs', async () => {
    const port = portOf(node!.url);
    const bare = await open(port);
    const { ms } = await untilClosed(bare);
    assert.ok(ms >= 250 && ms < 3_000, `bare TCP closed after ${ms} ms`);
    // A TLS client that only asks public routes stays without a credential: closed at its deadline too.
    const ca = readFileSync(join(node!.certsDir, 'ca.crt'));
    const started = Date.now();
    const tlsSocket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    assert.match(await ask(tlsSocket as unknown as Socket), /^HTTP\/1\.1 200/);
    await new Promise((resolve) => tlsSocket.once('close', resolve));
    const tlsMs = Date.now() - started;
    assert.ok(tlsMs >= 250 && tlsMs < 3_000, `public-only TLS connection closed after ${tlsMs} ms`);
    // One with a credential is established: it outlives the deadline.
    const credentialed = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', cert: readFileSync(join(node!.certsDir, 'client.alice.crt')), key: readFileSync(join(node!.certsDir, 'client.alice.key')) }, () => resolve(s));
      s.once('error', reject);
    });
    assert.match(await ask(credentialed as unknown as Socket, '/local/stats'), /^HTTP\/1\.1 200/);
    await new Promise((r) => setTimeout(r, 600));
    assert.match(await ask(credentialed as unknown as Socket, '/local/stats'), /^HTTP\/1\.1 200/);
    credentialed.destroy();
  });

  it('stops without waiting for connections that have no credential', async () => {
    const other = await startOneNode('http-preauth-stop', { httpPreAuthTimeoutMs: 60_000 }, { secure: true });
    const silent = await Promise.all([1, 2, 3].map(() => open(portOf(other.url))));
    const started = Date.now();
    await other.stop();
    assert.ok(Date.now() - started < 3_000, `stop took ${Date.now() - started} ms`);
    for (const s of silent) s.destroy();
  });
});

describe('HTTP limits from the command line (--http-limit NAME=VALUE)', () => {
  it('overrides named limits and keeps the others at their defaults', () => {
    const limits = parseHttpLimits(['httpConnectionsMax=1024,httpRequestTimeoutMs=60000', 'httpIdleTimeoutMs=5000']);
    assert.equal(limits.httpConnectionsMax, 1024);
    assert.equal(limits.httpRequestTimeoutMs, 60_000);
    assert.equal(limits.httpIdleTimeoutMs, 5_000);
    assert.equal(limits.httpHeadersTimeoutMs, DEFAULT_CONFIG.httpHeadersTimeoutMs);
  });

  it('refuses unknown names, zero, non-numbers and a headers deadline past the request\'s', () => {
    for (const bad of ['nope=1', 'httpConnectionsMax=0', 'httpConnectionsMax=-1', 'httpConnectionsMax=1e3', 'httpConnectionsMax', 'valueBytesMax=1']) {
      assert.throws(() => parseHttpLimits([bad]), /--http-limit/, bad);
    }
    assert.throws(() => parseHttpLimits(['httpHeadersTimeoutMs=40000']), /must not exceed httpRequestTimeoutMs/);
  });
});
