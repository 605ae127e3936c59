// The per-request metrics, dynakv_http_requests_total and dynakv_http_request_duration_seconds,
// counted in plain numbers and read by prom-client only at scrape time. prom-client's own
// Counter.inc and Histogram.observe validate and hash the labels on every call, and that cost 4-8 %
// of a node's CPU per get under load (issue 15); here a request costs one Map lookup, a few
// additions and a bucket search. The text is the same: one counter and one histogram family with
// op and status labels (the registry adds its default labels).
import type { Registry } from 'prom-client';

/** One (op, status) pair's counts. `buckets[i]` counts requests in (bound i-1, bound i]; the last slot is past every bound. */
interface Series {
  readonly op: string;
  readonly status: string;
  count: number;
  sumSeconds: number;
  readonly buckets: Float64Array;
}

/** A sample as prom-client's registry writes it. */
interface MetricValue {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  /** Written after `labels` and the registry's default labels (prom-client's histograms put op and status there). */
  readonly sharedLabels?: Readonly<Record<string, string>>;
  readonly metricName?: string;
}

/** What prom-client's Registry needs of a metric to write it (Registry.getMetricsAsString). */
interface ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): Omit<ScrapedMetric, 'get'> & { values: MetricValue[] };
}

export class RequestSeries {
  /**
   * By `${op} ${status}`. Bounded by its labels: operations are the /kv verbs, the fastify
   * routes' patterns and the DynamoDB door's own operation names, and statuses are HTTP's.
   */
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly requestsName: string,
    private readonly latencyName: string,
    /** Upper bounds in seconds, ascending. */
    private readonly bucketsS: readonly number[],
  ) {
    if (!bucketsS.every((b, i) => Number.isFinite(b) && (i === 0 || b > bucketsS[i - 1]!))) throw new RangeError('buckets must be finite and ascending');
  }

  record(op: string, status: number, seconds: number): void {
    const name = `${op} ${status}`;
    let series = this.series.get(name);
    if (series === undefined) {
      series = { op, status: String(status), count: 0, sumSeconds: 0, buckets: new Float64Array(this.bucketsS.length + 1) };
      this.series.set(name, series);
    }
    series.count += 1;
    // A clock step can make a duration negative or not a number: counted, in the first bucket, adding nothing to the sum.
    const s = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    series.sumSeconds += s;
    let i = 0;
    while (i < this.bucketsS.length && s > this.bucketsS[i]!) i++;
    series.buckets[i]! += 1;
  }

  /** Registers both families with `registry` (prom-client writes them like its own). */
  register(registry: Registry): void {
    const requests: ScrapedMetric = {
      name: this.requestsName,
      help: 'HTTP requests answered, by operation and status',
      type: 'counter',
      aggregator: 'sum',
      get: () => ({ ...requests, values: [...this.series.values()].map((s) => ({ value: s.count, labels: { op: s.op, status: s.status } })) }),
    };
    const latency: ScrapedMetric = {
      name: this.latencyName,
      help: 'Time from request to answer, by operation and status',
      type: 'histogram',
      aggregator: 'sum',
      get: () => ({ ...latency, values: [...this.series.values()].flatMap((s) => this.histogramValues(s)) }),
    };
    // prom-client types registerMetric for its own classes; its registry calls get() and reads these fields alone.
    registry.registerMetric(requests as unknown as Parameters<Registry['registerMetric']>[0]);
    registry.registerMetric(latency as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  private histogramValues(s: Series): MetricValue[] {
    const labels = { op: s.op, status: s.status };
    const values: MetricValue[] = [];
    let cumulative = 0;
    this.bucketsS.forEach((bound, i) => {
      cumulative += s.buckets[i]!;
      values.push({ metricName: `${this.latencyName}_bucket`, labels: { le: bound }, sharedLabels: labels, value: cumulative });
    });
    values.push({ metricName: `${this.latencyName}_bucket`, labels: { le: '+Inf' }, sharedLabels: labels, value: s.count });
    values.push({ metricName: `${this.latencyName}_sum`, labels: {}, sharedLabels: labels, value: s.sumSeconds });
    values.push({ metricName: `${this.latencyName}_count`, labels: {}, sharedLabels: labels, value: s.count });
    return values;
  }
}
