// The HTTP door's rules, checked on every request before any route reads it (body included):
// cross-site requests cannot change state (even with --insecure), and on a secure node every
// route but /health and the dashboard's static files needs a credential (auth.ts), membership
// changes an admin one. Also the headers every answer carries so no answer can run as a page
// it was not meant to be. Refusals are ApiErrors (error-status.ts), answered as JSON.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, type ClientIdentity, type Role } from './auth.ts';
import { ApiError } from './error-status.ts';

/** The custom header state changes outside /kv must carry: a cross-origin page cannot send it unasked. */
export const REQUEST_HEADER = 'x-dynakv-request';

/** Routes anyone may GET: the liveness probe and the dashboard's static files (no data in them). */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/health', '/ui', '/ui/dashboard.js', '/ui/dashboard.css']);

/**
 * Every answer, unless a route sets its own: never sniffed into another type, never a script
 * context (a sandboxed, resource-less document if a browser ever renders one, e.g. a stored
 * text/html value), never embedded by another origin or framed.
 */
export const DEFAULT_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "sandbox; default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
};

export interface GuardOptions {
  /** Secure mode: the cluster secret tokens are checked with; undefined with --insecure (no credentials). */
  readonly clusterSecret: Uint8Array | undefined;
  /** The scheme the node serves: an Origin with another scheme is another origin. */
  readonly scheme: 'http' | 'https';
}

/** What a request may do: who sent it (undefined on an insecure node). */
export interface Admitted {
  readonly identity: ClientIdentity | undefined;
}

/** Sets DEFAULT_HEADERS on an answer. */
export function setDefaultHeaders(res: ServerResponse): void {
  for (const [name, value] of DEFAULT_HEADER_ENTRIES) res.setHeader(name, value);
}

const DEFAULT_HEADER_ENTRIES = Object.entries(DEFAULT_HEADERS);

/** Whether a request that is not a plain read may go ahead: no Origin, or this node's own. */
export function originAllowed(req: IncomingMessage, scheme: 'http' | 'https'): boolean {
  return req.headers.origin === undefined || sameOrigin(req.headers.origin, req.headers.host, scheme);
}

/** Sets the default headers and admits `req`, or throws the ApiError to answer it with. */
export function admit(req: IncomingMessage, res: ServerResponse, options: GuardOptions): Admitted {
  setDefaultHeaders(res);
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  const reads = method === 'GET' || method === 'HEAD';

  // A browser names the page's origin on every request that is not a plain GET/HEAD; a
  // non-browser client sends none. DNS rebinding defeats this (the page's origin then names
  // this node); on a secure node the credential still stops it.
  if (!reads && req.headers.origin !== undefined && !sameOrigin(req.headers.origin, req.headers.host, options.scheme)) {
    throw new ApiError('FORBIDDEN', `cross-origin ${method} refused (origin ${JSON.stringify(req.headers.origin.slice(0, 100))})`);
  }
  const isPublic = reads && PUBLIC_PATHS.has(path);
  let identity: ClientIdentity | undefined;
  if (options.clusterSecret !== undefined && !isPublic) {
    const auth = authenticate(req, options.clusterSecret);
    if (!auth.ok) throw new ApiError('UNAUTHENTICATED', `${auth.reason}: send a client certificate or "Authorization: Bearer TOKEN" (see dynakv certs create-client)`);
    const needed = roleNeeded(method, path);
    if (needed === 'admin' && auth.identity.role !== 'admin') throw new ApiError('FORBIDDEN', `${method} ${path.slice(0, 100)} needs an admin credential; ${auth.identity.name} is a ${auth.identity.role}`);
    identity = auth.identity;
  }
  // State changes other than key writes (membership today): a custom header, which a
  // cross-origin page can only send after a preflight this node never grants, and JSON.
  if (!reads && !path.startsWith('/kv/')) {
    if (req.headers[REQUEST_HEADER] === undefined) throw new ApiError('FORBIDDEN', `${method} ${path.slice(0, 100)} needs the ${REQUEST_HEADER} header (the dynakv CLI and client send it)`);
    if (hasBody(req) && mediaType(req.headers['content-type']) !== 'application/json') {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `${method} ${path.slice(0, 100)} takes content-type application/json`);
    }
  }
  return { identity };
}

/** Key reads and writes and every other read need a user; every other change an admin. */
export function roleNeeded(method: string, path: string): Role {
  if (path.startsWith('/kv/')) return 'user';
  return method === 'GET' || method === 'HEAD' ? 'user' : 'admin';
}

function sameOrigin(origin: string, host: string | undefined, scheme: 'http' | 'https'): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return url.protocol === `${scheme}:` && url.host === new URL(`${scheme}://${host}`).host;
  } catch {
    return false; // "null" and anything unparsable
  }
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}
