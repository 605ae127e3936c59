// The DynamoDB API's HTTP door on a secure node in this process (review H2): a request whose
// headers cannot verify (an access key this cluster never minted) is refused before its body is
// read; unauthenticated bodies are charged per remote address as they arrive, past which requests
// are refused, and a client that goes away mid-body gives its bytes back; a cross-origin request is refused; an insecure node takes
// unsigned requests, as DynamoDB Local does.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addressGroup, PRE_AUTH_BODY_BYTES_PER_ADDRESS_MAX } from '../../src/api/dynamo-route.ts';
import { mintAccessKey } from '../../src/security/access-keys.ts';
import { REQUEST_BODY_BYTES_MAX } from '../../src/dynamo/protocol.ts';
import { InProcessCluster } from '../support/in-process-cluster.ts';
import { waitFor } from '../support/local-cluster.ts';

let secure: InProcessCluster | undefined;
let insecure: InProcessCluster | undefined;

/**
 * Opens a TLS connection and sends a signed-looking request head (access key `keyId`, a wrong
 * signature) announcing `length` body bytes, then `send` of them; resolves with the socket and
 * what the node answered (if it answered before the body ended).
 */
function holdBody(url: string, ca: Buffer, keyId: string, length: number, send: number): Promise<{ socket: TLSSocket; answer: () => string }> {
  const { hostname, port } = new URL(url);
  const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect({ host: hostname, port: Number(port), ca, servername: 'localhost' }, () => {
      socket.write(
        `POST / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n` +
          `X-Amz-Date: ${now}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=${keyId}/${now.slice(0, 8)}/dynakv/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=${'0'.repeat(64)}\r\n` +
          `Content-Length: ${length}\r\n\r\n`,
      );
      if (send > 0) socket.write(Buffer.alloc(send, 0x20));
      resolve({ socket, answer: () => received });
    });
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
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

  it('refuses an access key this cluster never minted from the headers alone, without reading the body', async () => {
    const url = secure!.nodes[0]!.httpUrl;
    const ca = readFileSync(join(secure!.root, 'certs', 'ca.crt'));
    const { socket, answer } = await holdBody(url, ca, 'DKVAAAAAAAAAAAAAAAAAAAAAAAAA', REQUEST_BODY_BYTES_MAX, 0);
    await waitFor('an answer before any body byte', () => answer().includes('\r\n\r\n'));
    assert.match(answer(), /UnrecognizedClientException/);
    socket.destroy();
  });

  it('charges unauthenticated bodies per remote address as they arrive, and gives the bytes back', async () => {
    const url = secure!.nodes[0]!.httpUrl;
    const ca = readFileSync(join(secure!.root, 'certs', 'ca.crt'));
    const key = mintAccessKey(readFileSync(join(secure!.root, 'certs', 'cluster.secret')), 'user', randomBytes);
    const tenMiB = 10 * 1024 * 1024;
    assert.ok(2 * tenMiB > PRE_AUTH_BODY_BYTES_PER_ADDRESS_MAX && tenMiB < PRE_AUTH_BODY_BYTES_PER_ADDRESS_MAX);
    // A key id this cluster minted, a wrong signature: the body is read (the signature covers it).
    const first = await holdBody(url, ca, key.accessKeyId, tenMiB + 1, tenMiB);
    await waitFor('the first body to be charged', () => first.socket.bytesWritten >= tenMiB);
    const second = await holdBody(url, ca, key.accessKeyId, tenMiB + 1, tenMiB);
    // Usually the second is refused. But the client's bytesWritten counts what the kernel took,
    // and on a loaded machine the node may still be reading the first when the second arrives:
    // then the first's last bytes pass the budget and the first is refused. Either way exactly one
    // of the two is refused, and the other is still being read.
    const answered = (held: { answer: () => string }) => held.answer().includes('\r\n\r\n');
    await waitFor('one of the two to be refused past the per-address budget', () => answered(first) || answered(second));
    const [refused, reading] = answered(second) ? [second, first] : [first, second];
    assert.match(refused.answer(), /ProvisionedThroughputExceededException/);
    assert.equal(reading.answer(), '', 'the other is still being read');
    // Small bodies have their own share: a small first request still gets read (and fails on its signature).
    const small = await holdBody(url, ca, key.accessKeyId, 2, 2);
    await waitFor('the small one answered', () => small.answer().includes('\r\n\r\n'));
    assert.match(small.answer(), /InvalidSignatureException/);
    small.socket.destroy();
    first.socket.destroy();
    second.socket.destroy();
    // Given back: a whole request now reads and fails on its signature, not on the budget.
    const third = await holdBody(url, ca, key.accessKeyId, 2, 2);
    await waitFor('the third answered', () => third.answer().includes('\r\n\r\n'));
    assert.match(third.answer(), /InvalidSignatureException/);
    third.socket.destroy();
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

describe('address groups for the body budgets', () => {
  it('keeps IPv4 addresses apart and groups IPv6 addresses by /64', () => {
    assert.equal(addressGroup('10.0.0.1'), '10.0.0.1');
    assert.equal(addressGroup('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(addressGroup('2001:db8:1:2:aaaa::1'), addressGroup('2001:0db8:0001:0002:ffff:1:2:3'));
    assert.notEqual(addressGroup('2001:db8:1:2::1'), addressGroup('2001:db8:1:3::1'));
    assert.equal(addressGroup('::1'), '0:0:0:0::/64');
    assert.equal(addressGroup(undefined), '?');
  });
});
