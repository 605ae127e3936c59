// The client HTTP API of one node (fastify): the /kv routes coordinate through the node's
// Coordinator, /local and /cluster show this node's own view. Validation lives here; every
// error answers JSON {"error": "..."} with the status from error-status.ts, and no input may
// crash the process.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino } from 'pino';
import type { DynakvNode } from '../node/node.ts';
import { isValidKey, KEY_BYTES_MAX } from '../protocol/messages.ts';
import { decodeContext, encodeContext } from '../version/context.ts';
import { distinctValues, joinClocks, type Sibling } from '../version/siblings.ts';
import { ApiError, statusOf } from './error-status.ts';
import { membersView, ringView, siblingView } from './views.ts';

export const CONTEXT_HEADER = 'x-dynakv-context';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export interface HttpServerOptions {
  readonly node: DynakvNode;
  readonly logger?: FastifyBaseLogger;
}

export function buildHttpServer({ node, logger }: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger ?? pino({ level: 'silent' }),
    // Keys may be 1024 UTF-8 bytes, percent-encoded up to 9 characters each; longer params must
    // reach our validator (400), not fall through to the router's 404.
    routerOptions: { maxParamLength: 16 * KEY_BYTES_MAX },
    bodyLimit: node.config.valueBytesMax,
    // Per-request logs would dwarf everything else at thousands of requests per second.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // Values are opaque bytes whatever their Content-Type, so one raw parser serves all.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { code?: unknown; statusCode?: number }, request, reply) => {
    let status = statusOf(err.code) ?? err.statusCode ?? 500;
    let message = err.message;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      message = `value is larger than ${node.config.valueBytesMax} bytes`;
    }
    if (status >= 500 && statusOf(err.code) === undefined) request.log.error({ err }, 'request failed');
    void reply.code(status).header('content-type', 'application/json').send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  app.get('/health', async () => ({ status: 'ok', node: node.id }));

  app.get('/kv/*', async (request, reply) => {
    const key = keyOf(request);
    const r = quorumParam(request, 'r');
    const { siblings } = await node.coordinator.get(key, r);
    return sendRead(request, reply, siblings);
  });

  app.put('/kv/*', async (request, reply) => {
    const key = keyOf(request);
    const w = quorumParam(request, 'w');
    const value = bodyOf(request);
    const contentType = request.headers['content-type'] ?? DEFAULT_CONTENT_TYPE;
    const clock = await node.coordinator.put({ key, value, contentType, context: contextOf(request), w });
    const context = encodeContext(clock);
    return reply.header(CONTEXT_HEADER, context).send({ context });
  });

  app.delete('/kv/*', async (request, reply) => {
    const key = keyOf(request);
    const w = quorumParam(request, 'w');
    const clock = await node.coordinator.put({ key, value: null, contentType: '', context: contextOf(request), w });
    return reply.header(CONTEXT_HEADER, encodeContext(clock)).code(204).send();
  });

  app.get('/local/kv/*', async (request, reply) => {
    const key = keyOf(request);
    const siblings = node.store.read(key);
    if (siblings.length === 0) return reply.code(404).send({ error: `node ${node.id} holds no version of this key` });
    return { node: node.id, key, context: encodeContext(joinClocks(siblings)), siblings: siblings.map(siblingView) };
  });

  app.get('/local/stats', async () => node.stats());

  app.get('/local/keys', async (request) => {
    const q = request.query as Record<string, unknown>;
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ApiError('BAD_REQUEST', 'limit must be 1..10000');
    if (q.start !== undefined && typeof q.start !== 'string') throw new ApiError('BAD_REQUEST', 'start must be a string');
    const page = node.store.keys(q.start as string | undefined, limit + 1);
    return { keys: page.slice(0, limit), next: page[limit] ?? null };
  });

  app.get('/cluster/ring', async () => {
    const ring = node.ring();
    if (ring === undefined) throw new ApiError('NO_RING', `node ${node.id} has not learned the ring yet`);
    return ringView(ring, node.config.n);
  });

  app.get('/cluster/members', async () => membersView(node));

  app.post('/cluster/members', async (request) => {
    const body = parseJsonBody(request);
    const { id, peer, http } = body;
    if (typeof id !== 'string' || typeof peer !== 'string' || (http !== undefined && typeof http !== 'string')) {
      throw new ApiError('BAD_REQUEST', 'expected JSON {"id": "...", "peer": "HOST:PORT", "http": "HOST:PORT"}');
    }
    const record = node.membership.addMember(id, peer, http ?? '');
    return { added: record };
  });

  app.delete('/cluster/members/:id', async (request) => {
    const { id } = request.params as { id: string };
    return { removed: node.membership.removeMember(id) };
  });

  return app;
}

function keyOf(request: FastifyRequest): string {
  const key = (request.params as Record<string, string | undefined>)['*'] ?? '';
  if (key.length === 0) throw new ApiError('KEY_INVALID', 'key is empty');
  if (!isValidKey(key)) throw new ApiError('KEY_INVALID', `key is longer than ${KEY_BYTES_MAX} UTF-8 bytes`);
  return key;
}

function quorumParam(request: FastifyRequest, name: 'r' | 'w'): number | undefined {
  const raw = (request.query as Record<string, unknown>)[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,3}$/.test(raw)) {
    throw new ApiError('BAD_QUORUM', `${name} must be a whole number, got ${JSON.stringify(raw)}`);
  }
  return Number(raw); // the coordinator checks the range 1..N
}

function contextOf(request: FastifyRequest) {
  const header = request.headers[CONTEXT_HEADER];
  if (header === undefined) return decodeContext('');
  if (Array.isArray(header)) throw new ApiError('BAD_CONTEXT', `send one ${CONTEXT_HEADER} header`);
  try {
    return decodeContext(header.trim());
  } catch (err) {
    throw new ApiError('BAD_CONTEXT', `malformed ${CONTEXT_HEADER}: ${(err as Error).message}`);
  }
}

function bodyOf(request: FastifyRequest): Uint8Array {
  const body = request.body;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  throw new ApiError('BAD_REQUEST', 'request body could not be read as bytes');
}

function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.split(',').some((part) => part.trim().split(';')[0]?.trim() === 'application/json');
}

function sendRead(request: FastifyRequest, reply: FastifyReply, siblings: readonly Sibling[]) {
  const context = encodeContext(joinClocks(siblings));
  const live = distinctValues(siblings);
  if (context !== '') void reply.header(CONTEXT_HEADER, context);
  if (live.length === 0) return reply.code(404).send({ error: 'not found', ...(context !== '' ? { context } : {}) });
  if (live.length === 1 && !wantsJson(request)) {
    const only = live[0]!;
    return reply.code(200).header('content-type', only.contentType).send(Buffer.from(only.value!));
  }
  return reply.code(live.length === 1 ? 200 : 300).send({
    context,
    siblings: live.map((s) => ({ value: Buffer.from(s.value!).toString('base64'), contentType: s.contentType })),
  });
}

function parseJsonBody(request: FastifyRequest): Record<string, unknown> {
  const raw = bodyOf(request);
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw).toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new ApiError('BAD_REQUEST', 'request body must be a JSON object');
}
