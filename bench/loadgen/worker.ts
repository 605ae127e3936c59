// A load-generator child process: receives phase jobs over IPC, drives closed-loop clients over
// keep-alive undici Pools (one per endpoint, kept across phases), and answers latency
// histograms, error counts, a success timeline and its own CPU use. It owns no cluster and
// exits when its parent goes away, so an interrupted benchmark leaves no generator behind.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { ScrambledZipfian, seededRandom, WORKLOADS, type OpKind } from '../workloads.ts';
import { DynakvAdapter, EtcdAdapter, type Adapter, type Outcome } from './adapters.ts';
import { EndpointRouter } from './ring-router.ts';
import { FAILOVER_PREFIX } from './protocol.ts';
import { PHASE_DURATION_MS_MAX, TIMELINE_BUCKET_MS, type ClientTls, type FromWorker, type Job, type LoadJob, type PhaseResult, type RunJob, type ToWorker, type WindowTally } from './protocol.ts';

/** Latencies above this are clamped (requests time out well before). */
const LATENCY_US_MAX = 120_000_000;
/** Pause after a failed request, so a client facing instant refusals does not spin (both systems). */
export const FAILURE_PAUSE_MS = 10;
/** Keep-alive connections outlive the pauses between phases. */
const KEEP_ALIVE_MS = 60_000;

function send(message: FromWorker): void {
  process.send?.(message);
}

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 });
}

class Tally {
  private readonly histograms = new Map<OpKind, hdr.Histogram>();
  private readonly errors = new Map<string, number>();

