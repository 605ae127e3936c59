// The one place the fastify HTTP layer reports answered requests: a single onResponse hook
// calls NodeMetrics.recordRequest (the error's code comes from an onError hook) and writes a
// debug log line carrying the request id. A non-fastify handler reports through the same
// recordRequest call. Also serves GET /metrics.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NodeMetrics } from './node-metrics.ts';

const KV_OP_BY_METHOD: Record<string, string> = { GET: 'get', PUT: 'put', DELETE: 'delete' };

/** get/put/delete for the key-value routes; "METHOD /route" (the route's pattern) for the rest. */
export function operationOf(method: string, route: string | undefined): string {
  if (route === undefined) return 'unmatched';
  if (route === '/kv/*') return KV_OP_BY_METHOD[method] ?? `${method} ${route}`;
  return `${method} ${route}`;
}

export function observeRequests(app: FastifyInstance, metrics: NodeMetrics): void {
  const errorCodes = new WeakMap<FastifyRequest, string>();
  // Callback hooks, not async ones: these run on every request of the hot path.
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
