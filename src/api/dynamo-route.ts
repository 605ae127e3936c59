// The DynamoDB API's HTTP door: `POST /` with `X-Amz-Target: DynamoDB_20120810.<Operation>` and a
// JSON 1.0 body, answered in DynamoDB's shapes (src/dynamo/protocol.ts) by the executor
// (src/dynamo/executor.ts), which reaches the node through its front door only. On a secure node
// every request must carry an AWS Signature Version 4 by an access key of this cluster
// (src/security/access-keys.ts; CreateTable and DeleteTable need an admin key); with --insecure
// any signature, or none, is accepted, as DynamoDB Local does. Everything the headers decide is
// checked before the body is read (form, date, scope, an access key this cluster minted); the
// body, which the signature covers, is read next, its bytes charged as they arrive: on a
// connection that has not authenticated yet against PRE_AUTH_BODY_BYTES_MAX in all and
// PRE_AUTH_BODY_BYTES_PER_ADDRESS_MAX per address group (IPv6 by /64), small bodies against a
// share of their own, otherwise against BODY_BYTES_MAX. Past a budget the request is refused and
// its body discarded. Answers count against the node's answer budget; a client gone before its
// answer gets none, and its Query, Scan or batch stops.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { NodeFrontDoor } from '../node/front-door.ts';
import { DynamoError, isDynamoError } from '../dynamo/errors.ts';
import { DynamoExecutor } from '../dynamo/executor.ts';
import { parseOperation, type DynamoOperation } from '../dynamo/operations.ts';
import {
  AMZ_JSON_CONTENT_TYPE, errorResponse, parseBody, parseContentType, parseTarget, REQUEST_BODY_BYTES_MAX, respond, successResponse, type DynamoResponse,
  type ResponseContentType,
} from '../dynamo/protocol.ts';
import { accessKeyLookup, roleOfAccessKey } from '../security/access-keys.ts';
import { SigningKeyCache, verifySigV4 } from '../security/sigv4.ts';
import { assert } from '../env/assert.ts';
import { LogLimiter } from '../env/log-limiter.ts';
import type { AnswerBudget } from './answer-budget.ts';
import { originAllowed, setDefaultHeaders } from './request-guard.ts';

const EMPTY = new Uint8Array(0);

/** Body bytes in flight on connections that have not authenticated yet, over all of them. */
export const PRE_AUTH_BODY_BYTES_MAX = 64 * 1024 * 1024;
/** The same per remote address: one largest body, and a little room. */
export const PRE_AUTH_BODY_BYTES_PER_ADDRESS_MAX = REQUEST_BODY_BYTES_MAX + 64 * 1024;
/** A body declared at most this long (Content-Length) is small: what most first requests are. */
export const SMALL_BODY_BYTES_MAX = 64 * 1024;
/** Small bodies on connections not yet authenticated: their own share, in all and per address group. */
export const PRE_AUTH_SMALL_BODIES_BYTES_MAX = 16 * 1024 * 1024;
export const PRE_AUTH_SMALL_BODIES_BYTES_PER_ADDRESS_MAX = 1024 * 1024;
/** Body bytes in flight on authenticated connections (and every connection of an --insecure node). */
export const BODY_BYTES_MAX = 512 * 1024 * 1024;
/** Operations that change the set of tables: an admin access key only. */
const ADMIN_OPERATIONS: ReadonlySet<DynamoOperation['kind']> = new Set(['CreateTable', 'DeleteTable']);
/** Requests slower than this are logged as warnings. */
const SLOW_REQUEST_MS = 1_000;

export interface DynamoRouteOptions {
  readonly node: NodeFrontDoor;
  readonly log: FastifyBaseLogger;
  /** Secure: signatures are checked with access keys derived from the node's cluster secret. */
  readonly secure: boolean;
  /** Told whether the request authenticated, before it is answered; returns 'full' to refuse it (ConnectionDoor). */
  readonly admitted: (req: IncomingMessage, res: ServerResponse, authenticated: boolean) => 'ok' | 'full';
  /** Whether the request's connection has not authenticated yet (ConnectionDoor). */
  readonly isPreAuth: (req: IncomingMessage) => boolean;
  /** The node's budget for answer bytes not yet taken by clients (shared with /kv); past it, a retryable error. */
  readonly answers?: AnswerBudget;
  /** Told of every answered request (metrics): the operation, the HTTP status and the error type, if any. */
  readonly observe?: (operation: string, status: number, startedAt: bigint, errorType?: string) => void;
}

/** Whether a request is for the DynamoDB door: POST to `/`. */
export function isDynamoRequest(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  return url === '/' || url.startsWith('/?');
}

class BodyTooLarge extends Error {}
/** The client closed the request before its body ended: nobody to answer, nothing to log. */
class ClientGone extends Error {}
class BudgetExceeded extends Error {}

