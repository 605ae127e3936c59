// Shows that the floor servers of bench/floor (the measuring stick of issue 15's targets) do the
// work they are said to do, on real processes and free loopback ports: in `dynamo` mode a put to
// one node is readable from every node (it reached W=2 of its 3 replicas before its answer, and a
// get reads 2), an unknown key is 404; in `bare` mode every GET is the same 100 bytes and every
// PUT an ack. Every process is killed and every directory removed at the end.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, waitFor } from '../support/local-cluster.ts';

const SERVER = join(import.meta.dirname, '..', '..', 'bench', 'floor', 'floor-server.ts');
const children: ChildProcess[] = [];
const dirs: string[] = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startFloor(mode: 'bare' | 'dynamo', nodes: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'dynakv-floor-'));
  dirs.push(dir);
  const httpPorts = await Promise.all(Array.from({ length: nodes }, () => freePort()));
  const peerPorts = await Promise.all(Array.from({ length: nodes }, () => freePort()));
  for (let i = 1; i <= nodes; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', SERVER, mode, String(i), join(dir, `n${i}`), httpPorts.join(','), peerPorts.join(',')], { stdio: 'ignore' });
    children.push(child);
  }
  const urls = httpPorts.map((port) => `http://127.0.0.1:${port}`);
  for (const url of urls) {
    await waitFor(`${url} listening`, async () => {
      try {
        const res = await fetch(`${url}/health`);
        await res.arrayBuffer();
        return res.status === 200;
      } catch {
        return false;
      }
    });
  }
  return urls;
}

describe('bench/floor servers', { timeout: 60_000 }, () => {
  it('dynamo mode: a put through one node is read back through every node; an unknown key is 404', async () => {
    const urls = await startFloor('dynamo', 4);
    for (let k = 0; k < 8; k++) {
      const value = `value-${k}-${'v'.repeat(90)}`;
      const put = await fetch(`${urls[k % urls.length]}/kv/key${k}`, { method: 'PUT', body: value });
      assert.equal(put.status, 200);
      assert.match(await put.text(), /context/);
      for (const url of urls) {
        const got = await fetch(`${url}/kv/key${k}`);
        assert.equal(got.status, 200, `key${k} from ${url}`);
        assert.equal(await got.text(), value);
      }
    }
    const missing = await fetch(`${urls[0]}/kv/never-written`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
  });

  it('bare mode: every GET is the same 100 bytes and every PUT an ack', async () => {
    const [url] = await startFloor('bare', 3);
    const got = await fetch(`${url}/kv/anything`);
    assert.equal(got.status, 200);
    assert.equal((await got.arrayBuffer()).byteLength, 100);
    const put = await fetch(`${url}/kv/anything`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 200);
    assert.match(await put.text(), /context/);
  });

  it('refuses a bad command line with exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', SERVER, 'dynamo', '9', tmpdir(), '1,2,3', '4,5,6'], { stdio: 'ignore' });
    children.push(child);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2);
  });
});
