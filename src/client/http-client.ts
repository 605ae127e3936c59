// A small HTTP(S) client for one dynakv node, used by the CLI, chaos and tests: it turns
// transport failures and error answers into a ClientError with a message fit for a terminal.
// Talks node:https with the cluster CA and a client certificate or bearer token (global fetch
// cannot take a CA), or node:http to an --insecure node; one keep-alive agent per client.
// Changes carry the x-dynakv-request header the node asks of non-browser callers.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { MembersView, RingView, SiblingView } from '../api/views.ts';

export const CONTEXT_HEADER = 'x-dynakv-context';
/** Sent with every change: the node refuses membership changes without it (cross-site defence). */
export const REQUEST_HEADER = 'x-dynakv-request';
/** Largest answer read: 64 siblings of 1 MiB, base64 in JSON, fit with room to spare. */
export const ANSWER_BYTES_MAX = 128 * 1024 * 1024;

export class ClientError extends Error {
  constructor(
    readonly code: 'UNREACHABLE' | 'HTTP_ERROR' | 'BAD_ANSWER',
    message: string,
    readonly status?: number,
    /** For UNREACHABLE: true when no answer came within the timeout (the request may have been applied). */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** How a client proves who it is to a secure node, and how it knows the node is one. */
export interface ClientCredentials {
  /** The cluster CA (PEM) the node's certificate must chain to; without it, https trusts the system CAs. */
  readonly ca?: string | Buffer;
  /** A client certificate and its key (PEM), from `dynakv certs create-client`. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** A bearer token (the file client.NAME.token); sent instead of, or besides, a certificate. */
  readonly token?: string;
}

/** One value of a key: the bytes and the content type they were written with. */
export interface ReadValue {
  readonly value: Buffer;
  readonly contentType: string;
}

/**
 * What a read found. `context` is the key's causal context (opaque): send it back with the next
 * put or delete of the key so the write supersedes what was read. A found key has one value, or
 * several siblings (concurrent writes no version supersedes): merge them and write the result
 * back with the context to leave one. A missing key may still carry a context (a delete's).
 */
export type ReadResult =
  | { readonly found: false; readonly context: string }
  | { readonly found: true; readonly context: string; readonly siblings: readonly ReadValue[] };

export interface LocalRead {
  readonly node: string;
  readonly key: string;
  readonly context: string;
  readonly siblings: readonly SiblingView[];
}

export interface ClientOptions {
  readonly timeoutMs?: number;
  readonly credentials?: ClientCredentials;
}

/** One answer, read whole. */
export interface Answer {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface RequestInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | string;
  readonly allow404?: boolean;
}

export class DynakvClient {
  private readonly timeoutMs: number;
  private readonly secure: boolean;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly authorization: string | undefined;

  constructor(
    readonly baseUrl: string,
    options: ClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`node URL must be http:// or https://, got ${baseUrl}`);
    this.secure = url.protocol === 'https:';
    const c = options.credentials ?? {};
    this.agent = this.secure
      ? new HttpsAgent({ keepAlive: true, ...(c.ca !== undefined ? { ca: c.ca } : {}), ...(c.cert !== undefined && c.key !== undefined ? { cert: c.cert, key: c.key } : {}) })
      : new HttpAgent({ keepAlive: true });
    this.authorization = c.token !== undefined ? `Bearer ${c.token.trim()}` : undefined;
  }

  async put(key: string, value: Uint8Array | string, options: { context?: string; contentType?: string; w?: number } = {}): Promise<string> {
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/octet-stream' };
    if (options.context) headers[CONTEXT_HEADER] = options.context;
    const res = await this.request(`/kv/${encodeURIComponent(key)}${query({ w: options.w })}`, { method: 'PUT', headers, body: value });
    const body = jsonOf(res) as { context?: unknown };
    if (typeof body.context !== 'string') throw new ClientError('BAD_ANSWER', 'PUT answer carries no context');
    return body.context;
  }

  async get(key: string, options: { r?: number } = {}): Promise<ReadResult> {
    const res = await this.request(`/kv/${encodeURIComponent(key)}${query({ r: options.r })}`, {
      headers: { accept: 'application/json' },
      allow404: true,
    });
    return readResultOf(res.status, jsonOf(res));
  }

  async delete(key: string, options: { context?: string; w?: number } = {}): Promise<void> {
    const headers: Record<string, string> = {};
    if (options.context) headers[CONTEXT_HEADER] = options.context;
    await this.request(`/kv/${encodeURIComponent(key)}${query({ w: options.w })}`, { method: 'DELETE', headers });
  }

  async local(key: string): Promise<LocalRead | undefined> {
    const res = await this.request(`/local/kv/${encodeURIComponent(key)}`, { allow404: true });
    if (res.status === 404) return undefined;
    return jsonOf(res) as LocalRead;
  }

  async ring(): Promise<RingView> {
    return jsonOf(await this.request('/cluster/ring')) as RingView;
  }

  async members(): Promise<MembersView> {
    return jsonOf(await this.request('/cluster/members')) as MembersView;
  }

  async addMember(id: string, peer: string, http: string): Promise<void> {
    await this.request('/cluster/members', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, peer, http }) });
  }

  async removeMember(id: string): Promise<void> {
    await this.request(`/cluster/members/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** Keys this node stores, in order, from `start` (inclusive). */
  async localKeys(start?: string, limit = 1000): Promise<{ keys: string[]; next: string | null }> {
    const q = new URLSearchParams({ limit: String(limit), ...(start !== undefined ? { start } : {}) });
    return jsonOf(await this.request(`/local/keys?${q}`)) as { keys: string[]; next: string | null };
  }

  async stats(): Promise<{ node: string; keys: number }> {
    return jsonOf(await this.request('/local/stats')) as { node: string; keys: number };
  }

  /** Closes the kept-alive connections (they never hold the process open by themselves). */
  close(): void {
    this.agent.destroy();
  }

  /**
   * One request with this client's credentials; answers 2xx, 300 and (with allow404) 404,
   * throws ClientError otherwise. For routes the verbs above do not cover (tests, tools).
   */
  async request(path: string, init: RequestInit = {}): Promise<Answer> {
    let res: Answer;
    try {
      res = await this.send(path, init);
    } catch (err) {
      const e = err as Error & { code?: string };
      const timedOut = e.name === 'TimeoutError';
      const cause = e.code ?? e.name;
      throw new ClientError('UNREACHABLE', `cannot reach dynakv node at ${this.baseUrl} (${cause})${hint(cause, this.secure)}`, undefined, timedOut);
    }
    if ((res.status >= 200 && res.status < 300) || res.status === 300 || (init.allow404 === true && res.status === 404)) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = JSON.parse(res.body.toString('utf8')) as { error?: unknown };
      if (typeof body.error === 'string') message = `${res.status}: ${body.error}`;
    } catch {
      // keep the status line
    }
    if (res.status === 401) message += '; pass --certs-dir DIR, --user NAME or --token TOKEN (see dynakv --help)';
    throw new ClientError('HTTP_ERROR', message, res.status);
  }

  private send(path: string, init: RequestInit): Promise<Answer> {
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (method !== 'GET' && method !== 'HEAD') headers[REQUEST_HEADER] = 'client';
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength);
    if (body !== undefined) headers['content-length'] = String(body.length);
    const url = new URL(path, this.baseUrl);
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      let timeout: Error | undefined;
      const settle = (err: Error | undefined, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err !== undefined || answer === undefined) reject(timeout ?? err);
        else resolve(answer);
      };
      const timer = setTimeout(() => {
        timeout = Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { name: 'TimeoutError' });
        req.destroy(timeout);
        settle(timeout);
      }, this.timeoutMs);
      const send = this.secure ? httpsRequest : httpRequest;
      const req = send(url, { method, headers, agent: this.agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > ANSWER_BYTES_MAX) {
            res.destroy(new Error(`answer larger than ${ANSWER_BYTES_MAX} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => settle(undefined, { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks, bytes) }));
        // A body cut off mid-answer: the node died or the link broke.
        res.on('error', (err) => settle(err));
        res.on('close', () => settle(Object.assign(new Error('answer cut off'), { code: 'ECONNRESET' })));
      });
      req.on('error', (err) => settle(err));
      req.end(body);
    });
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A read answer (200 one value, 300 siblings, 404 not found; JSON asked for) checked into a
 * ReadResult: a missing context, a sibling that is not base64 bytes with a content type, or a
 * found key without values is a BAD_ANSWER, never a half-typed result.
 */
