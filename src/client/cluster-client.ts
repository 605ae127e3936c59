// A cluster-aware client: holds several node endpoints and, when the node it asked cannot answer
// (connection refused or reset, or no answer within the timeout), retries the request on another
// node and treats the silent one as suspect for a while, as Riak and Cassandra drivers do. An
// error *answer* (e.g. 503 quorum failed) is the cluster's verdict and is not retried here.
// Retrying a write after a timeout is at-least-once: the first node may have applied it too. For
// a write carrying the context it read (a set add) that is harmless: the same element is added
// twice and the versions merge; a blind write may leave a sibling with the same value.
// Hedged requests (Cassandra's speculative retry, "The Tail at Scale"): a request the first node
// has not answered within the recent p99 is sent once more to the next node, and the first answer
// wins, so a paused or cut-off node costs a request its p99, not the whole timeout. Reads hedge by
// default; writes only when asked (`hedge: 'all'`), since a hedged write is a retry: at-least-once.
import { ClientError, DynakvClient, type ClientCredentials, type ReadResult } from './http-client.ts';
import { RingRouter } from './ring-router.ts';

/** What became of one request sent to one node. */
export type AttemptOutcome = 'ok' | 'error-answer' | 'unreachable' | 'timeout';

export interface Attempt {
  readonly endpoint: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: AttemptOutcome;
  /** HTTP status of an error answer. */
  readonly status?: number;
}

export interface ClusterClientOptions {
  /** Per attempt; a node that has not answered by then is given up on for this request. */
  readonly timeoutMs?: number;
  /** How long a node that failed an attempt is tried only after every other node. */
  readonly suspectMs?: number;
  /** Told about every attempt (for histories and metrics). */
  readonly onAttempt?: (attempt: Attempt) => void;
  /** Wall clock in ms; injected by tests. */
  readonly nowMs?: () => number;
  /**
   * `ring`: learn the ring from the cluster and try a key's replicas first (no forwarding hop;
   * falls back to round robin while the ring cannot be learned). Default `round-robin`.
   */
  readonly routing?: 'ring' | 'round-robin';
  /** The cluster CA and a client certificate or token, for https:// endpoints. */
  readonly credentials?: ClientCredentials;
  /**
   * Which requests are hedged: sent to a second node when the first has not answered within the
   * hedge delay. `reads` (default): gets only; `all`: writes too (at-least-once, see above); `off`.
   */
  readonly hedge?: HedgeMode;
  /** A fixed hedge delay in ms; default: the p99 of this client's recent answered attempts. */
  readonly hedgeAfterMs?: number;
}

export type HedgeMode = 'reads' | 'all' | 'off';

/** Answered attempts whose latency sets the hedge delay (a ring of the most recent ones). */
export const HEDGE_LATENCY_SAMPLES = 256;
/** Below this many samples the delay is HEDGE_DELAY_MS_INITIAL: one slow start is not a p99. */
export const HEDGE_LATENCY_SAMPLES_MIN = 32;
export const HEDGE_DELAY_MS_INITIAL = 200;
/** The hedge delay is never shorter: a hedge doubles a request's load on the cluster. */
export const HEDGE_DELAY_MS_MIN = 20;

/**
 * Thrown when every endpoint was tried and none answered; `attempts` says what happened to each.
 * A write may still have been applied (a node can die or stall after committing it).
 */
