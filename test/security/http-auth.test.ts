// Shows the credential check of a secure node's HTTP door (issue 13, section 2): HTTPS with the
// node's certificate; /health and the dashboard's static files are open, every other route
// answers 401 JSON without a credential. A client certificate from the cluster CA or a bearer
// token minted with the cluster secret is a credential: `user` reads and writes keys and reads
// every view, only `admin` changes membership (403 for a user). A certificate from another CA,
// a node's certificate, a token from another cluster or a malformed one are no credential.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClientError, DynakvClient, type ClientCredentials } from '../../src/client/http-client.ts';
import { credentialsFromCertsDir } from '../../src/client/credentials.ts';
import { loadClientCerts, loadNodeCerts } from '../../src/security/certs.ts';
import { mintToken } from '../../src/security/tokens.ts';
import { makeCerts, startOneNode, type OneNode } from './one-node.ts';

/** A raw HTTPS request with the cluster CA: status, headers and body text. */
function raw(url: string, ca: string, options: { method?: string; headers?: Record<string, string>; body?: string; cert?: string; key?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, ca, ...(options.cert !== undefined ? { cert: options.cert, key: options.key } : {}) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (err) {
    if (err instanceof ClientError && err.status !== undefined) return err.status;
    throw err;
  }
}

describe('credentials on a secure node\'s HTTP door', { timeout: 60_000 }, () => {
  let node: OneNode | undefined;
  let foreign = '';
  let ca = '';
  const clients: DynakvClient[] = [];
  const client = (credentials: ClientCredentials) => {
    const c = new DynakvClient(node!.url, { credentials, timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };

  before(async () => {
    node = await startOneNode('http-auth', {}, { secure: true });
    ca = readFileSync(join(node.certsDir, 'ca.crt'), 'utf8');
    foreign = mkdtempSync(join(tmpdir(), 'dynakv-foreign-'));
    await makeCerts(foreign, ['s1']);
  });
  after(async () => {
    for (const c of clients) c.close();
    await node?.stop();
    rmSync(foreign, { recursive: true, force: true });
  });

  it('serves HTTPS with the node\'s certificate; /health and the dashboard files need no credential', async () => {
    assert.match(node!.url, /^https:\/\//);
    for (const path of ['/health', '/ui', '/ui/dashboard.js', '/ui/dashboard.css']) assert.equal((await raw(`${node!.url}${path}`, ca)).status, 200, path);
  });

  it('answers 401 JSON with a Bearer challenge on every other route without a credential', async () => {
    for (const [method, path] of [
      ['GET', '/kv/k'], ['PUT', '/kv/k'], ['DELETE', '/kv/k'], ['GET', '/cluster/members'], ['GET', '/cluster/ring'],
      ['GET', '/cluster/lookup/k'], ['GET', '/local/stats'], ['GET', '/local/kv/k'], ['GET', '/local/activity'],
      ['GET', '/metrics'], ['GET', '/ui/events'], ['POST', '/cluster/members'], ['DELETE', '/cluster/members/s1'], ['GET', '/nowhere'],
    ] as const) {
      const res = await raw(`${node!.url}${path}`, ca, { method, headers: { 'x-dynakv-request': '1', 'content-type': 'application/json' }, ...(method === 'PUT' || method === 'POST' ? { body: '{}' } : {}) });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.match((JSON.parse(res.body) as { error: string }).error, /credential/);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="dynakv"');
    }
  });

  it('lets a user token read and write keys and read the views, but not change membership', async () => {
    const alice = client(credentialsFromCertsDir(node!.certsDir, { user: 'alice', preferToken: true }));
    assert.ok((await alice.put('k', 'v', { contentType: 'text/plain' })).length > 0);
    const read = await alice.get('k');
    assert.ok(read.found && read.siblings[0]!.value.toString() === 'v');
    assert.equal((await alice.members()).self, 's1');
    assert.equal((await alice.ring()).n, 1);
    assert.equal((await alice.stats()).node, 's1');
    await alice.request('/metrics');
    assert.equal(await statusOf(alice.addMember('x1', '127.0.0.1:1', '127.0.0.1:2')), 403);
    assert.equal(await statusOf(alice.removeMember('s1')), 403);
    assert.deepEqual((await alice.members()).members.map((m) => m.id), ['s1'], 'nothing changed');
  });

  it('lets an admin token change membership', async () => {
    const admin = client(credentialsFromCertsDir(node!.certsDir, { user: 'admin', preferToken: true }));
    await admin.addMember('x1', '127.0.0.1:1', '127.0.0.1:2');
    assert.ok((await admin.members()).members.some((m) => m.id === 'x1'));
    await admin.removeMember('x1');
  });

  it('takes client certificates the same way, by their role', async () => {
    const alice = client(credentialsFromCertsDir(node!.certsDir, { user: 'alice' }));
    assert.ok((await alice.get('k')).found);
    assert.equal(await statusOf(alice.addMember('x2', '127.0.0.1:1', '127.0.0.1:2')), 403);
    const admin = client(credentialsFromCertsDir(node!.certsDir, { user: 'admin' }));
    await admin.addMember('x2', '127.0.0.1:1', '127.0.0.1:2');
    await admin.removeMember('x2');
  });

  it('refuses another CA\'s client certificate, a node certificate, another cluster\'s token and a malformed one', async () => {
    const other = loadClientCerts(join(foreign, 'clients'), 'admin');
    assert.equal(await statusOf(client({ ca, cert: other.cert, key: other.key }).get('k')), 401);
    const nodeCert = loadNodeCerts(join(foreign, 's1'));
    assert.equal(await statusOf(client({ ca, cert: nodeCert.cert, key: nodeCert.key }).get('k')), 401);
    const ownNode = loadNodeCerts(join(node!.certsDir, '..', 's1'));
    assert.equal(await statusOf(client({ ca, cert: ownNode.cert, key: ownNode.key }).get('k')), 401, 'a node is not a client');
    assert.equal(await statusOf(client({ ca, token: mintToken(nodeCert.clusterSecret, 'admin', 'admin') }).get('k')), 401);
    for (const token of ['nope', `${readFileSync(join(node!.certsDir, 'client.alice.token'), 'utf8').trim()}x`]) {
      assert.equal(await statusOf(client({ ca, token }).get('k')), 401, token);
    }
    const tooLong = await raw(`${node!.url}/kv/k`, ca, { headers: { authorization: `Bearer ${'a'.repeat(5000)}` } });
    assert.equal(tooLong.status, 401);
  });

  it('answers an unauthenticated write before reading its body', async () => {
    const url = new URL(node!.url);
    const socket = connect({ host: url.hostname, port: Number(url.port), ca });
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString()));
    socket.write(`PUT /kv/big HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1048576\r\n\r\n`);
    // Not one byte of the declared megabyte is sent: the answer must come anyway.
    await new Promise<void>((resolve) => socket.on('data', () => received.includes('\r\n\r\n') && resolve()));
    assert.match(received, /^HTTP\/1\.1 401 /);
    socket.destroy();
  });

  it('a client without the cluster CA does not trust the node', async () => {
    const err = await client({ token: 'x' }).get('k').then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ClientError && err.code === 'UNREACHABLE', String(err));
    assert.match(err.message, /certificate/);
  });
});