export function readResultOf(status: number, body: unknown): ReadResult {
  const bad = (why: string) => new ClientError('BAD_ANSWER', `read answer ${status}: ${why}`, status);
  if (typeof body !== 'object' || body === null) throw bad('not a JSON object');
  const { context, siblings } = body as { context?: unknown; siblings?: unknown };
  if (context !== undefined && typeof context !== 'string') throw bad('context is not a string');
  if (status === 404) return { found: false, context: context ?? '' };
  if (context === undefined) throw bad('no context');
  if (!Array.isArray(siblings) || siblings.length === 0) throw bad('no siblings list');
  const values = siblings.map((s: unknown, i): ReadValue => {
    const { value, contentType } = (typeof s === 'object' && s !== null ? s : {}) as { value?: unknown; contentType?: unknown };
    if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) throw bad(`sibling ${i} has no base64 value`);
    if (typeof contentType !== 'string') throw bad(`sibling ${i} has no content type`);
    return { value: Buffer.from(value, 'base64'), contentType };
  });
  return { found: true, context, siblings: values };
}

function jsonOf(res: Answer): unknown {
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new ClientError('BAD_ANSWER', `answer ${res.status} is not JSON`, res.status);
  }
}

/** What to do about a failure, for a terminal: a TLS problem is not a stopped node. */
function hint(cause: string, secure: boolean): string {
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|ERR_TLS|ERR_SSL/.test(cause)) {
    return "; the node's certificate was not accepted: pass --certs-dir DIR holding the cluster's ca.crt";
  }
  if (cause === 'EPROTO' || cause === 'ECONNRESET') {
    return secure ? '; is the node running --insecure? then pass --insecure' : '; is the node secure? then drop --insecure and pass --certs-dir';
  }
  return '; is it running? start one with: npm start';
}

function query(params: Record<string, number | undefined>): string {
  const parts = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}
