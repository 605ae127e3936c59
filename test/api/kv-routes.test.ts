// The slow-request log of the bare /kv handler: a request at or past the threshold is logged
// once as a warning with its method, path, status and duration (and error code, if any); a
// request under the threshold logs nothing. The node is a stub whose coordinator answers at once.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { kvRoutes } from '../../src/api/kv-routes.ts';
import type { NodeFrontDoor } from '../../src/node/front-door.ts';
import { CoordinationError } from '../../src/replication/errors.ts';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly op?: string;
  readonly path?: string;
  readonly status?: number;
  readonly ms?: number;
  readonly errorCode?: string;
}

/** A stub node: reads find nothing, writes of key "fails" fail their quorum. */
const stubNode = {
  config: { valueBytesMax: 1024 },
  get: async () => ({ siblings: [], context: '' }),
  put: async (request: { key: string }) => {
    if (request.key === 'fails') throw new CoordinationError('QUORUM_FAILED', 'write quorum not reached');
    return '';
  },
} as unknown as NodeFrontDoor;

async function serve(slowRequestMs: number): Promise<{ url: string; lines: LogLine[]; server: Server }> {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const kv = kvRoutes({ node: stubNode, log: pino(sink), slowRequestMs });
  const server = createServer((req, res) => {
    if (!kv(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines, server };
}

describe('slow-request log of /kv', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  it('logs every request at or past the threshold with its method, path, status and duration', async () => {
    const { url, lines, server } = await serve(0);
    servers.push(server);
    assert.equal((await fetch(`${url}/kv/missing`)).status, 404);
    assert.equal((await fetch(`${url}/kv/fails`, { method: 'PUT', body: 'x' })).status, 503);
    const slow = lines.filter((l) => l.msg === 'slow request');
    assert.equal(slow.length, 2);
    assert.deepEqual(
      slow.map(({ level, op, path, status, errorCode }) => ({ level, op, path, status, errorCode })),
      [
        { level: 40, op: 'GET', path: '/kv/missing', status: 404, errorCode: undefined },
        { level: 40, op: 'PUT', path: '/kv/fails', status: 503, errorCode: 'QUORUM_FAILED' },
      ],
    );
    for (const line of slow) assert.ok(typeof line.ms === 'number' && line.ms >= 0);
  });

  it('logs nothing for requests under the threshold', async () => {
    const { url, lines, server } = await serve(60_000);
    servers.push(server);
    assert.equal((await fetch(`${url}/kv/missing`)).status, 404);
    assert.equal((await fetch(`${url}/kv/k`, { method: 'PUT', body: 'x' })).status, 200);
    assert.deepEqual(lines.filter((l) => l.msg === 'slow request'), []);
  });
});
