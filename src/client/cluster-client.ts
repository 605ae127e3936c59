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
import { LatencyWindow, SpeculationBudget } from '../replication/latency-window.ts';

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
  /**
   * A fixed hedge delay in ms; default: the p99 of this client's recent attempts. At most
   * SPECULATION_SHARE_MAX of requests are hedged either way (a budget, in bursts of 10).
   */
  readonly hedgeAfterMs?: number;
}

export type HedgeMode = 'reads' | 'all' | 'off';

/** Until the client has a p99 (LATENCY_WINDOW_SAMPLES_MIN answers), requests hedge after this. */
export const HEDGE_DELAY_MS_INITIAL = 200;
/** The hedge delay is never shorter: a hedge doubles a request's load on the cluster. */
export const HEDGE_DELAY_MS_MIN = 20;

/** Per call: told about this call's attempts only, including one that ends after the call did. */
export interface CallOptions {
  readonly onAttempt?: (attempt: Attempt) => void;
}

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
  /** How long attempts took; its p99 is the hedge delay. */
  private readonly latency = new LatencyWindow();
  private readonly hedgeBudget = new SpeculationBudget();
  private hedgedCount = 0;

  constructor(
    readonly endpoints: readonly string[],
    private readonly options: ClusterClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new Error('ClusterClient needs at least one endpoint');
    const { hedgeAfterMs } = options;
    if (hedgeAfterMs !== undefined && !(Number.isFinite(hedgeAfterMs) && hedgeAfterMs >= 0)) {
      throw new RangeError(`hedgeAfterMs must be a finite number of ms >= 0, got ${hedgeAfterMs}`);
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.timeoutMs = timeoutMs;
    const credentials = options.credentials;
    this.clients = endpoints.map((url) => new DynakvClient(url, { timeoutMs, ...(credentials !== undefined ? { credentials } : {}) }));
    this.suspectMs = options.suspectMs ?? DEFAULT_SUSPECT_MS;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get(key: string, options: { r?: number } & CallOptions = {}): Promise<ReadResult> {
    const { onAttempt, ...rest } = options;
    return this.withFailover(key, (c) => c.get(key, rest), this.hedgeMode() !== 'off', onAttempt);
  }

  put(key: string, value: Uint8Array | string, options: { context?: string; contentType?: string; w?: number } & CallOptions = {}): Promise<string> {
    const { onAttempt, ...rest } = options;
    return this.withFailover(key, (c) => c.put(key, value, rest), this.hedgeMode() === 'all', onAttempt);
  }

  delete(key: string, options: { context?: string; w?: number } & CallOptions = {}): Promise<void> {
    const { onAttempt, ...rest } = options;
    return this.withFailover(key, (c) => c.delete(key, rest), this.hedgeMode() === 'all', onAttempt);
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
   * The current hedge delay: the fixed one if set, else the p99 of recent attempts (within
   * [HEDGE_DELAY_MS_MIN, timeout / 2]; HEDGE_DELAY_MS_INITIAL until there is a p99).
   */
  hedgeDelayMs(): number {
    if (this.options.hedgeAfterMs !== undefined) return this.options.hedgeAfterMs;
    return this.latency.p99Within(HEDGE_DELAY_MS_MIN, this.timeoutMs / 2, HEDGE_DELAY_MS_INITIAL);
  }

  private hedgeMode(): HedgeMode {
    return this.options.hedge ?? 'reads';
  }

  /**
   * Sends the request to the first node of order(key); on refusal or timeout to the next, and so
   * on. With `hedge`, once the hedge delay passes with no answer, the next node is asked too (once
   * per request, within the budget). The first success wins; an error answer wins once no other
   * attempt is still running (that one may succeed). A slower attempt still ends and is reported.
   */
  private async withFailover<T>(key: string, request: (client: DynakvClient) => Promise<T>, hedge: boolean, onAttempt?: (attempt: Attempt) => void): Promise<T> {
    await this.refreshRing();
    const attempts: Attempt[] = [];
    const order = this.order(key);
    if (hedge) this.hedgeBudget.earn();
    type Settled = { readonly kind: 'ok'; readonly value: T } | { readonly kind: 'error'; readonly err: unknown } | { readonly kind: 'unreachable' };
    // Outcomes in the order they came, so two attempts settling together are both seen.
    const settled: Settled[] = [];
    /** The attempts still running, by number. */
    const running = new Set<number>();
    let next = 0;
    // Set once the request has its answer. An attempt that ends later (the slow one a hedge
    // overtook, e.g. a paused node that resumed) is no sample: its stall would push the p99, and
    // with it the hedge delay, up to the stalls hedging is for. Nor is what it had taken when the
    // request was decided: under a long stall those samples sit just above the delay and ratchet
    // it up (measured: 0.5 s -> 0.9 s in a chaos run). Sampling the answers that won biases the
    // p99 low instead, so a few more requests hedge; the budget caps that at a tenth.
    let decided = false;
    let observerFailure: { readonly err: unknown } | undefined;
    let wake: (() => void) | undefined;
    const signal = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const observe = (attempt: Attempt) => {
      for (const fn of [this.options.onAttempt, onAttempt]) {
        try {
          fn?.(attempt);
        } catch (err) {
          // A throwing observer fails the request with its error (once decided, nothing is told).
          observerFailure ??= { err };
        }
      }
    };
    const launch = () => {
      const number = next++;
      const client = order[number]!;
      const startMs = this.nowMs();
      running.add(number);
      const finish = (result: Settled, outcome: AttemptOutcome, status?: number) => {
        running.delete(number);
        const endMs = this.nowMs();
        if (!decided && result.kind !== 'unreachable') this.latency.add(endMs - startMs);
        const attempt: Attempt = { endpoint: client.baseUrl, startMs, endMs, outcome, ...(status !== undefined ? { status } : {}) };
        attempts.push(attempt);
        observe(attempt);
        settled.push(result);
        signal();
      };
      request(client).then(
        (value) => finish({ kind: 'ok', value }, 'ok'),
        (err: unknown) => {
          if (err instanceof ClientError && err.code !== 'UNREACHABLE') {
            finish({ kind: 'error', err }, 'error-answer', err.status);
            return;
          }
          // Refused, reset, timed out, or a body cut off mid-answer: this node cannot serve us now.
          this.suspectUntilMs.set(client.baseUrl, this.nowMs() + this.suspectMs);
          const timedOut = err instanceof ClientError ? err.timedOut : (err as Error).name === 'TimeoutError';
          finish({ kind: 'unreachable' }, timedOut ? 'timeout' : 'unreachable');
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
    let firstError: { readonly err: unknown } | undefined;
    try {
      launch();
      for (;;) {
        for (let result = settled.shift(); result !== undefined; result = settled.shift()) {
          if (result.kind === 'ok' && observerFailure === undefined) {
            decided = true;
            return result.value;
          }
          if (result.kind === 'error') firstError ??= result;
        }
        if (observerFailure !== undefined) {
          decided = true;
          throw observerFailure.err;
        }
        // An error *answer* is the cluster's verdict and is returned as is, not retried elsewhere;
        // but an attempt still running may yet succeed (a hedge racing a node that fails fast).
        if (firstError !== undefined && running.size === 0) {
          decided = true;
          throw firstError.err;
        }
        if (hedgeDue) {
          // Once per request, within the budget: the next node is asked while the first may still answer.
          hedgeDue = false;
          if (firstError === undefined && next < order.length && this.hedgeBudget.spend()) {
            this.hedgedCount++;
            launch();
          }
        }
        // Failover: nothing is running any more (refused or timed out), so ask the next node.
        if (running.size === 0) {
          if (next >= order.length) break;
          launch();
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (hedgeTimer !== undefined) clearTimeout(hedgeTimer);
    }
    decided = true;
    throw new NoNodeAnswered(attempts);
  }
}
