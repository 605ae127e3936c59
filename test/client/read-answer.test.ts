// The client's read results, shown two ways: readResultOf turns the node's read answers (200 one
// value, 300 siblings, 404 not found) into typed results and refuses any other shape with a
// BAD_ANSWER; and DynakvClient.get against a tiny loopback server that answers a malformed body
// rejects instead of handing back a half-typed result.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { ClientError, DynakvClient, readResultOf } from '../../src/client/http-client.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const isBadAnswer = (err: unknown) => err instanceof ClientError && err.code === 'BAD_ANSWER';

describe('readResultOf', () => {
  it('reads one value, its content type and the context', () => {
    const read = readResultOf(200, { context: 'ctx', siblings: [{ value: b64('world'), contentType: 'text/plain' }] });
    assert.equal(read.found, true);
    assert.equal(read.context, 'ctx');
    assert.ok(read.found);
    assert.deepEqual(read.siblings.map((s) => [s.value.toString('utf8'), s.contentType]), [['world', 'text/plain']]);
  });

  it('reads every sibling of a 300 answer, bytes intact', () => {
    const bytes = Buffer.from([0, 255, 1, 254]);
    const read = readResultOf(300, { context: 'c2', siblings: [{ value: bytes.toString('base64'), contentType: 'application/octet-stream' }, { value: b64('b'), contentType: 'text/plain' }] });
    assert.ok(read.found);
    assert.equal(read.siblings.length, 2);
    assert.deepEqual(read.siblings[0]!.value, bytes);
    assert.equal(read.siblings[1]!.value.toString('utf8'), 'b');
  });

  it('reads a missing key with or without a context', () => {
    assert.deepEqual(readResultOf(404, { error: 'not found', context: 'tomb' }), { found: false, context: 'tomb' });
    assert.deepEqual(readResultOf(404, { error: 'not found' }), { found: false, context: '' });
  });

  it('refuses answers of any other shape', () => {
    const bad: Array<[number, unknown]> = [
      [200, null],
      [200, 'text'],
      [200, { siblings: [{ value: b64('v'), contentType: 'text/plain' }] }], // no context
      [200, { context: 7, siblings: [{ value: b64('v'), contentType: 'text/plain' }] }],
      [200, { context: 'c' }], // no siblings
      [200, { context: 'c', siblings: [] }],
      [300, { context: 'c', siblings: [{ value: 'not base64!', contentType: 'text/plain' }] }],
      [300, { context: 'c', siblings: [{ value: 'abc', contentType: 'text/plain' }] }], // cut short
      [300, { context: 'c', siblings: [{ value: b64('v') }] }], // no content type
      [300, { context: 'c', siblings: [null] }],
      [404, { context: ['c'] }],
    ];
    for (const [status, body] of bad) assert.throws(() => readResultOf(status, body), isBadAnswer, JSON.stringify(body));
  });
});

describe('DynakvClient.get', () => {
  it('rejects a malformed read answer with BAD_ANSWER', async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ context: 'c', siblings: [{ value: 42 }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const client = new DynakvClient(`http://127.0.0.1:${port}`, { timeoutMs: 5_000 });
    try {
      await assert.rejects(client.get('k'), isBadAnswer);
    } finally {
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