/** Body bytes in flight, charged as they arrive, in all and per remote address. */
export class BodyBudget {
  private total = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(
    readonly totalMax: number,
    readonly perAddressMax: number,
  ) {}

  /** Charges `bytes` to `address`; false, charging nothing, if that would pass a limit. */
  charge(address: string, bytes: number): boolean {
    const mine = this.byAddress.get(address) ?? 0;
    if (this.total + bytes > this.totalMax || mine + bytes > this.perAddressMax) return false;
    this.total += bytes;
    this.byAddress.set(address, mine + bytes);
    return true;
  }

  release(address: string, bytes: number): void {
    const mine = (this.byAddress.get(address) ?? 0) - bytes;
    assert(mine >= 0 && this.total - bytes >= 0, 'BodyBudget: released more than was charged');
    this.total -= bytes;
    if (mine === 0) this.byAddress.delete(address);
    else this.byAddress.set(address, mine);
  }

  get inFlight(): number {
    return this.total;
  }
}

export function dynamoRoute(options: DynamoRouteOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { node, log, secure } = options;
  const executor = new DynamoExecutor({
    front: node, nowMs: () => Date.now(), monotonicMs: () => performance.now(), randomBytes: (n) => randomBytes(n),
    onPurgeFailed: (table, err) => log.warn({ err, table }, 'could not delete every item of a deleted table; the rest stays as unreachable garbage'),
    onCorruptItem: (storageKey, err) => warnings.warn('corrupt-item', { key: JSON.stringify(storageKey.slice(0, 120)), reason: err.message }, 'a stored DynamoDB item version does not decode: left out of reads, superseded by the next write'),
  });
  const lookupSecret = accessKeyLookup(node.config.clusterSecret);
  const signingKeys = new SigningKeyCache();
  const warnings = new LogLimiter(log);
  const preAuthBodies = new BodyBudget(PRE_AUTH_BODY_BYTES_MAX, PRE_AUTH_BODY_BYTES_PER_ADDRESS_MAX);
  // Small bodies have their own share, so large ones cannot starve a new client's first request.
  const preAuthSmallBodies = new BodyBudget(PRE_AUTH_SMALL_BODIES_BYTES_MAX, PRE_AUTH_SMALL_BODIES_BYTES_PER_ADDRESS_MAX);
  const bodies = new BodyBudget(BODY_BYTES_MAX, BODY_BYTES_MAX);

  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<{ response: DynamoResponse; operation: string }> => {
    let contentType: ResponseContentType = AMZ_JSON_CONTENT_TYPE;
    let operation = 'unknown';
    try {
      contentType = parseContentType(req.headers['content-type']);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const wire = { method: req.method ?? 'POST', path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers: req.headers };
      if (secure) {
        // What the headers alone decide, before a byte of the body is read.
        const early = verifySigV4({ ...wire, body: EMPTY }, { nowMs: Date.now(), lookupSecret, headersOnly: true });
        if (!early.ok) {
          options.admitted(req, res, false);
          req.resume();
          return { response: refusal(400, early.code, early.message, requestId, contentType), operation };
        }
      }
      const declared = Number(req.headers['content-length'] ?? Number.NaN);
      const small = Number.isSafeInteger(declared) && declared <= SMALL_BODY_BYTES_MAX;
      const budget = secure && options.isPreAuth(req) ? (small ? preAuthSmallBodies : preAuthBodies) : bodies;
      let body: Uint8Array;
      try {
        body = await readBody(req, REQUEST_BODY_BYTES_MAX, budget, addressGroup(req.socket.remoteAddress));
      } catch (err) {
        if (err instanceof BodyTooLarge) throw new DynamoError('ValidationException', `Request body exceeds the maximum of ${REQUEST_BODY_BYTES_MAX} bytes`);
        if (err instanceof BudgetExceeded) throw new DynamoError('ProvisionedThroughputExceededException', 'too many request bodies in flight on this node; retry');
        throw err;
      }
      let admin = true;
      if (secure) {
        const verified = verifySigV4({ ...wire, body }, { nowMs: Date.now(), lookupSecret, signingKeys });
        if (options.admitted(req, res, verified.ok) === 'full') return { response: full(res, requestId, contentType), operation };
        if (!verified.ok) return { response: refusal(400, verified.code, verified.message, requestId, contentType), operation };
        admin = roleOfAccessKey(verified.accessKeyId) === 'admin';
      } else if (options.admitted(req, res, true) === 'full') {
        return { response: full(res, requestId, contentType), operation };
      }
      const name = parseTarget(header(req, 'x-amz-target'));
      operation = name;
      const op = parseOperation(name, parseBody(body));
      if (!admin && ADMIN_OPERATIONS.has(op.kind)) {
        return { response: refusal(400, 'AccessDeniedException', `${op.kind} needs an admin access key (dynakv certs create-access-key --role admin)`, requestId, contentType), operation };
      }
      const result = await executor.execute(op, () => res.destroyed);
      return { response: successResponse(result, requestId, contentType), operation };
    } catch (err) {
      if (isDynamoError(err)) return { response: errorResponse(err, requestId, contentType), operation };
      // The node's own errors (a quorum not reached in time, a node not serving yet) are
      // transient for a client: InternalServerError, which the SDKs retry with backoff.
      const e = err as Error & { code?: unknown };
      // The node's own operating errors carry a code; a broken invariant (ASSERTION) is ours, logged, never shown.
      const known = typeof e.code === 'string' && e.code !== 'ASSERTION';
      if (err instanceof ClientGone) return { response: refusal(400, 'RequestAborted', err.message, requestId, contentType), operation };
      if (!known) log.error({ err, operation }, 'DynamoDB request failed');
      const message = known ? `${String(e.code)}: ${e.message}` : 'internal error';
      return { response: errorResponse(new DynamoError('InternalServerError', message), requestId, contentType), operation };
    }
  };

  return (req, res) => {
    const startedAt = process.hrtime.bigint();
    if (res.destroyed) return;
    setDefaultHeaders(res);
    const requestId = randomUUID();
    if (!originAllowed(req, secure ? 'https' : 'http')) {
      options.admitted(req, res, false);
      req.resume();
      send(res, refusal(400, 'AccessDeniedException', 'cross-origin requests are refused', requestId, AMZ_JSON_CONTENT_TYPE));
      return;
    }
    void handle(req, res, requestId).then(({ response: answer, operation }) => {
      // The client is gone: nothing to send, nothing to hold.
      if (res.destroyed) return;
      let response = answer;
      // An answer counts against the node's answer budget until its client has taken it.
      if (options.answers !== undefined && !res.headersSent && !options.answers.hold(res, Buffer.byteLength(response.body))) {
        res.setHeader('retry-after', '1');
        response = refusal(500, 'ServiceUnavailable', 'this node holds too many answers its clients have not taken; retry', requestId, AMZ_JSON_CONTENT_TYPE);
      }
      send(res, response);
      const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
      const errorType = response.status === 200 ? undefined : typeOf(response.body);
      options.observe?.(operation, response.status, startedAt, errorType);
      if (ms >= SLOW_REQUEST_MS) log.warn({ operation, status: response.status, ms: Math.round(ms), ...(errorType !== undefined ? { errorType } : {}) }, 'slow DynamoDB request');
    });
  };
}

