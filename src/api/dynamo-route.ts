// The DynamoDB API's HTTP door: `POST /` with `X-Amz-Target: DynamoDB_20120810.<Operation>` and a
// JSON 1.0 body, answered in DynamoDB's shapes (src/dynamo/protocol.ts) by the executor
// (src/dynamo/executor.ts), which reaches the node through its front door only. On a secure node
// every request must carry an AWS Signature Version 4 by an access key of this cluster
// (src/security/access-keys.ts; CreateTable and DeleteTable need an admin key); with --insecure
// any signature, or none, is accepted, as DynamoDB Local does. Bodies are read before the
// signature can be checked (it covers them), so unauthenticated bodies in flight share one
// budget (PRE_AUTH_BODY_BYTES_MAX) past which requests are refused unread.
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
import { originAllowed, setDefaultHeaders } from './request-guard.ts';

/** Request bodies read before their signature could be checked, summed over all connections. */
export const PRE_AUTH_BODY_BYTES_MAX = 64 * 1024 * 1024;
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

export function dynamoRoute(options: DynamoRouteOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { node, log, secure } = options;
  const executor = new DynamoExecutor({
    front: node, nowMs: () => Date.now(), monotonicMs: () => performance.now(), randomBytes: (n) => randomBytes(n),
    onPurgeFailed: (table, err) => log.warn({ err, table }, 'could not delete every item of a deleted table; the rest stays as unreachable garbage'),
  });
  const lookupSecret = accessKeyLookup(node.config.clusterSecret);
  const signingKeys = new SigningKeyCache();
  let preAuthBytes = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<{ response: DynamoResponse; operation: string }> => {
    let contentType: ResponseContentType = AMZ_JSON_CONTENT_TYPE;
    let operation = 'unknown';
    try {
      contentType = parseContentType(req.headers['content-type']);
      const declared = Number(req.headers['content-length'] ?? REQUEST_BODY_BYTES_MAX);
      const reserve = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, REQUEST_BODY_BYTES_MAX) : REQUEST_BODY_BYTES_MAX;
      if (secure && preAuthBytes + reserve > PRE_AUTH_BODY_BYTES_MAX) {
        req.resume();
        throw new DynamoError('ProvisionedThroughputExceededException', 'too many unauthenticated request bodies in flight on this node; retry');
      }
      if (secure) preAuthBytes += reserve;
      let body: Uint8Array;
      try {
        body = await readBody(req, REQUEST_BODY_BYTES_MAX);
      } catch (err) {
        if (err instanceof BodyTooLarge) throw new DynamoError('ValidationException', `Request body exceeds the maximum of ${REQUEST_BODY_BYTES_MAX} bytes`);
        throw err;
      } finally {
        if (secure) preAuthBytes -= reserve;
      }
      let admin = true;
      if (secure) {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const verified = verifySigV4(
          { method: req.method ?? 'POST', path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers: req.headers, body },
          { nowMs: Date.now(), lookupSecret, signingKeys },
        );
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
      const result = await executor.execute(op);
      return { response: successResponse(result, requestId, contentType), operation };
    } catch (err) {
      if (isDynamoError(err)) return { response: errorResponse(err, requestId, contentType), operation };
      // The node's own errors (a quorum not reached in time, a node not serving yet) are
      // transient for a client: InternalServerError, which the SDKs retry with backoff.
      const e = err as Error & { code?: unknown };
      const known = typeof e.code === 'string';
      if (!known) log.error({ err, operation }, 'DynamoDB request failed');
      const message = known ? `${String(e.code)}: ${e.message}` : 'internal error';
      return { response: errorResponse(new DynamoError('InternalServerError', message), requestId, contentType), operation };
    }
  };

  return (req, res) => {
    const startedAt = process.hrtime.bigint();
    setDefaultHeaders(res);
    const requestId = randomUUID();
    if (!originAllowed(req, secure ? 'https' : 'http')) {
      options.admitted(req, res, false);
      req.resume();
      send(res, refusal(400, 'AccessDeniedException', 'cross-origin requests are refused', requestId, AMZ_JSON_CONTENT_TYPE));
      return;
    }
    void handle(req, res, requestId).then(({ response, operation }) => {
      send(res, response);
      const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
      const errorType = response.status === 200 ? undefined : typeOf(response.body);
      options.observe?.(operation, response.status, startedAt, errorType);
      if (ms >= SLOW_REQUEST_MS) log.warn({ operation, status: response.status, ms: Math.round(ms), ...(errorType !== undefined ? { errorType } : {}) }, 'slow DynamoDB request');
    });
  };
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

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new BodyTooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    req.on('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes));
    });
    req.on('error', reject);
    // A client gone mid-body: settle, so its share of the pre-auth budget is returned.
    req.on('close', () => {
      if (!ended) reject(new Error('the client closed the request before its body ended'));
    });
  });
}
