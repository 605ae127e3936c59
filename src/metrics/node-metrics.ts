// One node's Prometheus metrics (prom-client), served as text by GET /metrics. Client requests
// are recorded through recordRequest() alone, called once per answered request by whichever
// HTTP layer serves it (request-hook.ts). Everything else is read at scrape time from the
// node's front door (its stats() snapshot and members()), from counters its parts keep anyway,
// so no core module imports prom-client or pays for metrics on its own paths. One registry per node, labelled
// with its id, plus prom-client's process defaults (event-loop lag, CPU, memory, GC).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { NodeFrontDoor, NodeStats, SeenStatus } from '../node/front-door.ts';
import { RequestSeries } from './request-series.ts';
import { RequestWindow } from './request-window.ts';

/** Client operations worth a dashboard rate; other routes are labelled by method and route. */
const KV_OPS = new Set(['get', 'put', 'delete']);
/** 0.5 ms .. 10 s: an LMDB group commit is ~1 ms, a quorum timeout 2 s, a forwarded one 4 s. */
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface NodeMetricsOptions {
  /** Bytes the node's storage takes on disk, read at scrape time. */
  readonly storageBytes?: () => number;
  /** Clock of the dashboard's request window (tests pass their own). */
  readonly nowMs?: () => number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  /** The last minute of key-value requests, per second, for the dashboard. */
  readonly window: RequestWindow;
  /** dynakv_http_requests_total and dynakv_http_request_duration_seconds. */
  private readonly requests = new RequestSeries('dynakv_http_requests_total', 'dynakv_http_request_duration_seconds', LATENCY_BUCKETS_S);
  private readonly quorumFailures: Counter<'op'>;

  constructor(node: NodeFrontDoor, options: NodeMetricsOptions = {}) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: node.id });
    this.window = new RequestWindow(options.nowMs);
    this.requests.register(this.registry);
    this.quorumFailures = new Counter({ name: 'dynakv_quorum_failures_total', help: 'Client operations answered 503 because fewer than R/W replicas replied in time', labelNames: ['op'], registers });
    collectDefaultMetrics({ register: this.registry });
    this.readFromNode(node, options.storageBytes);
  }

  /**
   * Records one answered HTTP request: `op` is get/head/put/delete for /kv, else "METHOD /route";
   * `errorCode` is the error's stable code when the answer is an error.
   */
  recordRequest(op: string, status: number, seconds: number, errorCode?: string): void {
    this.requests.record(op, status, seconds);
    if (errorCode === 'QUORUM_FAILED') this.quorumFailures.inc({ op });
    if (KV_OPS.has(op)) this.window.record(seconds * 1000);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Scrape-time metrics: each reads a counter or state the node keeps anyway. */
  private readFromNode(node: NodeFrontDoor, storageBytes: (() => number) | undefined): void {
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: [this.registry], collect() {
        this.reset();
        this.inc(read());
      } });
    const labelled = (name: string, help: string, label: string, read: () => Record<string, number>, type: 'counter' | 'gauge' = 'counter') => {
      const collect = function (this: Counter<string> | Gauge<string>) {
        this.reset();
        for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
      };
      const config = { name, help, labelNames: [label], registers: [this.registry], collect };
      return type === 'counter' ? new Counter(config) : new Gauge(config);
    };
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() {
        this.set(read());
      } });

    // One stats() snapshot serves every metric of a scrape: prom-client calls each collect()
    // synchronously in one pass, and the snapshot is dropped after it (next microtask).
    let scrape: NodeStats | undefined;
    const stats = (): NodeStats => {
      if (scrape === undefined) {
        scrape = node.stats();
        queueMicrotask(() => (scrape = undefined));
      }
      return scrape;
    };
    gauge('dynakv_keys', 'Keys this node stores (tombstones included)', () => stats().keys);
    gauge('dynakv_hints_held', 'Hints this node holds for replicas that were down', () => Object.values(stats().hints).reduce((a, b) => a + b, 0));
    counter('dynakv_hints_stored_total', 'Hints this node accepted for a down replica (sloppy quorum)', () => stats().hintsStored);
    counter('dynakv_hints_delivered_total', 'Hints this node handed to their owner, acknowledged durably', () => stats().hintsDelivered);
    counter('dynakv_hinted_writes_total', 'Writes this node coordinated that used a hint for a replica', () => stats().hintedWrites);
    counter('dynakv_fallback_writes_total', 'Writes this node coordinated from outside the key\'s replicas, as hints, because no replica could (a split)', () => stats().fallbackWrites);
    counter('dynakv_read_repairs_total', 'Replicas this node repaired after a read', () => stats().readRepairs);
    labelled('dynakv_antientropy_bytes_total', 'Anti-entropy bytes this node sent and received in its own syncs', 'direction', () => ({
      sent: stats().sync.bytesSent,
      received: stats().sync.bytesReceived,
    }));
    labelled('dynakv_antientropy_keys_total', 'Keys moved by anti-entropy', 'direction', () => ({ pulled: stats().sync.keysPulled, pushed: stats().sync.keysPushed }));
    counter('dynakv_antientropy_syncs_total', 'Range syncs (Merkle comparisons) this node ran', () => stats().sync.syncs);
    gauge('dynakv_syncing', '1 while the node is recovering (comparing its ranges), else 0', () => (stats().sync.state === 'syncing' ? 1 : 0));
    counter('dynakv_gossip_rounds_total', 'Gossip rounds this node started', () => stats().gossipRounds);
    labelled('dynakv_failure_detector_transitions_total', 'Peers this node\'s failure detector started (down) or stopped (up) holding down', 'to', () => ({ ...stats().detectorTransitions }));
    labelled('dynakv_members', 'Members in this node\'s view, by status (its own detector decides down)', 'status', () => {
      const counts: Record<SeenStatus, number> = { up: 0, down: 0, syncing: 0, removed: 0 };
      for (const m of node.members().members) counts[m.seen] += 1;
      return counts;
    }, 'gauge');
    labelled('dynakv_transfer_keys_total', 'Keys sent to new replicas and dropped afterwards, after ring changes', 'kind', () => ({ sent: stats().transfer.keysSent, dropped: stats().transfer.keysDropped }));
    if (storageBytes !== undefined) gauge('dynakv_lmdb_size_bytes', 'Size of the LMDB files on disk', storageBytes);
  }
}

/** Total size of the regular files in `dir` (LMDB's data and lock files); 0 if it is gone. */
export function directoryBytes(dir: string): number {
  try {
    return readdirSync(dir).reduce((sum, name) => {
      const st = statSync(join(dir, name));
      return st.isFile() ? sum + st.size : sum;
    }, 0);
  } catch {
    return 0;
  }
}
