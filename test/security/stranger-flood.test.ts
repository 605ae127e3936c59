// Shows, on a real secure `dynakv node start` process, what strangers without any credential can
// no longer do with bare TCP connections (findings 1 and 6 of the attack review of issue 13):
// - flood the peer port with connections that never send a byte (each evicted, then reopened):
//   the node logs a few lines with counts of what it suppressed, not one warning per eviction;
// - hold the HTTPS port with connections that never send a ClientHello, reopened as the node
//   closes them: health checks from new connections are still answered, and an established,
//   authenticated keep-alive connection keeps working throughout.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startNodeProcess, warnLines, type NodeProcess } from './node-process.ts';

/** Keeps `count` bare TCP connections to `port` (no bytes sent), reopening each as it closes. */
function holdConnections(port: number, count: number, reopenDelayMs: number): { dials: () => number; stop: () => void } {
  let dials = 0;
  let stopped = false;
  const sockets = new Set<net.Socket>();
  const one = () => {
    if (stopped) return;
    dials += 1;
    const socket = net.connect({ host: '127.0.0.1', port });
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      setTimeout(one, reopenDelayMs);
    });
  };
  for (let i = 0; i < count; i++) one();
  return {
    dials: () => dials,
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/** One HTTPS GET; resolves with the status, or the error code. */
function get(url: string, options: { agent: Agent | false; ca: Buffer; cert?: Buffer; key?: Buffer }, timeoutMs = 5_000): Promise<number | string> {
  return new Promise((done) => {
    const req = request(url, { ...options, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', (err: Error & { code?: string }) => done(err.code ?? err.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: Error & { code?: string }) => done(err.code ?? err.message));
    req.end();
  });
}

describe('strangers flooding a node\'s ports with bare TCP connections', { timeout: 180_000 }, () => {
  let root = '';
  let node: NodeProcess | undefined;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-stranger-flood-'));
    node = await startNodeProcess(root);
  });
  after(async () => {
    await node?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('peer port: evictions are logged a few lines at a time, with counts, not one line each', async () => {
    const warnsBefore = warnLines(node!.output()).length;
    // 200 at once against 64 pre-hello slots: every new connection evicts the oldest.
    const flood = holdConnections(node!.peerPort, 200, 0);
    await new Promise((r) => setTimeout(r, 3_000));
    flood.stop();
    const dials = flood.dials();
    const warns = warnLines(node!.output()).slice(warnsBefore);
    console.log(`peer flood: ${dials} dials in 3 s, ${warns.length} warning lines`);
    assert.ok(dials > 500, `the flood made ${dials} connections`);
    assert.ok(warns.length <= 10, `${warns.length} warning lines for ${dials} connections`);
    assert.ok(warns.some((w) => typeof w.msg === 'string' && /refused|closing/.test(w.msg)), 'the first refusal is still logged');
    assert.equal((await node!.fetch(`${node!.url}/health`)).status, 200);
  });

  it('HTTPS port: connections that never send a ClientHello lock out neither new clients nor established ones', async () => {
    const clients = node!.clientsDir!;
    const ca = readFileSync(join(clients, 'ca.crt'));
    const credential = { ca, cert: readFileSync(join(clients, 'client.alice.crt')), key: readFileSync(join(clients, 'client.alice.key')) };
    // An authenticated client with one keep-alive connection, established before the flood.
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const established = { ...credential, agent: keepAlive };
    assert.equal(await get(`${node!.url}/local/stats`, established), 200);
    // Counts the sockets the agent opens from now on: none, if its connection is never closed.
    let socketsOpened = 0;
    const originalCreate = keepAlive.createConnection.bind(keepAlive);
    keepAlive.createConnection = ((...args: Parameters<typeof originalCreate>) => {
      socketsOpened += 1;
      return originalCreate(...args);
    }) as typeof keepAlive.createConnection;

    // As many bare connections as the node allowed connections in all (httpConnectionsMax), reopened 20 ms after each close.
    const hold = holdConnections(node!.httpPort, 512, 20);
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      const fresh: Array<number | string> = [];
      const kept: Array<number | string> = [];
      const deadline = Date.now() + 8_000;
      while (Date.now() < deadline) {
        // A new client each time: health check without a credential, and a read with one.
        fresh.push(await get(`${node!.url}/health`, { ca, agent: false }));
        fresh.push(await get(`${node!.url}/local/stats`, { ...credential, agent: false }));
        kept.push(await get(`${node!.url}/local/stats`, established));
        await new Promise((r) => setTimeout(r, 200));
      }
      const freshOk = fresh.filter((s) => s === 200).length;
      console.log(`HTTPS hold: ${hold.dials()} stranger dials; new clients ${freshOk}/${fresh.length} answered; established ${kept.filter((s) => s === 200).length}/${kept.length}; its agent opened ${socketsOpened} new sockets`);
      assert.ok(hold.dials() >= 512, `${hold.dials()} dials`);
      assert.ok(freshOk >= fresh.length * 0.9, `new clients answered: ${freshOk}/${fresh.length}: ${JSON.stringify(fresh.filter((s) => s !== 200))}`);
      assert.deepEqual(kept.filter((s) => s !== 200), [], 'every request on the established connection answered');
      assert.equal(socketsOpened, 0, 'the established connection was never pushed out');
    } finally {
      hold.stop();
      keepAlive.destroy();
    }
  });
});