  ok(op: OpKind, latencyUs: number): void {
    let h = this.histograms.get(op);
    if (h === undefined) this.histograms.set(op, (h = newHistogram()));
    h.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round(latencyUs))));
  }

  private failedHistogram: hdr.Histogram | undefined;

  /** A request failed at the transport level and the operation was retried on another node. */
  failover(kind: string): void {
    const key = `${FAILOVER_PREFIX}${kind}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  failed(kind: string, latencyUs: number): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
    this.failedHistogram ??= newHistogram();
    this.failedHistogram.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round(latencyUs))));
  }

  toWire(): WindowTally {
    const ops: WindowTally['ops'] = {};
    for (const [op, h] of this.histograms) ops[op] = { count: h.totalCount, histogram: hdr.encodeIntoCompressedBase64(h) };
    return {
      ops,
      errors: Object.fromEntries(this.errors),
      ...(this.failedHistogram === undefined ? {} : { failedHistogram: hdr.encodeIntoCompressedBase64(this.failedHistogram) }),
    };
  }
}

const pools = new Map<string, Pool>();
const adapters = new Map<string, Adapter>();

function poolFor(url: string, connections: number, tls: ClientTls | undefined): Pool {
  let pool = pools.get(url);
  if (pool === undefined) {
    // One connection per client at most: HTTP/1.1 without pipelining, like YCSB's clients.
    pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: KEEP_ALIVE_MS, keepAliveMaxTimeout: KEEP_ALIVE_MS, ...(tls !== undefined ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {}) });
    pools.set(url, pool);
  }
  return pool;
}

function adapterFor(job: Job): Adapter {
  const id = `${job.system}/${job.valueBytes}/${job.dynakvWrites}`;
  let adapter = adapters.get(id);
  if (adapter === undefined) {
    adapter = job.system === 'dynakv' ? new DynakvAdapter(job.valueBytes, job.dynakvWrites) : new EtcdAdapter(job.valueBytes);
    adapters.set(id, adapter);
  }
  return adapter;
}

/** Client-driven routing for dynakv jobs that ask for it; learned once per job. */
async function routerFor(job: Job): Promise<EndpointRouter | undefined> {
  return job.system === 'dynakv' && job.dynakvRouting === 'ring' ? EndpointRouter.fetch(job.endpoints, job.tls) : undefined;
}

function transportErrorKind(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return `error: ${String(e.message ?? err).slice(0, 60)}`;
}

const nowEpochMs = (): number => performance.timeOrigin + performance.now();

/** One request with failover: a transport error moves the client on to the next endpoint. */
async function attempt(adapter: Adapter, op: OpKind, pool: Pool, key: string, timeoutMs: number): Promise<Outcome & { transport?: boolean }> {
  try {
    return await (op === 'read' ? adapter.read(pool, key, timeoutMs) : adapter.update(pool, key, timeoutMs));
  } catch (err) {
    return { ok: false, kind: transportErrorKind(err), transport: true };
  }
}

async function runLoad(job: LoadJob): Promise<PhaseResult> {
  const adapter = adapterFor(job);
  const endpoints = job.endpoints.map((url) => poolFor(url, job.clients, job.tls));
  const tally = new Tally();
  const router = await routerFor(job);
  let next = job.from;
  let siblingReads = 0;
  const cpu = process.cpuUsage();
  const startedAtMs = nowEpochMs();
  const client = async (i: number) => {
    let endpoint = i % endpoints.length;
    while (next < job.to && Date.now() < job.deadlineMs) {
      const key = `${job.keyPrefix}${next++}`;
      const t0 = performance.now();
      const target = router?.endpointFor(key, i + next, Date.now(), endpoint) ?? endpoint;
      const outcome = await attempt(adapter, 'update', endpoints[target]!, key, job.requestTimeoutMs);
      if (outcome.ok) {
        tally.ok('update', (performance.now() - t0) * 1000);
        if (outcome.siblings === true) siblingReads++;
      } else {
        tally.failed(outcome.kind, (performance.now() - t0) * 1000);
        if (outcome.transport === true) {
          router?.avoid(target, Date.now());
          endpoint = (endpoint + 1) % endpoints.length;
        }
        await sleep(FAILURE_PAUSE_MS);
      }
    }
  };
  await Promise.all(Array.from({ length: job.clients }, (_, i) => client(i)));
  const used = process.cpuUsage(cpu);
  return {
    phase: 'load',
    all: tally.toWire(),
    startedAtMs,
    endedAtMs: nowEpochMs(),
    cpuUserMs: used.user / 1000,
    cpuSystemMs: used.system / 1000,
    siblingReads,
  };
}

async function runWorkload(job: RunJob): Promise<PhaseResult> {
  if (job.durationMs > PHASE_DURATION_MS_MAX) throw new RangeError(`phase of ${job.durationMs} ms exceeds ${PHASE_DURATION_MS_MAX} ms`);
  const adapter = adapterFor(job);
  const endpoints = job.endpoints.map((url) => poolFor(url, job.clients, job.tls));
  const workload = WORKLOADS[job.workload];
  const zipf = new ScrambledZipfian(job.keys, job.keySeed);
  const all = new Tally();
  const before = new Tally();
  const during = new Tally();
  const timeline = new Uint32Array(Math.ceil(job.durationMs / TIMELINE_BUCKET_MS));
  const faultAtMs = job.faultAtMs;
  const faultEndMs = faultAtMs === undefined ? undefined : faultAtMs + (job.faultWindowMs ?? job.durationMs);
  const endAtMs = job.startAtMs + job.durationMs;
  let siblingReads = 0;
  const router = await routerFor(job);

  const waitMs = job.startAtMs - Date.now();
  if (waitMs > 0) await sleep(waitMs);
  const cpu = process.cpuUsage();
  const startedAtMs = nowEpochMs();

  const client = async (i: number) => {
    const random = seededRandom(job.seed * 1_000 + i);
    let endpoint = i % endpoints.length;
    let turn = i;
    while (nowEpochMs() < endAtMs) {
      const op: OpKind = random() < workload.readProportion ? 'read' : 'update';
      const key = `${job.keyPrefix}${zipf.next(random)}`;
      const startMs = nowEpochMs();
      const window = faultAtMs === undefined ? undefined : startMs < faultAtMs ? before : startMs < faultEndMs! ? during : undefined;
      // A request that failed at the transport level (refused, reset, timed out) is retried on
      // the next node, as a cluster-aware driver would (at-least-once); both systems alike.
      let target: number;
      let outcome: Outcome & { transport?: boolean };
      for (let tries = 1; ; tries++) {
        target = router?.endpointFor(key, turn++, nowEpochMs(), endpoint) ?? endpoint;
        outcome = await attempt(adapter, op, endpoints[target]!, key, job.requestTimeoutMs);
        if (outcome.ok || outcome.transport !== true || tries >= endpoints.length) break;
        router?.avoid(target, nowEpochMs());
        endpoint = (endpoint + 1) % endpoints.length;
        all.failover(outcome.kind);
        window?.failover(outcome.kind);
      }
      const doneMs = nowEpochMs();
      if (outcome.ok) {
        const latencyUs = (doneMs - startMs) * 1000;
        all.ok(op, latencyUs);
        window?.ok(op, latencyUs);
        if (outcome.siblings === true) siblingReads++;
        const bucket = Math.floor((doneMs - job.startAtMs) / TIMELINE_BUCKET_MS);
        if (bucket >= 0 && bucket < timeline.length) timeline[bucket]!++;
      } else {
        const latencyUs = (doneMs - startMs) * 1000;
        all.failed(outcome.kind, latencyUs);
        window?.failed(outcome.kind, latencyUs);
        if (outcome.transport === true) {
          router?.avoid(target, doneMs);
          endpoint = (endpoint + 1) % endpoints.length;
        }
        await sleep(FAILURE_PAUSE_MS);
      }
    }
  };
  await Promise.all(Array.from({ length: job.clients }, (_, i) => client(i)));
  const used = process.cpuUsage(cpu);
  return {
    phase: 'run',
    all: all.toWire(),
    ...(faultAtMs === undefined ? {} : { beforeFault: before.toWire(), duringFault: during.toWire() }),
    timeline: Buffer.from(timeline.buffer, timeline.byteOffset, timeline.byteLength).toString('base64'),
    startedAtMs,
    endedAtMs: nowEpochMs(),
    cpuUserMs: used.user / 1000,
    cpuSystemMs: used.system / 1000,
    siblingReads,
  };
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToWorker) => {
  if (message.kind === 'exit') {
    void Promise.allSettled([...pools.values()].map((p) => p.destroy())).then(() => process.exit(0));
    return;
  }
  const { job } = message;
  (job.phase === 'load' ? runLoad(job) : runWorkload(job)).then(
    (result) => send({ kind: 'result', result }),
    (err: unknown) => send({ kind: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
send({ kind: 'ready' });
