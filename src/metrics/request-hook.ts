// Where the HTTP layers report answered requests, each through NodeMetrics.recordRequest: the
// bare node:http /kv handler through kvObserver (its observeKv option), every fastify route
// through one onResponse hook (the error's code comes from an onError hook), which also writes
// a debug log line carrying the request id; the DynamoDB door through dynamoObserver. Also serves
// GET /metrics.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NodeMetrics } from './node-metrics.ts';

/**
 * What the /kv handler calls once per answered request (src/api/kv-routes.ts takes any function
 * of this shape as its observer; metrics does not depend on the API): `method` is the HTTP
 * method, `startedAt` from process.hrtime.bigint(), `errorCode` the stable code of the error
 * answered, if any.
 */
export type KvAnswerObserver = (method: string, status: number, startedAt: bigint, errorCode?: string) => void;

const KV_OP_BY_METHOD: Record<string, string> = { GET: 'get', HEAD: 'head', PUT: 'put', DELETE: 'delete' };

/** Reports /kv requests as get/head/put/delete (any other method as `other`, answered 404). */
export function kvObserver(metrics: NodeMetrics): KvAnswerObserver {
  return (method, status, startedAt, errorCode) =>
    metrics.recordRequest(KV_OP_BY_METHOD[method] ?? 'other', status, Number(process.hrtime.bigint() - startedAt) / 1e9, errorCode);
}

/** What the DynamoDB door calls once per answered request: the operation (a target name or `unknown`). */
export type DynamoAnswerObserver = (operation: string, status: number, startedAt: bigint, errorType?: string) => void;

/** Reports DynamoDB API requests as `dynamodb.<Operation>` (bounded: the door names only its own operations or `unknown`). */
export function dynamoObserver(metrics: NodeMetrics): DynamoAnswerObserver {
  return (operation, status, startedAt, errorType) =>
    metrics.recordRequest(`dynamodb.${operation}`, status, Number(process.hrtime.bigint() - startedAt) / 1e9, errorType);
}

/** Fastify routes are labelled "METHOD /route" by their pattern, so the label set stays bounded. */
export function operationOf(method: string, route: string | undefined): string {
  return route === undefined ? 'unmatched' : `${method} ${route}`;
}

export function observeRequests(app: FastifyInstance, metrics: NodeMetrics): void {
  const errorCodes = new WeakMap<FastifyRequest, string>();
  // Callback hooks: cheaper than async ones, and they run on every fastify request.
  app.addHook('onError', (request, _reply, err: Error & { code?: unknown }, done) => {
    if (typeof err.code === 'string') errorCodes.set(request, err.code);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const op = operationOf(request.method, request.routeOptions.url);
    const ms = reply.elapsedTime;
    metrics.recordRequest(op, reply.statusCode, ms / 1000, errorCodes.get(request));
    request.log.debug({ op, status: reply.statusCode, ms: Math.round(ms * 100) / 100 }, 'request answered');
    done();
  });
  app.get('/metrics', async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.render()));
}
