// The operator's dashboard on every node: GET /ui (a static page, script and stylesheet read
// from static/ beside this module, no bundling; npm run build copies it to dist/ui/static), GET /ui/events (server-sent snapshots, see
// event-stream.ts), GET /cluster/lookup/{key} (lookup.ts) and GET /local/activity (what this
// node tells dashboards about itself, activity.ts; peers ask the same over the peer link).
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { keyOf } from '../api/http-server.ts';
import type { Log } from '../env/log.ts';
import type { NodeMetrics } from '../metrics/node-metrics.ts';
import type { NodeFrontDoor } from '../node/front-door.ts';
import { nodeActivity } from './activity.ts';
import { SnapshotStream, STREAM_CLIENTS_MAX } from './event-stream.ts';
import { lookupKey } from './lookup.ts';
import { buildSnapshot } from './snapshot.ts';

/**
 * The dashboard's own pages: scripts, styles and fetches only from this origin, no inline
 * script or style, never framed. It inserts data (stored values, member ids a peer supplied)
 * only as text, never as HTML; this policy is the second wall if that ever slips.
 */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** One frame a second: the failure detector needs ~1.5 s to call a node down anyway. */
const FRAME_INTERVAL_MS = 1_000;

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/ui': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/ui/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

export interface DashboardDeps {
  readonly node: NodeFrontDoor;
  readonly metrics: NodeMetrics;
  readonly log: Log;
}

export function registerDashboard(app: FastifyInstance, { node, metrics, log }: DashboardDeps): void {
  // What peers' dashboards get when they ask this node over the peer link (snapshot.ts).
  node.setActivitySource(() => nodeActivity(node, metrics));
  for (const [path, { file, type }] of Object.entries(STATIC_FILES)) {
    // Read once at start: the files are part of the installed sources and never change at run time.
    const body = readFileSync(new URL(`./static/${file}`, import.meta.url));
    app.get(path, async (_request, reply) => reply.header('content-type', type).header('cache-control', 'no-cache').header('content-security-policy', DASHBOARD_CSP).send(body));
  }

  const stream = new SnapshotStream(() => buildSnapshot(node, metrics), FRAME_INTERVAL_MS, log);
  app.get('/ui/events', async (_request, reply) => {
    if (!stream.hasRoom()) return reply.code(503).send({ error: `${STREAM_CLIENTS_MAX} dashboards are already connected to this node` });
    reply.hijack();
    stream.add(reply.raw);
    return reply;
  });
  // Streams never end by themselves, and the server waits for open connections before closing.
  app.addHook('preClose', (done) => {
    stream.close();
    done();
  });

  app.get('/cluster/lookup/*', async (request) => lookupKey(node, keyOf(request)));
  app.get('/local/activity', async () => nodeActivity(node, metrics));
}
