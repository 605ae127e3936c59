// Shows that `npm run bench:dynamo` (bench/dynamo-compare.ts) asks wrk for the right requests and
// counts its answers right (bench/loadgen/wrk-dynamo.ts): the phases of a round alternate which
// side of each pair goes first, item i lands in partition i/10, each phase's Lua names its
// operation and asks ConsistentRead where it should, done()'s check line and failed-answer samples
// are parsed and combined, and, when wrk is installed, each script run against a stand-in server
// for a second sends bodies that parse as the JSON the server expects, with keys among the loaded
// ones, and counts non-2xx answers and answers missing their items.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findWrk, parseWrkOutput, runWrk, WRK_MISSING, WRK_RESULT_TAG, wrkValue } from '../../bench/loadgen/wrk.ts';
import {
  createTableBody, dynamoScript, itemKeyOf, median, parseWrkChecks, PHASE_KINDS, phaseFigures, putItemBody, roundOrder, WRK_CHECK_TAG, WRK_SAMPLE_TAG, type PhaseKind,
} from '../../bench/loadgen/wrk-dynamo.ts';

const VALUE = wrkValue(100, 5);

describe('bench:dynamo phases and items', () => {
  it('a round runs the puts\' pair, the gets\' pair, then Query; /kv first in even rounds, the DynamoDB side first in odd ones', () => {
    assert.deepEqual(roundOrder(0), ['kv-put', 'put-item', 'kv-get', 'get-item', 'query']);
    assert.deepEqual(roundOrder(1), ['put-item', 'kv-put', 'get-item', 'kv-get', 'query']);
    assert.deepEqual(roundOrder(2), roundOrder(0));
  });

  it('item i is in partition p<i/10> with sort key i mod 10; the loader\'s PutItem and CreateTable bodies', () => {
    assert.deepEqual(itemKeyOf(0), { pk: 'p0', sk: 0 });
    assert.deepEqual(itemKeyOf(9), { pk: 'p0', sk: 9 });
    assert.deepEqual(itemKeyOf(1234), { pk: 'p123', sk: 4 });
    assert.deepEqual(JSON.parse(putItemBody(1234, 'abc')), { TableName: 'Bench', Item: { pk: { S: 'p123' }, sk: { N: '4' }, v: { S: 'abc' } } });
    const table = JSON.parse(createTableBody()) as { KeySchema: unknown; AttributeDefinitions: unknown };
    assert.deepEqual(table.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    assert.deepEqual(table.AttributeDefinitions, [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }]);
  });

  it('medians: the middle value, the mean of the middle two, NaN for none', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe('bench:dynamo Lua scripts', () => {
  const script = (phase: PhaseKind) => dynamoScript({ phase, keys: 10_000, value: VALUE });

  it('/kv phases: blind PUT and GET of user<i>, uniform among the loaded keys', () => {
    assert.match(script('kv-put'), /wrk\.format\("PUT", "\/kv\/user" \.\. math\.random\(0, KEYS - 1\), headers, VALUE\)/);
    assert.doesNotMatch(script('kv-put'), /\["X-Dynakv-Context"\]/);
    assert.match(script('kv-get'), /wrk\.format\("GET", "\/kv\/user" \.\. math\.random\(0, KEYS - 1\), headers\)/);
    assert.ok(script('kv-put').includes(`local VALUE = "${VALUE}"`));
  });

  it('DynamoDB phases: POST / with the operation\'s target; reads ask ConsistentRead and check for their items', () => {
    for (const [phase, op] of [['put-item', 'PutItem'], ['get-item', 'GetItem'], ['query', 'Query']] as const) {
      assert.ok(script(phase).includes(`["X-Amz-Target"] = "DynamoDB_20120810.${op}"`), phase);
      assert.ok(script(phase).includes('["Content-Type"] = "application/x-amz-json-1.0"'), phase);
    }
    assert.match(script('get-item'), /"ConsistentRead":true/);
    assert.match(script('query'), /"ConsistentRead":true/);
    assert.doesNotMatch(script('put-item'), /ConsistentRead/);
    assert.match(script('get-item'), /local EXPECT = '"Item":'/);
    assert.match(script('query'), /local EXPECT = '"Count":' \.\. PER_PARTITION \.\. ','/);
    assert.match(script('query'), /math\.random\(0, KEYS \/ PER_PARTITION - 1\)/);
  });

  it('every script counts non-2xx answers and prints wrk.ts\'s result line and its checks', () => {
    for (const phase of PHASE_KINDS) {
      const lua = script(phase);
      assert.match(lua, /if status < 200 or status > 299 then/);
      assert.ok(lua.includes(WRK_RESULT_TAG) && lua.includes(WRK_CHECK_TAG) && lua.includes(WRK_SAMPLE_TAG), phase);
    }
  });

  it('refuses keys that are not whole partitions and values that would need escaping', () => {
    assert.throws(() => dynamoScript({ phase: 'query', keys: 15, value: 'a' }), RangeError);
    assert.throws(() => dynamoScript({ phase: 'query', keys: 0, value: 'a' }), RangeError);
    assert.throws(() => dynamoScript({ phase: 'put-item', keys: 10, value: 'a"b' }), RangeError);
  });
});

describe('bench:dynamo answers', () => {
  const result = (fields: Record<string, number>) =>
    `${WRK_RESULT_TAG} ${JSON.stringify({ requests: 1000, duration_us: 2_000_000, bytes: 1, p50_us: 1500, p99_us: 9000, p999_us: 20000, max_us: 30000, mean_us: 2000, connect: 0, read: 0, write: 0, status: 0, timeout: 0, cpu_ticks: 5, ...fields })}`;

  it('parses the check line and the samples; a missing or broken check line is an error', () => {
    const out = [result({}), `${WRK_SAMPLE_TAG} 500 {"__type":"InternalServerError"}`, `${WRK_SAMPLE_TAG} 200 {}`, `${WRK_CHECK_TAG} {"non2xx":7,"misses":2}`, ''].join('\n');
    assert.deepEqual(parseWrkChecks(out), { non2xx: 7, misses: 2, samples: ['500 {"__type":"InternalServerError"}', '200 {}'] });
    assert.throws(() => parseWrkChecks(result({})), /no DYNAKV_WRK_CHECK line/);
    assert.throws(() => parseWrkChecks(`${WRK_CHECK_TAG} {"non2xx":-1,"misses":0}`), /not a count/);
  });

  it('combines processes: only checked 2xx answers count, every kind of error is summed, percentiles are the max', () => {
    const a = { wrk: parseWrkOutput(result({ p99_us: 8000, status: 3, timeout: 1 })), checks: { non2xx: 5, misses: 0, samples: ['503 busy'] } };
    const b = { wrk: parseWrkOutput(result({ requests: 600, p99_us: 5000, p999_us: 40000, read: 2 })), checks: { non2xx: 0, misses: 10, samples: ['200 {}'] } };
    const f = phaseFigures([a, b]);
    assert.equal(f.successful, 995 + 590);
    assert.equal(f.opsPerSec, 995 / 2 + 590 / 2);
    assert.equal(f.p99Ms, 8);
    assert.equal(f.p999Ms, 40);
    assert.deepEqual([f.non2xx, f.misses, f.socketErrors, f.errors], [5, 10, 3, 18]);
    assert.deepEqual(f.samples, ['503 busy', '200 {}']);
    assert.throws(() => phaseFigures([]));
  });
});

// The scripts under wrk itself, against a server that answers like dynakv but fails on purpose:
// every request whose key ends in 7 gets a 500, and GetItem of sort key 3 and Query of a
// partition ending in 3 answer 2xx without their items.
// wrk is a test dependency (.ci/run installs it): missing, this fails and says how to install it.
const wrk = findWrk();
describe('bench:dynamo scripts under wrk', { timeout: 60_000 }, () => {
  const KEYS = 200;
  let server: Server;
  let url: string;
  let dir: string;
  const seen = new Map<string, { requests: number; bad: string[] }>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dynakv-bench-dynamo-test-'));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const kind = req.method === 'POST' ? target.replace('DynamoDB_20120810.', '') : `${req.method} /kv`;
        const entry = seen.get(kind) ?? { requests: 0, bad: [] };
        seen.set(kind, entry);
        entry.requests++;
        const body = Buffer.concat(chunks).toString();
        let id = '';
        let answer = '{}';
        try {
          if (req.method === 'POST') {
            const json = JSON.parse(body) as { TableName: string; Item?: Record<string, { S?: string; N?: string }>; Key?: Record<string, { S?: string; N?: string }>; ExpressionAttributeValues?: Record<string, { S: string }>; ConsistentRead?: boolean };
            assert.equal(json.TableName, 'Bench');
            if (kind === 'Query') {
              const p = Number(json.ExpressionAttributeValues![':p']!.S.slice(1));
              assert.ok(Number.isInteger(p) && p >= 0 && p < KEYS / 10 && json.ConsistentRead === true);
              id = String(p);
              answer = JSON.stringify({ Items: [], Count: p % 10 === 3 ? 9 : 10, ScannedCount: 10 });
            } else {
              const key = (json.Item ?? json.Key)!;
              const i = Number(key.pk!.S!.slice(1)) * 10 + Number(key.sk!.N);
              assert.ok(Number.isInteger(i) && i >= 0 && i < KEYS && Number(key.sk!.N) < 10);
              if (kind === 'PutItem') assert.equal(json.Item!.v!.S, VALUE);
              if (kind === 'GetItem') assert.equal(json.ConsistentRead, true);
              id = String(i);
              if (kind === 'GetItem' && i % 10 !== 3) answer = JSON.stringify({ Item: key });
            }
          } else {
            const i = Number(/^\/kv\/user(\d+)$/.exec(req.url ?? '')![1]);
            assert.ok(i >= 0 && i < KEYS);
            if (req.method === 'PUT') assert.equal(body, VALUE);
            id = String(i);
            answer = req.method === 'GET' ? VALUE : '{"context":"x"}';
          }
        } catch (err) {
          entry.bad.push(`${req.method} ${req.url} ${body}: ${String(err)}`);
          res.writeHead(400).end('bad request');
          return;
        }
        if (id.endsWith('7')) res.writeHead(500, { 'content-type': 'application/json' }).end('{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"on purpose"}');
        else res.writeHead(200).end(answer);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('each phase sends well-formed requests for loaded keys; 500s are non-2xx, answers without their items are misses', async () => {
    assert.ok(wrk !== undefined, WRK_MISSING);
    const outs = await Promise.all(PHASE_KINDS.map(async (phase) => {
      const scriptPath = join(dir, `${phase}.lua`);
      writeFileSync(scriptPath, dynamoScript({ phase, keys: KEYS, value: VALUE }));
      const logPrefix = join(dir, phase);
      await runWrk({ wrkPath: wrk, scriptPath, endpoints: [url], connections: 2, durationS: 1, timeoutS: 5, seed: 3, logPrefix });
      return [phase, readFileSync(`${logPrefix}.0.txt`, 'utf8')] as const;
    }));
    for (const [kind, entry] of seen) assert.deepEqual(entry.bad, [], kind);
    assert.deepEqual([...seen.keys()].sort(), ['GET /kv', 'GetItem', 'PUT /kv', 'PutItem', 'Query']);
    for (const [phase, out] of outs) {
      const checks = parseWrkChecks(out);
      const requests = parseWrkOutput(out).requests;
      assert.ok(requests > 50, `${phase}: ${requests} requests`);
      // About 1 in 10 keys (or partitions) ends in 7: the 500s.
      assert.ok(checks.non2xx > 0 && checks.non2xx < requests / 3, `${phase}: ${checks.non2xx} non-2xx of ${requests}`);
      assert.ok(checks.samples.length > 0 && checks.samples.length <= 3);
      assert.ok(checks.samples.some((s) => s.startsWith('500 {"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"')), `${phase}: ${checks.samples.join(' | ')}`);
      if (phase === 'get-item' || phase === 'query') assert.ok(checks.misses > 0 && checks.misses < requests / 3, `${phase}: ${checks.misses} misses of ${requests}`);
      else assert.equal(checks.misses, 0, phase);
    }
  });
});
