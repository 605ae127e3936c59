// How one YCSB operation becomes HTTP requests for each system under test: dynakv's /kv API and
// etcd's v3 HTTP/JSON gateway (/v3/kv/put, /v3/kv/range, base64 keys, linearizable reads by
// default). An adapter answers an outcome per request; transport failures are thrown (the caller
// classifies them and fails over to another endpoint). No timing or statistics here.
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { Dispatcher, Pool } from 'undici';
import type { DynakvWrites } from './protocol.ts';

export type Outcome = { readonly ok: true; readonly siblings?: boolean } | { readonly ok: false; readonly kind: string };

export interface Adapter {
  read(pool: Pool, key: string, timeoutMs: number): Promise<Outcome>;
  update(pool: Pool, key: string, timeoutMs: number): Promise<Outcome>;
}

const OK: Outcome = { ok: true };
const ERROR_TEXT_CHARS_MAX = 80;

/** An error kind from a status and body: digits folded so "1 of 3" and "2 of 3" count together. */
function httpError(status: number, body: string): Outcome {
  let message = body;
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    const text = typeof parsed.error === 'string' ? parsed.error : parsed.message;
    if (typeof text === 'string') message = text;
  } catch {
    // not JSON: keep the raw text
  }
  const folded = message.replace(/\d+/g, '#').replace(/\s+/g, ' ').trim().slice(0, ERROR_TEXT_CHARS_MAX);
  return { ok: false, kind: `http ${status}${folded === '' ? '' : `: ${folded}`}` };
}

function request(pool: Pool, options: Dispatcher.RequestOptions, timeoutMs: number) {
  return pool.request({ ...options, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
}

// ---- dynakv ----

const CONTEXT_HEADER = 'x-dynakv-context';
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * Joins two dynakv contexts (entrywise max of the vector clocks). The README calls contexts opaque;
 * a generator that overwrites hot keys from 64 clients needs a context covering every version it
 * has been told about, or each lost race leaves a sibling behind until siblingsMax refuses writes.
 * If the encoding ever changes, this falls back to the newer context (more siblings, no errors).
 */
export function joinContexts(a: string | undefined, b: string): string {
  if (a === undefined || a === '' || a === b) return b;
  if (b === '') return a;
  try {
    const entries = new Map<string, [string, number, number]>();
    for (const text of [a, b]) {
      const wire = packr.unpack(Buffer.from(text, 'base64url')) as unknown;
      if (!Array.isArray(wire)) return b;
      for (const item of wire as unknown[]) {
        if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string' || typeof item[1] !== 'number') return b;
        const entry = item as [string, number, number];
        const seen = entries.get(entry[0]);
        if (seen === undefined || entry[1] > seen[1]) entries.set(entry[0], entry);
      }
    }
    const joined = [...entries.values()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    return Buffer.from(packr.pack(joined)).toString('base64url');
  } catch {
    return b;
  }
}

export class DynakvAdapter implements Adapter {
  /** Per key, the join of every context this process was handed (context mode only). */
  private readonly contexts = new Map<string, string>();
  private readonly value: Buffer;

  constructor(
    valueBytes: number,
    private readonly writes: DynakvWrites,
  ) {
    // Random bytes: neither system compresses, but nothing should be able to profit from a pattern.
    this.value = randomBytes(valueBytes);
  }

  private remember(key: string, header: string | string[] | undefined): void {
    if (this.writes !== 'context' || typeof header !== 'string' || header === '') return;
    this.contexts.set(key, joinContexts(this.contexts.get(key), header));
  }

  async read(pool: Pool, key: string, timeoutMs: number): Promise<Outcome> {
    const res = await request(pool, { method: 'GET', path: `/kv/${encodeURIComponent(key)}` }, timeoutMs);
    if (res.statusCode === 200 || res.statusCode === 300) {
      await res.body.arrayBuffer();
      this.remember(key, res.headers[CONTEXT_HEADER]);
      return res.statusCode === 300 ? { ok: true, siblings: true } : OK;
    }
    const body = await res.body.text();
    return res.statusCode === 404 ? { ok: false, kind: 'not found' } : httpError(res.statusCode, body);
  }

  async update(pool: Pool, key: string, timeoutMs: number): Promise<Outcome> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    const context = this.writes === 'context' ? this.contexts.get(key) : undefined;
    if (context !== undefined) headers[CONTEXT_HEADER] = context;
    const res = await request(pool, { method: 'PUT', path: `/kv/${encodeURIComponent(key)}`, body: this.value, headers }, timeoutMs);
    const body = await res.body.text();
    if (res.statusCode !== 200) return httpError(res.statusCode, body);
    this.remember(key, res.headers[CONTEXT_HEADER]);
    return OK;
  }
}

// ---- etcd ----

export class EtcdAdapter implements Adapter {
  private readonly valueBase64: string;

  constructor(valueBytes: number) {
    this.valueBase64 = randomBytes(valueBytes).toString('base64');
  }

  async read(pool: Pool, key: string, timeoutMs: number): Promise<Outcome> {
    const body = JSON.stringify({ key: Buffer.from(key).toString('base64') });
    const res = await request(pool, { method: 'POST', path: '/v3/kv/range', body, headers: { 'content-type': 'application/json' } }, timeoutMs);
    const text = await res.body.text();
    if (res.statusCode !== 200) return httpError(res.statusCode, text);
    // A range with no match has no "kvs" field; parsing the whole answer would only cost CPU here.
    return text.includes('"kvs"') ? OK : { ok: false, kind: 'not found' };
  }

  async update(pool: Pool, key: string, timeoutMs: number): Promise<Outcome> {
    const body = `{"key":"${Buffer.from(key).toString('base64')}","value":"${this.valueBase64}"}`;
    const res = await request(pool, { method: 'POST', path: '/v3/kv/put', body, headers: { 'content-type': 'application/json' } }, timeoutMs);
    const text = await res.body.text();
    return res.statusCode === 200 ? OK : httpError(res.statusCode, text);
  }
}
