// Shows the HTTP port's limits (finding 8 of issue 13) on a real node with small limits: a
// client that sends its headers too slowly, or its body too slowly, is cut off within the
// configured time (plus one timeout check), not after node's 60 s / 300 s defaults; connections
// past httpConnectionsMax are closed at once, and a place frees when one closes. Times are
// measured from the first byte; every wait is on a socket event. Operators set the limits with
// `dynakv node start --http-limit NAME=VALUE` (parseHttpLimits), which refuses nonsense.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
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

describe('HTTP limits: connections', { timeout: 60_000 }, () => {
  let node: OneNode | undefined;
  before(async () => {
    node = await startOneNode('http-conns', { httpConnectionsMax: 4 });
  });
  after(async () => {
    await node?.stop();
  });

  it('closes connections past the cap at once, and takes new ones when a place frees', async () => {
    const port = portOf(node!.url);
    const held = await Promise.all([1, 2, 3, 4].map(() => open(port)));
    const holders = held.map((s) => untilClosed(s));
    // Each held connection is alive: it answers a request.
    held[0]!.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await new Promise((resolve) => held[0]!.once('data', resolve));

    const extra = await open(port);
    const refused = untilClosed(extra);
    extra.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const { received } = await refused;
    assert.equal(received, '', 'the fifth connection got no answer');

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
