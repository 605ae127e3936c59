// The client data routes, GET/HEAD/PUT/DELETE /kv/<key>, answered on bare node:http ahead of
// fastify: they are every request under load, and fastify's routing, hooks and reply pipeline
// cost a measurable share of a node's CPU per request (see BENCHMARKS.md). Same contract as the
// rest of the API: validation here, errors as JSON {"error": "..."} with the status from
// error-status.ts, and no input may crash the process. Everything else goes to fastify.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { NodeFrontDoor } from '../node/front-door.ts';
import { clientKeyProblem } from '../protocol/messages.ts';
import { distinctValues, type Sibling } from '../version/siblings.ts';
import type { AnswerBudget } from './answer-budget.ts';
import { ApiError, statusOf } from './error-status.ts';

export const CONTEXT_HEADER = 'x-dynakv-context';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const KV_PREFIX = '/kv/';
/** A /kv request that took this long is logged as a warning (slow-request log). */
export const SLOW_REQUEST_MS = 1_000;

/**
 * Called once per answered /kv request (for metrics); `op` is the HTTP method, `errorCode` the
 * stable code of the error answered, if any (e.g. QUORUM_FAILED).
 */
export type KvRequestObserver = (op: string, status: number, startedAt: bigint, errorCode?: string) => void;

export interface KvRoutesOptions {
  readonly node: NodeFrontDoor;
  readonly log: FastifyBaseLogger;
  readonly observe?: KvRequestObserver;
  /** Requests that take at least this long are logged as warnings; default SLOW_REQUEST_MS. */
  readonly slowRequestMs?: number;
  /** The node's budget for answer bytes not yet taken by clients; reads past it answer 503. Default: none. */
  readonly answers?: AnswerBudget;
}

/** Returns a handler that answers /kv/ requests and returns false for every other path. */
export function kvRoutes({ node, log, observe, slowRequestMs = SLOW_REQUEST_MS, answers }: KvRoutesOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith(KV_PREFIX)) return false;
    const startedAt = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    const finish = (status: number, errorCode?: string) => {
      observe?.(method, status, startedAt, errorCode);
      const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
      if (ms >= slowRequestMs) log.warn({ op: method, path: url.slice(0, 100), status, ms: Math.round(ms), ...(errorCode !== undefined ? { errorCode } : {}) }, 'slow request');
    };
    handle(node, req, res, url, answers).then(finish, (err: unknown) => {
      const e = err as Error & { code?: unknown };
      const status = statusOf(e.code) ?? 500;
      if (status >= 500 && statusOf(e.code) === undefined) log.error({ err }, 'request failed');
      sendJson(res, status, { error: e.message });
      finish(status, typeof e.code === 'string' ? e.code : undefined);
    });
    return true;
  };
}

async function handle(node: NodeFrontDoor, req: IncomingMessage, res: ServerResponse, url: string, answers: AnswerBudget | undefined): Promise<number> {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  const params = query < 0 ? NO_PARAMS : new URLSearchParams(url.slice(query + 1));
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      const key = keyOf(path);
      const { siblings, context } = await node.get(key, quorumParam(params, 'r'));
      return sendRead(req, res, siblings, context, answers);
    }
    case 'PUT': {
      const key = keyOf(path);
      const w = quorumParam(params, 'w');
      const context = contextOf(req);
      const contentType = contentTypeOf(req);
      const value = await readBody(req, node.config.valueBytesMax);
      const encoded = await node.put({ key, value, contentType, context, ...(w !== undefined ? { w } : {}) });
      res.setHeader(CONTEXT_HEADER, encoded);
      return sendJson(res, 200, { context: encoded });
    }
    case 'DELETE': {
      const key = keyOf(path);
      const w = quorumParam(params, 'w');
      const encoded = await node.delete({ key, context: contextOf(req), ...(w !== undefined ? { w } : {}) });
      res.setHeader(CONTEXT_HEADER, encoded);
      res.writeHead(204).end();
      return 204;
    }
    default:
      throw new ApiError('NOT_FOUND', `no route ${req.method} ${path}`);
  }
}

function keyOf(path: string): string {
  let key: string;
  try {
    key = decodeURIComponent(path.slice(KV_PREFIX.length));
  } catch {
    throw new ApiError('KEY_INVALID', 'key is not valid percent-encoded UTF-8');
  }
  return checkedKey(key);
}

/** `key` if it can be stored; otherwise an ApiError KEY_INVALID saying why. */
export function checkedKey(key: string): string {
  const problem = clientKeyProblem(key);
  if (problem !== undefined) throw new ApiError('KEY_INVALID', problem);
  return key;
}

/** The parameters of a URL without a query (most requests): none, and nothing to parse. */
const NO_PARAMS: Pick<URLSearchParams, 'getAll'> = { getAll: () => [] };

