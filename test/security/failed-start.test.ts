// Shows, on real `dynakv node start` processes, that a start that fails releases what it opened
// and exits non-zero at once with a message naming what failed (finding 4 of the attack review
// of issue 13: a failed start hung with its peer port bound). Two failures: a corrupt membership
// table (the node must still refuse to start on it), found after the peer port is bound and LMDB
// is open; and an HTTP port already in use, found last. Each time the process exits within a few
// seconds, says what failed, and both of its ports can be bound again by someone else.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordKey } from '../../src/membership/persisted.ts';
import { openLmdbStorage } from '../../src/storage/lmdb-storage.ts';
import { spawnNode, startNodeProcess } from './node-process.ts';

/** Whether `port` on 127.0.0.1 can be bound now (then it is released again). */
function bindable(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** Resolves with the exit code, or 'still running' after `ms` (the process is then killed). */
async function exitWithin(spawned: Awaited<ReturnType<typeof spawnNode>>, ms: number): Promise<number | null | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((done) => (timer = setTimeout(() => done('still running'), ms)));
  const result = await Promise.race([spawned.exited, late]);
  clearTimeout(timer);
  if (result === 'still running') {
    spawned.child.kill('SIGKILL');
    await spawned.exited;
  }
  return result;
}

describe('a node start that fails', { timeout: 120_000 }, () => {
  let root = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-failed-start-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('on a corrupt membership table: refuses, names it, exits non-zero promptly and frees its ports', async () => {
    const first = await startNodeProcess(root, { id: 'c1', secure: false });
    assert.equal(await first.stop(), 0);
    const storage = await openLmdbStorage(join(first.dataDir, 'lmdb'));
    await storage.commit([{ space: 'meta', key: recordKey('c1'), value: Buffer.from('{"not": "a record"}') }]);
    await storage.close();

    const again = await spawnNode(root, { id: 'c1', secure: false, dataDir: first.dataDir, httpPort: first.httpPort, peerPort: first.peerPort });
    const code = await exitWithin(again, 10_000);
    assert.equal(code, 1, `exit: ${code}\n${again.output()}`);
    assert.match(again.output(), /corrupt membership table/);
    assert.match(again.output(), /node c1 did not start/);
    assert.ok(again.output().includes(first.dataDir), `names the data dir:\n${again.output()}`);
    assert.equal(await bindable(again.peerPort), true, 'peer port released');
    assert.equal(await bindable(again.httpPort), true, 'HTTP port released');
    // LMDB was closed: the store opens again in this process.
    const reopened = await openLmdbStorage(join(first.dataDir, 'lmdb'));
    await reopened.close();
  });

  it('on an HTTP port in use: names the port, exits non-zero promptly and frees its peer port', async () => {
    const squatter = net.createServer();
    await new Promise<void>((done) => squatter.listen(0, '127.0.0.1', done));
    const httpPort = (squatter.address() as net.AddressInfo).port;
    try {
      const run = await spawnNode(root, { id: 'c2', httpPort });
      const code = await exitWithin(run, 10_000);
      assert.equal(code, 1, `exit: ${code}\n${run.output()}`);
      assert.match(run.output(), /node c2 did not start: binding the HTTP port 127\.0\.0\.1:\d+: .*EADDRINUSE/);
      assert.equal(await bindable(run.peerPort), true, 'peer port released');
    } finally {
      squatter.close();
    }
  });
});
