// Shows that `npm run bench -- --generator wrk` asks wrk for the right requests and reads its
// answer right (bench/loadgen/wrk.ts, pure parts only; no wrk process is started): the generated
// Lua names each system's API and the workload's read share, the etcd script carries the
// base64 of its value, done()'s line is parsed into ms and CPU, processes combine as summed
// throughput and the max of each percentile, and connections split evenly over the members.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOptions } from '../../bench/options.ts';
import { combineWrk, luaSeed, parseWrkOutput, splitConnections, WRK_RESULT_TAG, wrkArgs, wrkScript, wrkValue } from '../../bench/loadgen/wrk.ts';

const line = (fields: Record<string, number>) =>
  `${WRK_RESULT_TAG} ${JSON.stringify({ requests: 1000, duration_us: 2_000_000, bytes: 1, p50_us: 1500, p99_us: 9000, p999_us: 20000, max_us: 30000, mean_us: 2000, connect: 0, read: 0, write: 0, status: 0, timeout: 0, cpu_ticks: 50, ...fields })}`;

describe('wrk Lua scripts', () => {
  it('dynakv: blind PUT and GET of /kv/<key>, uniform among the loaded keys, with the workload\'s read share', () => {
    const lua = wrkScript({ system: 'dynakv', workload: 'B', keys: 2000, valueBytes: 100, valueSeed: 7 });
    assert.match(lua, /local KEYS = 2000\n/);
    assert.match(lua, /local READ = 0\.95\n/);
    assert.match(lua, /wrk\.format\("GET", "\/kv\/" \.\. key/);
    assert.match(lua, /wrk\.format\("PUT", "\/kv\/" \.\. key, put_headers, VALUE\)/);
    assert.match(lua, /local key = PREFIX \.\. pick\(\)/);
    assert.match(lua, /local function pick\(\) return math\.random\(0, KEYS - 1\) end/);
    assert.doesNotMatch(lua, /X-Dynakv-Context"\]/);
    assert.ok(lua.includes(`local VALUE = "${wrkValue(100, 7)}"`));
    assert.match(lua, /latency:percentile\(99\.9\)/);
  });

  it('etcd: the JSON gateway with base64 keys, and the value already in base64', () => {
    const lua = wrkScript({ system: 'etcd', workload: 'W', keys: 10, valueBytes: 30, valueSeed: 1 });
    assert.match(lua, /local READ = 0\n/);
    assert.match(lua, /"\/v3\/kv\/range"/);
    assert.match(lua, /"\/v3\/kv\/put"/);
    assert.ok(lua.includes(`local VALUE64 = "${Buffer.from(wrkValue(30, 1)).toString('base64')}"`));
  });

  it('read-only and write-only workloads read always and never (math.random() is in [0, 1))', () => {
    assert.match(wrkScript({ system: 'etcd', workload: 'C', keys: 10, valueBytes: 1, valueSeed: 1 }), /local READ = 1\n/);
    assert.match(wrkScript({ system: 'dynakv', workload: 'A', keys: 10, valueBytes: 1, valueSeed: 1 }), /local READ = 0\.5\n/);
  });

  it('values are letters and digits of the asked length, the same for the same seed', () => {
    const v = wrkValue(1000, 3);
    assert.equal(v.length, 1000);
    assert.match(v, /^[A-Za-z0-9]+$/);
    assert.equal(wrkValue(1000, 3), v);
    assert.notEqual(wrkValue(1000, 4), v);
  });

  it('refuses a key prefix that would need escaping', () => {
    assert.throws(() => wrkScript({ system: 'dynakv', workload: 'A', keys: 10, valueBytes: 1, valueSeed: 1, keyPrefix: 'a"b' }), RangeError);
  });
});

describe('wrk output', () => {
  it('parses done()\'s line among wrk\'s own text: ms, successful ops/s, errors, CPU', () => {
    const out = ['Running 2s test @ http://127.0.0.1:1', '  Latency Distribution', '     99%    9.00ms', line({ status: 100, timeout: 2, cpu_ticks: 37 }), ''].join('\n');
    const r = parseWrkOutput(out);
    assert.equal(r.requests, 1000);
    assert.equal(r.durationS, 2);
    assert.equal(r.opsPerSec, 450); // (1000 answers - 100 with status >= 400) / 2 s
    assert.equal(r.p50Ms, 1.5);
    assert.equal(r.p99Ms, 9);
    assert.equal(r.p999Ms, 20);
    assert.deepEqual(r.errors, { connect: 0, read: 0, write: 0, status: 100, timeout: 2 });
    assert.equal(r.cpuMs, 370);
  });

  it('an unreadable /proc gives no CPU figure; a missing or broken line is an error', () => {
    assert.equal(parseWrkOutput(line({ cpu_ticks: -1 })).cpuMs, undefined);
    assert.throws(() => parseWrkOutput('Running 2s test\nRequests/sec: 10\n'), /no DYNAKV_WRK_RESULT line/);
    assert.throws(() => parseWrkOutput(`${WRK_RESULT_TAG} {"requests":"x"}`), /is not a number/);
  });

  it('combines processes: throughput and errors summed, each percentile the max over the processes', () => {
    const a = parseWrkOutput(line({ requests: 1000, p50_us: 1000, p99_us: 8000, p999_us: 30000, cpu_ticks: 10, read: 1 }));
    const b = parseWrkOutput(line({ requests: 600, p50_us: 2000, p99_us: 5000, p999_us: 40000, cpu_ticks: 20, status: 3 }));
    const c = combineWrk([a, b]);
    assert.equal(c.opsPerSec, 500 + 298.5);
    assert.equal(c.successful, 1597);
    assert.equal(c.p50Ms, 2);
    assert.equal(c.p99Ms, 8);
    assert.equal(c.p999Ms, 40);
    assert.equal(c.errorCount, 4);
    assert.deepEqual(c.errors, { connect: 0, read: 1, write: 0, status: 3, timeout: 0 });
    assert.equal(c.generatorCpuMs, 300);
    assert.throws(() => combineWrk([]));
  });
});

describe('wrk processes', () => {
  it('split the connections over the members, evenly, the rest to the first ones', () => {
    assert.deepEqual(splitConnections(64, 5), [13, 13, 13, 13, 12]);
    assert.deepEqual(splitConnections(64, 3), [22, 21, 21]);
    assert.deepEqual(splitConnections(2, 3), [1, 1, 0]);
    for (const [total, n] of [[64, 7], [1, 1], [100, 3]] as const) assert.equal(splitConnections(total, n).reduce((x, y) => x + y), total);
  });

  it('run as side_by_side.sh runs them, one thread each, a seed each after --, no process for a member with no connection', () => {
    const runs = wrkArgs({ scriptPath: '/s.lua', endpoints: ['http://a', 'http://b', 'http://c'], connections: 2, durationS: 2.6, timeoutS: 5, seed: 9 });
    assert.deepEqual(runs.map((r) => r.endpoint), ['http://a', 'http://b']);
    assert.deepEqual(runs[0]!.args.slice(0, 9), ['-t1', '-c1', '-d3s', '--timeout', '5s', '--latency', '-s', '/s.lua', 'http://a']);
    assert.equal(runs[0]!.args[9], '--');
    assert.equal(runs[0]!.args[10], String(luaSeed(9, 0)));
    assert.equal(runs[1]!.args[11], '1', 'the process index, for ring routing');
    assert.notEqual(luaSeed(9, 0), luaSeed(9, 1));
  });

  it('wrk phases route to any node unless --dynakv-routing ring is given; the Node generator\'s phases keep ring by default', () => {
    const plain = parseOptions(['--generator', 'wrk']);
    assert.ok(plain !== 'help');
    assert.equal(plain.wrkRouting, 'any');
    assert.equal(plain.dynakvRouting, 'ring');
    const ring = parseOptions(['--generator', 'wrk', '--dynakv-routing', 'ring']);
    assert.ok(ring !== 'help');
    assert.equal(ring.wrkRouting, 'ring');
    const any = parseOptions(['--dynakv-routing', 'any']);
    assert.ok(any !== 'help');
    assert.deepEqual([any.wrkRouting, any.dynakvRouting], ['any', 'any']);
  });

  it('ring routing: process i draws only the keys of its own list (ownKeys[i]), which must be loaded keys', () => {
    const lua = wrkScript({ system: 'dynakv', workload: 'W', keys: 10, valueBytes: 10, valueSeed: 1, ownKeys: [[0, 3, 9], [1, 2]] });
    assert.match(lua, /local OWN = \{ "0,3,9", "1,2" \}/);
    assert.match(lua, /OWN\[\(tonumber\(args\[2\]\) or 0\) \+ 1\]:gmatch/);
    assert.match(lua, /local function pick\(\) return MINE\[math\.random\(1, #MINE\)\] end/);
    assert.doesNotMatch(lua, /math\.random\(0, KEYS - 1\)/);
    assert.throws(() => wrkScript({ system: 'dynakv', workload: 'W', keys: 10, valueBytes: 10, valueSeed: 1, ownKeys: [[10]] }), /ownKeys/);
    assert.throws(() => wrkScript({ system: 'dynakv', workload: 'W', keys: 10, valueBytes: 10, valueSeed: 1, ownKeys: [[]] }), /ownKeys/);
  });
});
