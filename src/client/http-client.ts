// A small HTTP client for one dynakv node, used by the CLI (and tests): it turns transport
// failures and error answers into a ClientError with a message fit for a terminal.
import type { MembersView, RingView, SiblingView } from '../api/views.ts';

export const CONTEXT_HEADER = 'x-dynakv-context';

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

export interface ReadValue {
  readonly value: Buffer;
  readonly contentType: string;
}

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
}

export class DynakvClient {
  private readonly timeoutMs: number;

  constructor(
    readonly baseUrl: string,
    options: ClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async put(key: string, value: Uint8Array | string, options: { context?: string; contentType?: string; w?: number } = {}): Promise<string> {
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/octet-stream' };
    if (options.context) headers[CONTEXT_HEADER] = options.context;
    const res = await this.fetch(`/kv/${encodeURIComponent(key)}${query({ w: options.w })}`, { method: 'PUT', headers, body: value });
    const body = (await res.json()) as { context?: unknown };
    if (typeof body.context !== 'string') throw new ClientError('BAD_ANSWER', 'PUT answer carries no context');
    return body.context;
  }

  async get(key: string, options: { r?: number } = {}): Promise<ReadResult> {
    const res = await this.fetch(`/kv/${encodeURIComponent(key)}${query({ r: options.r })}`, {
      headers: { accept: 'application/json' },
      allow404: true,
    });
    const body = (await res.json()) as { context?: string; siblings?: Array<{ value: string; contentType: string }> };
    if (res.status === 404) return { found: false, context: body.context ?? '' };
    return {
      found: true,
      context: body.context ?? '',
      siblings: (body.siblings ?? []).map((s) => ({ value: Buffer.from(s.value, 'base64'), contentType: s.contentType })),
    };
  }

  async delete(key: string, options: { context?: string; w?: number } = {}): Promise<void> {
    const headers: Record<string, string> = {};
    if (options.context) headers[CONTEXT_HEADER] = options.context;
    await this.fetch(`/kv/${encodeURIComponent(key)}${query({ w: options.w })}`, { method: 'DELETE', headers });
  }

  async local(key: string): Promise<LocalRead | undefined> {
    const res = await this.fetch(`/local/kv/${encodeURIComponent(key)}`, { allow404: true });
    if (res.status === 404) return undefined;
    return (await res.json()) as LocalRead;
  }

  async ring(): Promise<RingView> {
    return (await (await this.fetch('/cluster/ring')).json()) as RingView;
  }

  async members(): Promise<MembersView> {
    return (await (await this.fetch('/cluster/members')).json()) as MembersView;
  }

  async addMember(id: string, peer: string, http: string): Promise<void> {
    await this.fetch('/cluster/members', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, peer, http }) });
  }

  async removeMember(id: string): Promise<void> {
    await this.fetch(`/cluster/members/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** Keys this node stores, in order, from `start` (inclusive). */
  async localKeys(start?: string, limit = 1000): Promise<{ keys: string[]; next: string | null }> {
    const q = new URLSearchParams({ limit: String(limit), ...(start !== undefined ? { start } : {}) });
    return (await (await this.fetch(`/local/keys?${q}`)).json()) as { keys: string[]; next: string | null };
  }

  async stats(): Promise<{ node: string; keys: number }> {
    return (await (await this.fetch('/local/stats')).json()) as { node: string; keys: number };
  }

  private async fetch(path: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string; allow404?: boolean } = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
        ...(init.body !== undefined ? { body: typeof init.body === "string" ? init.body : Buffer.from(init.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new ClientError('UNREACHABLE', `cannot reach dynakv node at ${this.baseUrl} (${cause}); is it running? start one with: npm start`, undefined, timedOut);
    }
    if (res.ok || res.status === 300 || (init.allow404 === true && res.status === 404)) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: unknown };
      if (typeof body.error === 'string') message = `${res.status}: ${body.error}`;
    } catch {
      // keep the status line
    }
    throw new ClientError('HTTP_ERROR', message, res.status);
  }
}

function query(params: Record<string, number | undefined>): string {
  const parts = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}
