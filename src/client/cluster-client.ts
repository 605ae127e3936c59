// A cluster-aware client: holds several node endpoints and, when the node it asked cannot answer
// (connection refused or reset, or no answer within the timeout), retries the request on another
// node and treats the silent one as suspect for a while, as Riak and Cassandra drivers do. An
// error *answer* (e.g. 503 quorum failed) is the cluster's verdict and is not retried here.
// Retrying a write after a timeout is at-least-once: the first node may have applied it too. For
// a write carrying the context it read (a set add) that is harmless: the same element is added
// twice and the versions merge; a blind write may leave a sibling with the same value.
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

  constructor(
    readonly endpoints: readonly string[],
    private readonly options: ClusterClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new Error('ClusterClient needs at least one endpoint');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const credentials = options.credentials;
    this.clients = endpoints.map((url) => new DynakvClient(url, { timeoutMs, ...(credentials !== undefined ? { credentials } : {}) }));
    this.suspectMs = options.suspectMs ?? DEFAULT_SUSPECT_MS;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get(key: string, options: { r?: number } = {}): Promise<ReadResult> {
    return this.withFailover(key, (c) => c.get(key, options));
  }

  put(key: string, value: Uint8Array | string, options: { context?: string; contentType?: string; w?: number } = {}): Promise<string> {
    return this.withFailover(key, (c) => c.put(key, value, options));
  }

  delete(key: string, options: { context?: string; w?: number } = {}): Promise<void> {
    return this.withFailover(key, (c) => c.delete(key, options));
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

  private async withFailover<T>(key: string, request: (client: DynakvClient) => Promise<T>): Promise<T> {
    await this.refreshRing();
    const attempts: Attempt[] = [];
    for (const client of this.order(key)) {
      const startMs = this.nowMs();
      const record = (outcome: AttemptOutcome, status?: number) => {
        const attempt: Attempt = { endpoint: client.baseUrl, startMs, endMs: this.nowMs(), outcome, ...(status !== undefined ? { status } : {}) };
        attempts.push(attempt);
        this.options.onAttempt?.(attempt);
      };
      try {
        const result = await request(client);
        record('ok');
        return result;
      } catch (err) {
        if (err instanceof ClientError && err.code !== 'UNREACHABLE') {
          record('error-answer', err.status);
          throw err;
        }
        // Refused, reset, timed out, or a body cut off mid-answer: this node cannot serve us now.
        const timedOut = err instanceof ClientError ? err.timedOut : (err as Error).name === 'TimeoutError';
        record(timedOut ? 'timeout' : 'unreachable');
        this.suspectUntilMs.set(client.baseUrl, this.nowMs() + this.suspectMs);
      }
    }
    throw new NoNodeAnswered(attempts);
  }
}