/**
 * The group an address's budget is kept by: an IPv4 address itself, an IPv6 address by its /64
 * (one host usually holds a whole /64).
 */
export function addressGroup(address: string | undefined): string {
  if (address === undefined) return '?';
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4 !== null) return v4[1]!;
  if (!address.includes(':')) return address;
  // Expand '::' to get the first four groups of an IPv6 address.
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...headGroups, ...new Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function typeOf(body: string): string | undefined {
  try {
    const type = (JSON.parse(body) as { __type?: unknown }).__type;
    return typeof type === 'string' ? type.slice(type.indexOf('#') + 1) : undefined;
  } catch {
    return undefined;
  }
}

/** An error answer of a type the DynamoError table does not hold (authentication, access). */
function refusal(status: 400 | 500, type: string, message: string, requestId: string, contentType: ResponseContentType): DynamoResponse {
  return respond(status, JSON.stringify({ __type: `com.amazon.coral.service#${type}`, message }), requestId, contentType);
}

/** The answer when the node has httpConnectionsMax connections established: a retryable 500, and the connection closed. */
function full(res: ServerResponse, requestId: string, contentType: ResponseContentType): DynamoResponse {
  res.shouldKeepAlive = false;
  return refusal(500, 'ServiceUnavailable', 'this node has no room for another client connection; retry later', requestId, contentType);
}

function send(res: ServerResponse, response: DynamoResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}

function readBody(req: IncomingMessage, limit: number, budget: BodyBudget, address: string): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new BodyTooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const settle = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      budget.release(address, bytes);
      if (error === undefined) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes));
      else {
        chunks.length = 0;
        req.removeAllListeners('data');
        req.resume();
        reject(error);
      }
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (bytes + chunk.length > limit) return settle(new BodyTooLarge());
      if (!budget.charge(address, chunk.length)) return settle(new BudgetExceeded());
      bytes += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => settle(undefined));
    req.on('error', () => settle(new ClientGone('the request failed before its body ended')));
    // A client gone mid-body: settle, so its bytes are given back.
    req.on('close', () => settle(new ClientGone('the client closed the request before its body ended')));
  });
}
