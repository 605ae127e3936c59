// Shows that two request inputs are validated at the HTTP door before they reach storage or the
// log (findings 8 and 9 of the attack review of issue 13), on a production node in this process
// (insecure, alone in its ring) logging at debug into memory: /local/keys?start= is held to the
// key rule (an 8,000-byte start answers 400, not LMDB's 500), and a caller's x-request-id becomes
// the log's reqId only when it is 1-64 characters of [A-Za-z0-9._:-]; otherwise the node's own id.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { CLIENT_KEY_BYTES_MAX } from '../../src/protocol/messages.ts';
import { startOneNode, type OneNode } from '../security/one-node.ts';

interface LogLine {
  readonly msg: string;
  readonly level: number;
  readonly reqId?: string;
  readonly op?: string;
}

describe('HTTP request inputs: start and x-request-id', () => {
  let node: OneNode | undefined;
  const lines: LogLine[] = [];
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    node = await startOneNode('request-input', {}, { logger: pino({ level: 'debug' }, sink) });
    for (const key of ['a', 'b', 'c']) assert.equal((await fetch(`${node.url}/kv/${key}`, { method: 'PUT', body: key })).status, 200);
  });
  after(async () => {
    await node?.stop();
  });

  it('answers /local/keys?start= past the key rule with 400 and logs no error', async () => {
    const long = await fetch(`${node!.url}/local/keys?start=${'a'.repeat(8_000)}`);
    assert.equal(long.status, 400);
    assert.match(((await long.json()) as { error: string }).error, /longer than 1024/);
    const oneOver = await fetch(`${node!.url}/local/keys?start=${'a'.repeat(CLIENT_KEY_BYTES_MAX + 1)}`);
    assert.equal(oneOver.status, 400);
    const empty = await fetch(`${node!.url}/local/keys?start=`);
    assert.equal(empty.status, 400);
    assert.equal(lines.filter((l) => l.level >= 50).length, 0, 'no error was logged');
    // The key rule's own limit still pages.
    const ok = await fetch(`${node!.url}/local/keys?start=b&limit=1`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { keys: ['b'], next: 'c' });
    const atLimit = await fetch(`${node!.url}/local/keys?start=${'z'.repeat(CLIENT_KEY_BYTES_MAX)}`);
    assert.equal(atLimit.status, 200);
  });

  it('logs a well-formed x-request-id as reqId and replaces any other with its own id', async () => {
    const sent = ['trace-1:abc.DEF_2-3', '\u009b2J\u202e', 'x'.repeat(65), 'has space', 'é'];
    for (const id of sent) {
      const res = await fetch(`${node!.url}/local/stats`, { headers: { 'x-request-id': encodeURIComponent(id) === id ? id : Buffer.from(id, 'utf8').toString('latin1') } });
      assert.equal(res.status, 200);
    }
    const ids = lines.filter((l) => l.msg === 'request answered' && l.op === 'GET /local/stats').map((l) => l.reqId!);
    assert.equal(ids.length, sent.length);
    assert.equal(ids[0], 'trace-1:abc.DEF_2-3');
    for (const id of ids.slice(1)) {
      assert.match(id, /^[A-Za-z0-9._:-]{1,64}$/);
      assert.ok(!sent.includes(id));
    }
    assert.equal(new Set(ids).size, ids.length, 'own ids are distinct');
  });
});
