// The DynamoDB API's HTTP door on a secure node in this process: unauthenticated bodies share one
// budget (PRE_AUTH_BODY_BYTES_MAX), past which requests are refused unread, and a client that goes
// away mid-body gives its share back; a cross-origin request is refused; an insecure node takes
// unsigned requests, as DynamoDB Local does.
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PRE_AUTH_BODY_BYTES_MAX } from '../../src/api/dynamo-route.ts';
import { REQUEST_BODY_BYTES_MAX } from '../../src/dynamo/protocol.ts';
import { InProcessCluster } from '../support/in-process-cluster.ts';
import { waitFor } from '../support/local-cluster.ts';

let secure: InProcessCluster | undefined;
let insecure: InProcessCluster | undefined;

/** Opens a TLS connection and sends a request head announcing `length` body bytes, sending none of them. */
function holdBody(url: string, ca: Buffer, length: number): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca, servername: 'localhost' }, () => {
      socket.write(`POST / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: ${length}\r\n\r\n`);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

async function post(url: string, headers: Record<string, string>, body: string, ca?: Buffer): Promise<{ status: number; type: string }> {
  const { request, Agent } = await import('undici');
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', ...headers }, body, ...(ca !== undefined ? { dispatcher: new Agent({ connect: { ca } }) } : {}) });
  const json = (await res.body.json()) as { __type?: string };
  return { status: res.statusCode, type: json.__type ?? '' };
}

describe('the DynamoDB door', { timeout: 120_000 }, () => {
  before(async () => {
    secure = await InProcessCluster.start('dynamo-door', ['a']);
    insecure = await InProcessCluster.start('dynamo-door-insecure', ['b'], { insecure: true });
  });

  after(async () => {
    await secure?.stop();
    await insecure?.stop();
  });

  it('refuses bodies past the shared pre-auth budget unread, and takes them again once the holders leave', async () => {
    const url = secure!.nodes[0]!.httpUrl;
    const ca = readFileSync(join(secure!.root, 'certs', 'ca.crt'));
    const holders = PRE_AUTH_BODY_BYTES_MAX / REQUEST_BODY_BYTES_MAX;
    assert.ok(Number.isInteger(holders) && holders >= 1);
    const sockets: TLSSocket[] = [];
    for (let i = 0; i < holders; i++) sockets.push(await holdBody(url, ca, REQUEST_BODY_BYTES_MAX));
    // Each holder's head is read (and its share reserved) once the server parses it.
    await waitFor('the holders to be reserved', async () => (await post(url, {}, '{}', ca)).type.endsWith('ProvisionedThroughputExceededException'));
    for (const s of sockets) s.destroy();
    await waitFor('the budget to come back', async () => (await post(url, {}, '{}', ca)).type.endsWith('MissingAuthenticationTokenException'));
  });

  it('refuses a cross-origin request before anything else', async () => {
    const url = secure!.nodes[0]!.httpUrl;
    const ca = readFileSync(join(secure!.root, 'certs', 'ca.crt'));
    const answer = await post(url, { origin: 'https://evil.example', 'x-amz-target': 'DynamoDB_20120810.ListTables' }, '{}', ca);
    assert.equal(answer.status, 400);
    assert.match(answer.type, /AccessDeniedException/);
  });

  it('an insecure node takes unsigned requests; a secure one refuses them', async () => {
    const open = await post(insecure!.nodes[0]!.httpUrl, { 'x-amz-target': 'DynamoDB_20120810.ListTables' }, '{}');
    assert.deepEqual(open, { status: 200, type: '' });
    const ca = readFileSync(join(secure!.root, 'certs', 'ca.crt'));
    const closed = await post(secure!.nodes[0]!.httpUrl, { 'x-amz-target': 'DynamoDB_20120810.ListTables' }, '{}', ca);
    assert.equal(closed.status, 400);
    assert.match(closed.type, /MissingAuthenticationTokenException/);
  });
});
