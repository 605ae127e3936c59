// A cluster-aware client: holds several node endpoints and, when the node it asked cannot answer
// (connection refused or reset, or no answer within the timeout), retries the request on another
// node and treats the silent one as suspect for a while, as Riak and Cassandra drivers do. An
// error *answer* (e.g. 503 quorum failed) is the cluster's verdict and is not retried here.
// Retrying a write after a timeout is at-least-once: the first node may have applied it too. For
// a write carrying the context it read (a set add) that is harmless: the same element is added
// twice and the versions merge; a blind write may leave a sibling with the same value.
import { ClientError, DynakvClient, type ReadResult } from './http-client.ts';

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

export class ClusterClient {
  private readonly clients: readonly DynakvClient[];
  private readonly suspectUntilMs = new Map<string, number>();
  private readonly suspectMs: number;
  private readonly nowMs: () => number;
  private next = 0;

  constructor(
    readonly endpoints: readonly string[],
    private readonly options: ClusterClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new Error('ClusterClient needs at least one endpoint');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.clients = endpoints.map((url) => new DynakvClient(url, { timeoutMs }));
    this.suspectMs = options.suspectMs ?? DEFAULT_SUSPECT_MS;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get(key: string, options: { r?: number } = {}): Promise<ReadResult> {
    return this.withFailover((c) => c.get(key, options));
  }

  put(key: string, value: Uint8Array | string, options: { context?: string; contentType?: string; w?: number } = {}): Promise<string> {
    return this.withFailover((c) => c.put(key, value, options));
  }

  delete(key: string, options: { context?: string; w?: number } = {}): Promise<void> {
    return this.withFailover((c) => c.delete(key, options));
  }

  /** Whether requests currently avoid this endpoint (it failed within the last suspectMs). */
  isSuspect(endpoint: string): boolean {
    return (this.suspectUntilMs.get(endpoint) ?? 0) > this.nowMs();
  }

  /** Endpoints in the order the next request tries them: round robin, suspects last. */
  order(): DynakvClient[] {
    const start = this.next++ % this.clients.length;
    const rotated = [...this.clients.slice(start), ...this.clients.slice(0, start)];
    return [...rotated.filter((c) => !this.isSuspect(c.baseUrl)), ...rotated.filter((c) => this.isSuspect(c.baseUrl))];
  }

  private async withFailover<T>(request: (client: DynakvClient) => Promise<T>): Promise<T> {
    const attempts: Attempt[] = [];
    for (const client of this.order()) {
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
