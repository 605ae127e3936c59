// The client HTTP API of one node, through the node's front door (src/node/front-door.ts) alone:
// the /kv routes (kv-routes.ts, on bare node:http) read and write through it; fastify serves
// /local and /cluster, this node's own view; `POST /` is the DynamoDB API (dynamo-route.ts). Validation lives here; every error answers JSON
// {"error": "..."} with the status from error-status.ts, and no input may crash the process.
// The server itself is built here too: HTTPS with the node's certificate on a secure node, plain
// HTTP with --insecure, the limits of NodeConfig (http*), and one dispatch that runs the door's
// checks (request-guard.ts) before any route reads a request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { pino } from 'pino';
import type { NodeFrontDoor } from '../node/front-door.ts';
import { KEY_BYTES_MAX } from '../protocol/messages.ts';
import { ApiError, statusOf } from './error-status.ts';
import { BUSY_MESSAGE, checkedKey, kvRoutes, type KvRequestObserver } from './kv-routes.ts';
import { AnswerBudget } from './answer-budget.ts';
import { dynamoRoute, isDynamoRequest, type DynamoRouteOptions } from './dynamo-route.ts';
import { ConnectionDoor } from './connection-door.ts';
import { admit, type Admitted, type GuardOptions } from './request-guard.ts';
import { localStatsView, membersView, ringView, siblingView } from './views.ts';

/** The first key past every reserved one (they all start with U+0000, client keys never do). */
const AFTER_RESERVED_KEYS = '\u0001';
/** Keys listed per /local/keys page by default, and at most (a page is read in one go). */
const LOCAL_KEYS_PAGE_DEFAULT = 1_000;
const LOCAL_KEYS_PAGE_MAX = 10_000;

/**
 * A secure node's HTTP door (PEM): its certificate and key, and the cluster CA that client
 * certificates must chain to (src/security/certs.ts NodeCerts has these). Bearer tokens are
 * checked with the node's cluster secret (NodeConfig.clusterSecret).
 */
export interface HttpTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

export type DynamoRequestObserver = NonNullable<DynamoRouteOptions['observe']>;

export interface HttpServerOptions {
  readonly node: NodeFrontDoor;
  readonly logger?: FastifyBaseLogger;
  /** Told of every answered /kv request (metrics). */
  readonly observeKv?: KvRequestObserver;
  /** Told of every answered DynamoDB API request (metrics). */
  readonly observeDynamo?: DynamoRequestObserver;
  /** HTTPS and credentials; absent on an --insecure node (plain HTTP, no credentials). */
  readonly tls?: HttpTls;
}

