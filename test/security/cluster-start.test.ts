// Shows `dynakv cluster start` (what `npm start` runs) secure by default, as real processes: the
// first start makes the CA, cluster secret, one certs dir per node and an admin credential under
// <data-dir>/certs and says where they are; the nodes run with --certs-dir; `dynakv put/get`
// from another process work with no flag but --node (https and the admin credential from
// ./data/certs), while requests without a credential answer 401; a second start reuses the certificates; --insecure makes none.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { loadNodeCerts } from '../../src/security/certs.ts';
import { fetchWith } from '../support/cluster-fetch.ts';
import { freeBasePort } from '../support/base-port.ts';

const BIN = resolve(import.meta.dirname, '../../bin/dynakv-dev.js');
const NODES = 3;
let root: string;


interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
}

/** Starts `dynakv cluster start` and resolves once it printed that the cluster is up. */
async function clusterStart(dataDir: string, basePort: number, extra: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [BIN, 'cluster', 'start', '--nodes', String(NODES), '--base-port', String(basePort), '--data-dir', dataDir, '--log-format', 'json', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const up = new Promise<void>((done, fail) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('is up')) done();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => fail(new Error(`cluster start exited (${code}):\n${output}`)));
  });
  await up;
  return { child, output: () => output };
}

async function stop(started: Started): Promise<void> {
  if (started.child.exitCode !== null) return;
  const exited = new Promise((done) => started.child.once('exit', done));
  started.child.kill('SIGTERM');
  await exited;
}

const run = promisify(execFile);

describe('dynakv cluster start: secure by default, one command', () => {
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'dynakv-cluster-start-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('makes certificates on first start, serves the CLI, and reuses them on the next start', async () => {
    const dataDir = join(root, 'data');
    const base = await freeBasePort(NODES);
    const first = await clusterStart(dataDir, base);
    try {
      const certsDir = join(dataDir, 'certs');
      assert.match(first.output(), /created \d+ certificate files under/);
      assert.match(first.output(), /admin credential: .*client\.admin\.token/);
      assert.match(first.output(), /secure: peer mutual TLS/);
      for (const file of ['ca.crt', 'ca.key', 'cluster.secret', 'client.admin.crt', 'client.admin.key', 'client.admin.token']) assert.ok(existsSync(join(certsDir, file)), file);
      assert.equal(statSync(join(certsDir, 'ca.key')).mode & 0o777, 0o600);
      for (let i = 1; i <= NODES; i++) assert.equal(loadNodeCerts(join(certsDir, `n${i}`)).id, `n${i}`);
      assert.doesNotMatch(first.output(), /insecure mode/);
      // From the directory holding ./data (as after `npm start`): https and the admin credential by default.
      assert.match(first.output(), new RegExp(`https://127\\.0\\.0\\.1:${base}/ui`));
      await run(process.execPath, [BIN, 'put', 'hello', 'world', '--node', `127.0.0.1:${base + 1}`], { cwd: root });
      const { stdout } = await run(process.execPath, [BIN, 'get', 'hello', '--node', `127.0.0.1:${base + 2}`], { cwd: root });
      assert.match(stdout, /world/);
      const members = await run(process.execPath, [BIN, 'members', '--node', `127.0.0.1:${base}`], { cwd: root });
      assert.match(members.stdout, /n3\s+up/);
      // Without a credential the HTTP door answers 401; the dashboard's files stay open.
      const caOnly = fetchWith({ ca: readFileSync(join(certsDir, 'ca.crt'), 'utf8') });
      for (const path of ['/kv/hello', '/cluster/members', '/cluster/ring']) assert.equal((await caOnly(`https://127.0.0.1:${base}${path}`)).status, 401, path);
      assert.equal((await caOnly(`https://127.0.0.1:${base}/ui`)).status, 200);
    } finally {
      await stop(first);
    }
    const caBefore = readFileSync(join(dataDir, 'certs', 'ca.crt'));
    const second = await clusterStart(dataDir, base);
    try {
      assert.doesNotMatch(second.output(), /created \d+ certificate files/);
      assert.deepEqual(readFileSync(join(dataDir, 'certs', 'ca.crt')), caBefore);
      const { stdout } = await run(process.execPath, [BIN, 'get', 'hello', '--node', `127.0.0.1:${base}`], { cwd: root });
      assert.match(stdout, /world/);
    } finally {
      await stop(second);
    }
  });

  it('--insecure makes no certificates and every node warns', async () => {
    const dataDir = join(root, 'insecure');
    const started = await clusterStart(dataDir, await freeBasePort(NODES), ['--insecure']);
    try {
      assert.ok(!existsSync(join(dataDir, 'certs')));
      assert.match(started.output(), /INSECURE/);
      assert.equal(started.output().match(/insecure mode: the peer port/g)?.length, NODES);
    } finally {
      await stop(started);
    }
  });
});