function quorumParam(params: Pick<URLSearchParams, 'getAll'>, name: 'r' | 'w'): number | undefined {
  const values = params.getAll(name);
  if (values.length === 0) return undefined;
  const raw = values[0]!;
  if (values.length > 1 || !/^\d{1,3}$/.test(raw)) {
    throw new ApiError('BAD_QUORUM', `${name} must be a whole number, got ${JSON.stringify(values.length > 1 ? values : raw)}`);
  }
  return Number(raw); // the coordinator checks the range 1..N
}

/** The context header as sent ('' when absent); the node authenticates it. */
function contextOf(req: IncomingMessage): string {
  const header = req.headers[CONTEXT_HEADER];
  if (header === undefined) return '';
  if (Array.isArray(header)) throw new ApiError('BAD_CONTEXT', `send one ${CONTEXT_HEADER} header`);
  return header.trim();
}

/** Longest Content-Type stored with a value: it is served back as a header on every read. */
export const CONTENT_TYPE_CHARS_MAX = 256;

/** The value's content type: printable ASCII within CONTENT_TYPE_CHARS_MAX (it is stored and served back). */
function contentTypeOf(req: IncomingMessage): string {
  const header = req.headers['content-type'];
  if (header === undefined || header === '') return DEFAULT_CONTENT_TYPE;
  if (header.length > CONTENT_TYPE_CHARS_MAX || !/^[\x20-\x7e]+$/.test(header)) {
    throw new ApiError('BAD_REQUEST', `content-type must be at most ${CONTENT_TYPE_CHARS_MAX} printable ASCII characters`);
  }
  return header;
}

/** The request body, refused with 413 past `limit` bytes (declared or actually sent). */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const tooLarge = () => new ApiError('VALUE_TOO_LARGE', `value is larger than ${limit} bytes`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume(); // discard the body, so the connection stays usable
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes)));
    req.on('error', reject);
  });
}

function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  // Most clients send none, or the wildcard.
  if (accept === undefined || accept === '*/*') return false;
  return accept.split(',').some((part) => part.trim().split(';')[0]?.trim() === 'application/json');
}

function sendRead(req: IncomingMessage, res: ServerResponse, siblings: readonly Sibling[], context: string, answers: AnswerBudget | undefined): number {
  const live = distinctValues(siblings);
  if (context !== '') res.setHeader(CONTEXT_HEADER, context);
  if (live.length === 0) return sendJson(res, 404, { error: 'not found', ...(context !== '' ? { context } : {}) });
  let body: Buffer;
  let contentType: string;
  if (live.length === 1 && !wantsJson(req)) {
    const only = live[0]!;
    body = Buffer.from(only.value!.buffer, only.value!.byteOffset, only.value!.byteLength);
    contentType = only.contentType;
  } else {
    // Bytes, not a string: only one copy is then held while a slow client reads it.
    body = Buffer.from(JSON.stringify({ context, siblings: live.map((s) => ({ value: Buffer.from(s.value!).toString('base64'), contentType: s.contentType })) }));
    contentType = 'application/json; charset=utf-8';
  }
  if (answers !== undefined && !answers.hold(res, body.length)) return sendBusy(res);
  res.writeHead(live.length === 1 ? 200 : 300, { 'content-type': contentType, 'content-length': body.length });
  writeBody(res, body); // node:http sends no body for HEAD
  return live.length === 1 ? 200 : 300;
}

/** Larger answers are written this much at a time, as the client takes them. */
export const ANSWER_CHUNK_BYTES = 64 * 1024;

/**
 * Writes `body` a chunk at a time as the socket drains, so a client that reads slowly (or not at
 * all) makes the node hold the answer once (counted by AnswerBudget), not also a copy of all of
 * it queued in the socket and, on HTTPS, all of it encrypted once more.
 */
function writeBody(res: ServerResponse, body: Buffer): void {
  if (body.length <= ANSWER_CHUNK_BYTES) {
    res.end(body);
    return;
  }
  let offset = 0;
  const pump = () => {
    while (offset < body.length) {
      const end = Math.min(offset + ANSWER_CHUNK_BYTES, body.length);
      const flowing = res.write(body.subarray(offset, end));
      offset = end;
      if (!flowing && offset < body.length) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** The answer when the node's answer budget is spent (AnswerBudget). */
export const BUSY_MESSAGE = 'this node holds too many answer bytes its clients have not taken yet (httpAnswerBytesMax); retry later';

function sendBusy(res: ServerResponse): number {
  res.setHeader('retry-after', '1');
  res.removeHeader(CONTEXT_HEADER);
  return sendJson(res, 503, { error: BUSY_MESSAGE });
}

function sendJson(res: ServerResponse, status: number, body: unknown): number {
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return status;
}