export class NoNodeAnswered extends Error {
  constructor(readonly attempts: readonly Attempt[]) {
    super(`no dynakv node answered (${attempts.map((a) => `${a.endpoint}: ${a.outcome}`).join(', ')})`);
    this.name = 'NoNodeAnswered';
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_SUSPECT_MS = 2_000;
/** How long a learned ring is used before it is fetched again, and how long after a failed fetch. */
const RING_REFRESH_MS = 30_000;

export class ClusterClient {
  private readonly clients: readonly DynakvClient[];
  private readonly suspectUntilMs = new Map<string, number>();
  private readonly suspectMs: number;
  private readonly nowMs: () => number;
  private next = 0;
  private router: RingRouter | undefined;
  private routerFetchedMs = -Infinity;
  private routerLoading: Promise<void> | undefined;
  private readonly timeoutMs: number;
  /** Latencies (ms) of recent answered attempts, a ring of HEDGE_LATENCY_SAMPLES. */
  private readonly latencies: number[] = [];
  private latencyNext = 0;
  private hedgedCount = 0;

  constructor(
    readonly endpoints: readonly string[],
    private readonly options: ClusterClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new Error('ClusterClient needs at least one endpoint');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.timeoutMs = timeoutMs;
    const credentials = options.credentials;
    this.clients = endpoints.map((url) => new DynakvClient(url, { timeoutMs, ...(credentials !== undefined ? { credentials } : {}) }));
    this.suspectMs = options.suspectMs ?? DEFAULT_SUSPECT_MS;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get(key: string, options: { r?: number } = {}): Promise<ReadResult> {
    return this.withFailover(key, (c) => c.get(key, options), this.hedgeMode() !== 'off');
  }

  put(key: string, value: Uint8Array | string, options: { context?: string; contentType?: string; w?: number } = {}): Promise<string> {
    return this.withFailover(key, (c) => c.put(key, value, options), this.hedgeMode() === 'all');
  }

  delete(key: string, options: { context?: string; w?: number } = {}): Promise<void> {
    return this.withFailover(key, (c) => c.delete(key, options), this.hedgeMode() === 'all');
  }

  /** Closes every endpoint's kept-alive connections. */
  close(): void {
    for (const client of this.clients) client.close();
  }

  /** Whether requests currently avoid this endpoint (it failed within the last suspectMs). */
  isSuspect(endpoint: string): boolean {
    return (this.suspectUntilMs.get(endpoint) ?? 0) > this.nowMs();
  }

  /**
   * Endpoints in the order the next request tries them: round robin, suspects last; with ring
   * routing and a learned ring, the key's replicas (rotating) before the others.
   */
  order(key?: string): DynakvClient[] {
    const turn = this.next++;
    const start = turn % this.clients.length;
    let rotated = [...this.clients.slice(start), ...this.clients.slice(0, start)];
    const replicas = key === undefined ? [] : (this.router?.replicas(key) ?? []);
    if (replicas.length > 0) {
      const first = replicas.map((_, i) => replicas[(turn + i) % replicas.length]!);
      const rank = (c: DynakvClient) => (first.includes(c.baseUrl) ? first.indexOf(c.baseUrl) : first.length);
      rotated = [...rotated].sort((a, b) => rank(a) - rank(b));
    }
    return [...rotated.filter((c) => !this.isSuspect(c.baseUrl)), ...rotated.filter((c) => this.isSuspect(c.baseUrl))];
  }

  /** With ring routing, (re)learns the ring when it is missing or old; never throws. */
  private refreshRing(): Promise<void> {
    if (this.options.routing !== 'ring' || this.nowMs() - this.routerFetchedMs < RING_REFRESH_MS) return Promise.resolve();
    this.routerLoading ??= RingRouter.fetch(this.endpoints, undefined, this.options.credentials)
      .then(
        (router) => {
          this.router = router;
        },
        () => {
          // keep the old ring (or round robin) until the next try
        },
      )
      .finally(() => {
        this.routerFetchedMs = this.nowMs();
        this.routerLoading = undefined;
      });
    // The first request waits for the ring; later refreshes happen behind the requests.
    return this.router === undefined ? this.routerLoading : Promise.resolve();
  }

  /** Requests sent a second time because the first node was slower than the hedge delay. */
  get hedged(): number {
    return this.hedgedCount;
  }

  /**
   * The current hedge delay: the fixed one if set, else the p99 of recent attempts that answered
   * a request (not those that answered after another attempt had).
   */
  hedgeDelayMs(): number {
    if (this.options.hedgeAfterMs !== undefined) return this.options.hedgeAfterMs;
    if (this.latencies.length < HEDGE_LATENCY_SAMPLES_MIN) return Math.min(HEDGE_DELAY_MS_INITIAL, this.timeoutMs / 2);
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
    return Math.min(Math.max(HEDGE_DELAY_MS_MIN, p99), this.timeoutMs / 2);
  }

  private hedgeMode(): HedgeMode {
    return this.options.hedge ?? 'reads';
  }

  private rememberLatency(ms: number): void {
    if (this.latencies.length < HEDGE_LATENCY_SAMPLES) this.latencies.push(ms);
    else this.latencies[this.latencyNext] = ms;
    this.latencyNext = (this.latencyNext + 1) % HEDGE_LATENCY_SAMPLES;
  }

  /**
   * Sends the request to the first node of order(key); on refusal or timeout to the next, and so
   * on. With `hedge`, once the hedge delay passes with no answer, the next node is asked too (once
   * per request) and the first answer wins; the slower attempt still finishes and is reported.
   */
  private async withFailover<T>(key: string, request: (client: DynakvClient) => Promise<T>, hedge: boolean): Promise<T> {
    await this.refreshRing();
    const attempts: Attempt[] = [];
    const order = this.order(key);
    type Settled = { readonly kind: 'ok'; readonly value: T } | { readonly kind: 'error'; readonly err: unknown } | { readonly kind: 'unreachable' };
    // Outcomes in the order they came, so two attempts settling together are both seen.
    const settled: Settled[] = [];
    let running = 0;
    let next = 0;
    // Set once the request has its answer. An attempt that answers later (the slow one a hedge
    // overtook, e.g. a paused node that resumed) is no sample of how fast nodes answer: counting
    // it would push the p99, and with it the hedge delay, up to the stalls hedging is for.
    let decided = false;
    let wake: (() => void) | undefined;
    const signal = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const launch = () => {
      const client = order[next++]!;
      const startMs = this.nowMs();
      running++;
      const record = (outcome: AttemptOutcome, status?: number) => {
        const attempt: Attempt = { endpoint: client.baseUrl, startMs, endMs: this.nowMs(), outcome, ...(status !== undefined ? { status } : {}) };
        attempts.push(attempt);
        this.options.onAttempt?.(attempt);
      };
      const outcome = (value: Settled) => {
        running--;
        settled.push(value);
        signal();
      };
      request(client).then(
        (value) => {
          record('ok');
          if (!decided) this.rememberLatency(this.nowMs() - startMs);
          outcome({ kind: 'ok', value });
        },
        (err: unknown) => {
          if (err instanceof ClientError && err.code !== 'UNREACHABLE') {
            record('error-answer', err.status);
            if (!decided) this.rememberLatency(this.nowMs() - startMs);
            outcome({ kind: 'error', err });
            return;
          }
          // Refused, reset, timed out, or a body cut off mid-answer: this node cannot serve us now.
          const timedOut = err instanceof ClientError ? err.timedOut : (err as Error).name === 'TimeoutError';
          record(timedOut ? 'timeout' : 'unreachable');
          this.suspectUntilMs.set(client.baseUrl, this.nowMs() + this.suspectMs);
          outcome({ kind: 'unreachable' });
        },
      );
    };
    let hedgeDue = false;
    const hedgeTimer =
      hedge && order.length > 1
        ? setTimeout(() => {
            hedgeDue = true;
            signal();
          }, this.hedgeDelayMs())
        : undefined;
    try {
      launch();
      for (;;) {
        for (let result = settled.shift(); result !== undefined; result = settled.shift()) {
          if (result.kind === 'ok') {
            decided = true;
            return result.value;
          }
          // An error *answer* is the cluster's verdict: returned as is, not retried elsewhere.
          if (result.kind === 'error') {
            decided = true;
            throw result.err;
          }
        }
        if (hedgeDue) {
          // Once per request: the next node is asked while the first may still answer.
          hedgeDue = false;
          if (next < order.length) {
            this.hedgedCount++;
            launch();
          }
        }
        // Failover: nothing is running any more (refused or timed out), so ask the next node.
        if (running === 0) {
          if (next >= order.length) break;
          launch();
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (hedgeTimer !== undefined) clearTimeout(hedgeTimer);
    }
    throw new NoNodeAnswered(attempts);
  }
}
