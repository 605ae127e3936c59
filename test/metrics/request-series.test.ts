// RequestSeries (src/metrics/request-series.ts) counts requests in plain numbers and hands them to
// prom-client only at scrape time; its text must be exactly what prom-client's own Counter and
// Histogram write for the same requests, default labels included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestSeries } from '../../src/metrics/request-series.ts';

const BUCKETS_S = [0.001, 0.01, 0.1, 1];

describe('RequestSeries', () => {
  it('writes the same text as prom-client Counter and Histogram fed the same requests', async () => {
    const ours = new Registry();
    ours.setDefaultLabels({ node: 'n1' });
    const series = new RequestSeries('t_requests_total', 't_duration_seconds', BUCKETS_S);
    series.register(ours);
    const theirs = new Registry();
    theirs.setDefaultLabels({ node: 'n1' });
    const counter = new Counter({ name: 't_requests_total', help: 'HTTP requests answered, by operation and status', labelNames: ['op', 'status'], registers: [theirs] });
    const histogram = new Histogram({ name: 't_duration_seconds', help: 'Time from request to answer, by operation and status', labelNames: ['op', 'status'], buckets: BUCKETS_S, registers: [theirs] });
    const seed = 12345;
    console.log(`seed ${seed}`);
    let x = seed;
    const next = () => (x = (x * 48271) % 2147483647) / 2147483647;
    const ops = ['get', 'put', 'GET /cluster/ring'];
    const statuses = [200, 404, 503];
    // Bounds themselves fall in their own bucket (le is "less or equal").
    const durations = [0, 0.001, 0.01, 1, 5, ...Array.from({ length: 500 }, () => next() ** 3 * 2)];
    durations.forEach((seconds, i) => {
      const op = ops[i % ops.length]!;
      const status = statuses[Math.floor(next() * statuses.length)]!;
      series.record(op, status, seconds);
      counter.inc({ op, status: String(status) });
      histogram.observe({ op, status: String(status) }, seconds);
    });
    const sorted = (text: string) => text.split('\n').sort();
    assert.deepEqual(sorted(await ours.metrics()), sorted(await theirs.metrics()));
  });

  it('counts a negative or non-finite duration (a clock step) in the first bucket, adding nothing to the sum', async () => {
    const registry = new Registry();
    const series = new RequestSeries('t_requests_total', 't_duration_seconds', BUCKETS_S);
    series.register(registry);
    series.record('get', 200, -3);
    series.record('get', 200, Number.NaN);
    const text = await registry.metrics();
    assert.match(text, /t_duration_seconds_bucket\{le="0.001",op="get",status="200"\} 2/);
    assert.match(text, /t_duration_seconds_sum\{op="get",status="200"\} 0/);
    assert.match(text, /t_requests_total\{op="get",status="200"\} 2/);
  });
});