export function buildHttpServer({ node, logger, observeKv, observeDynamo, tls }: HttpServerOptions): FastifyInstance {
  const log = logger ?? pino({ level: 'silent' });
  const answers = new AnswerBudget(node.config.httpAnswerBytesMax, log);
  const kv = kvRoutes({ node, log, answers, ...(observeKv !== undefined ? { observe: observeKv } : {}) });
  const guard: GuardOptions = tls === undefined ? { clusterSecret: undefined, scheme: 'http' } : { clusterSecret: node.config.clusterSecret, scheme: 'https' };
  const door = new ConnectionDoor(node.config, log);
  const dynamo = dynamoRoute({ node, log, secure: tls !== undefined, admitted: (req, res, authenticated) => door.admitted(req, res, authenticated), isPreAuth: (req) => door.isPreAuth(req), answers, ...(observeDynamo !== undefined ? { observe: observeDynamo } : {}) });
  const dispatch = (req: IncomingMessage, res: ServerResponse, fastify: (req: IncomingMessage, res: ServerResponse) => void) => {
    // The DynamoDB door checks its own credentials (AWS signatures), after reading the body they cover.
    if (isDynamoRequest(req)) {
      dynamo(req, res);
      return;
    }
    let admitted: Admitted;
    try {
      admitted = admit(req, res, guard);
    } catch (err) {
      const e = err as ApiError;
      door.admitted(req, res, false);
      // The body, if any, is discarded unread by node:http once the answer is sent.
      sendRefusal(res, statusOf(e.code) ?? 500, e.message, e.code === 'UNAUTHENTICATED');
      return;
    }
    // A credential (or, insecure, any request) makes the connection established, if there is room.
    if (door.admitted(req, res, tls === undefined || admitted.identity !== undefined) === 'full') {
      res.shouldKeepAlive = false;
      res.setHeader('retry-after', '1');
      sendRefusal(res, 503, `this node has ${node.config.httpConnectionsMax} client connections open (httpConnectionsMax); retry later`, false);
      return;
    }
    // The /kv routes are answered on bare node:http before fastify sees them (kv-routes.ts).
    if (!kv(req, res)) fastify(req, res);
  };
  const app = Fastify({
    loggerInstance: log,
    // fastify names its address https:// only when told; the server is ours either way.
    ...(tls !== undefined ? { https: {} } : {}),
    serverFactory: (handler) => {
      const server = createLimitedServer(node.config, tls, (req, res) => dispatch(req, res, handler));
      door.attach(server);
      return server;
    },
    // Keys may be 1024 UTF-8 bytes, percent-encoded up to 9 characters each; longer params must
    // reach our validator (400), not fall through to the router's 404.
    routerOptions: { maxParamLength: 16 * KEY_BYTES_MAX },
    bodyLimit: node.config.valueBytesMax,
    // Per-request logs would dwarf everything else at thousands of requests per second.
    logController: new LogController({ disableRequestLogging: true }),
    // A caller's request id tags every log line of the request as reqId, but only a well-formed
    // one (requestIdOf): the header is anyone's text, and logs reach terminals.
    requestIdHeader: false,
    genReqId: requestIdOf,
  });

  // Every other answer with a body in memory counts against the same budget (/local/keys pages
  // and /local/kv siblings can be large); streams (the dashboard's events) write a little at a time.
  app.addHook('onSend', (_request, reply, payload, done) => {
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : Buffer.isBuffer(payload) ? payload.length : 0;
    if (bytes === 0 || reply.statusCode >= 400 || answers.hold(reply.raw, bytes)) return done(null, payload);
    void reply.code(503).header('retry-after', '1').header('content-type', 'application/json; charset=utf-8');
    done(null, JSON.stringify({ error: BUSY_MESSAGE }));
  });

  app.addHook('preClose', (done) => {
    door.shutdown();
    done();
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

  app.get('/local/kv/*', async (request, reply) => {
    const key = keyOf(request);
    const { siblings, context } = node.readLocal(key);
    if (siblings.length === 0) return reply.code(404).send({ error: `node ${node.id} holds no version of this key` });
    return { node: node.id, key, context, siblings: siblings.map(siblingView) };
  });

  app.get('/local/stats', async () => localStatsView(node.stats()));

  app.get('/local/keys', async (request) => {
    const q = request.query as Record<string, unknown>;
    const limit = q.limit === undefined ? LOCAL_KEYS_PAGE_DEFAULT : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > LOCAL_KEYS_PAGE_MAX) throw new ApiError('BAD_REQUEST', `limit must be 1..${LOCAL_KEYS_PAGE_MAX}`);
    if (q.start !== undefined && typeof q.start !== 'string') throw new ApiError('BAD_REQUEST', 'start must be a string');
    // A start past the key rule could name no key; storage refuses such keys with a 500.
    // Reserved keys (the DynamoDB API's, RESERVED_KEY_PREFIX) sort first and are not listed:
    // they hold item keys that /kv users may not read.
    const start = q.start === undefined ? AFTER_RESERVED_KEYS : checkedKey(q.start);
    const page = node.localKeys(start, limit + 1);
    return { keys: page.slice(0, limit), next: page[limit] ?? null };
  });

  app.get('/cluster/ring', async () => {
    const ring = node.ring();
    if (ring === undefined) throw new ApiError('NO_RING', `node ${node.id} has not learned the ring yet`);
    return ringView(ring, node.config.n);
  });

  app.get('/cluster/members', async () => membersView(node.id, node.config.n, node.members()));

  app.post('/cluster/members', async (request) => {
    const body = parseJsonBody(request);
    const { id, peer, http } = body;
    if (typeof id !== 'string' || typeof peer !== 'string' || (http !== undefined && typeof http !== 'string')) {
      throw new ApiError('BAD_REQUEST', 'expected JSON {"id": "...", "peer": "HOST:PORT", "http": "HOST:PORT"}');
    }
    // Answered once the table is durable.
    return { added: await node.addMember(id, peer, http ?? '') };
  });

  app.delete('/cluster/members/:id', async (request) => {
    const { id } = request.params as { id: string };
    return { removed: await node.removeMember(id) };
  });

  return app;
}

type Limits = Pick<
  NodeFrontDoor['config'],
  'httpHeaderBytesMax' | 'httpHandshakeTimeoutMs' | 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs' | 'httpKeepAliveTimeoutMs' | 'httpIdleTimeoutMs' | 'httpTimeoutCheckMs'
>;

/**
 * The node:http or node:https server with every limit of NodeConfig set but the connection counts
 * (ConnectionDoor's; fastify's own limits do not apply to a server from serverFactory). A secure server requests a client certificate but
 * does not require one, so bearer tokens work too; auth.ts trusts only certificates it verified.
 */
export function createLimitedServer(limits: Limits, tls: HttpTls | undefined, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const http = {
    headersTimeout: limits.httpHeadersTimeoutMs,
    requestTimeout: limits.httpRequestTimeoutMs,
    keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
    connectionsCheckingInterval: limits.httpTimeoutCheckMs,
    maxHeaderSize: limits.httpHeaderBytesMax,
  };
  const server: Server =
    tls === undefined
      ? createServer(http, handler)
      : (createHttpsServer(
          { ...http, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false, handshakeTimeout: limits.httpHandshakeTimeoutMs, minVersion: 'TLSv1.2' },
          handler,
        ) as unknown as Server);
  // No maxConnections: one global cap let strangers who never finish a handshake lock everyone
  // out. ConnectionDoor bounds connections instead: httpConnectionsMax established ones plus
  // httpPreAuthConnectionsMax that have not authenticated yet.
  // No 'timeout' listener: node:http then destroys the idle socket itself.
  server.setTimeout(limits.httpIdleTimeoutMs);
  return server;
}

/** A caller's x-request-id is used as the log's reqId only if it matches this; otherwise ours. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
let requestsSeen = 0;

/** The request's id for logs: the caller's x-request-id when well-formed, else `r` and a per-process count. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID_PATTERN.test(given)) return given;
  requestsSeen = (requestsSeen + 1) % Number.MAX_SAFE_INTEGER;
  return `r${requestsSeen.toString(36)}`;
}

function sendRefusal(res: ServerResponse, status: number, message: string, challenge: boolean): void {
  const text = JSON.stringify({ error: message });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    // Bearer, never Basic: a browser shows no password prompt of its own for it.
    ...(challenge ? { 'www-authenticate': 'Bearer realm="dynakv"' } : {}),
  });
  res.end(text);
}

/** The key of a `/…/*` route, validated (KEY_INVALID otherwise). */
export function keyOf(request: FastifyRequest): string {
  return checkedKey((request.params as Record<string, string | undefined>)['*'] ?? '');
}



function bodyOf(request: FastifyRequest): Uint8Array {
  const body = request.body;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  throw new ApiError('BAD_REQUEST', 'request body could not be read as bytes');
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
