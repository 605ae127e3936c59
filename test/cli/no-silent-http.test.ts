// Shows, with the real `dynakv` command against a plain-HTTP impostor, that the CLI never falls
// back to plain http by itself (finding 5 of the attack review of issue 13: from a directory
// without ./data/certs it sent the value in clear to whoever answered): without credentials it
// exits 1 saying how to pass them (or --insecure), and the impostor receives nothing; an
// http:// URL alone is refused too; only --insecure (or DYNAKV_INSECURE=1) talks plain http, and
// then says so on stderr.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDynakv } from '../support/dynakv-cli.ts';

const cli = runDynakv;

describe('the dynakv command without credentials, facing a plain-HTTP impostor', { timeout: 60_000 }, () => {
  let bare = '';
  let impostor: Server | undefined;
  let address = '';
  const received: string[] = [];

  before(async () => {
    bare = mkdtempSync(join(tmpdir(), 'dynakv-no-certs-'));
    impostor = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ context: 'x' }));
      });
    });
    await new Promise<void>((done) => impostor!.listen(0, '127.0.0.1', done));
    address = `127.0.0.1:${(impostor.address() as AddressInfo).port}`;
  });
  after(() => {
    impostor?.close();
    rmSync(bare, { recursive: true, force: true });
  });

  it('refuses, says how to pass credentials, and sends nothing', async () => {
    for (const args of [['put', 'secret', 'hunter2', '--node', address], ['put', 'secret', 'hunter2', '--node', `http://${address}`]]) {
      const run = await cli(bare, args);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /--certs-dir|DYNAKV_CERTS_DIR/);
      assert.match(run.stderr, /--insecure/);
    }
    const fromEnv = await cli(bare, ['put', 'secret', 'hunter2'], { DYNAKV_NODE: `http://${address}` });
    assert.equal(fromEnv.code, 1, fromEnv.stderr);
    assert.deepEqual(received, [], 'the impostor received nothing');
  });

  it('talks plain http with --insecure or DYNAKV_INSECURE=1, warning on stderr', async () => {
    const flag = await cli(bare, ['put', 'k', 'v', '--node', address, '--insecure']);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stderr, /warning: plain http/);
    assert.match(flag.stdout, /^ok/);
    const env = await cli(bare, ['put', 'k', 'v', '--node', `http://${address}`], { DYNAKV_INSECURE: '1' });
    assert.equal(env.code, 0, env.stderr);
    assert.match(env.stderr, /warning: plain http/);
    assert.equal(received.length, 2);
  });
});
