// Server-sent events for the dashboard: while at least one page is connected, builds one
// snapshot per interval and writes it to every page as a `snapshot` event. One build serves
// all pages, the next starts only after the previous was sent (no pile-up when peers are
// slow), and nothing runs while nobody watches. close() ends every stream so the HTTP server
// can shut down.
import { assert } from '../env/assert.ts';
import type { ServerResponse } from 'node:http';
import type { Log } from '../env/log.ts';

/** Connected pages at most: each costs a socket and a write per frame. */
export const STREAM_CLIENTS_MAX = 64;
/** Unsent bytes a page may fall behind by (minutes of frames) before it is dropped; it reconnects. */
const CLIENT_BACKLOG_BYTES_MAX = 1024 * 1024;
/** How long a page waits before reconnecting after the stream broke (EventSource `retry`). */
const RECONNECT_MS = 1_000;

export class SnapshotStream {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private last: { frame: string; atMs: number } | undefined;

  constructor(
    private readonly build: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly log: Log,
  ) {}

  hasRoom(): boolean {
    return !this.closed && this.clients.size < STREAM_CLIENTS_MAX;
  }

  /** Takes over `res` as an event stream (the caller checked hasRoom). */
  add(res: ServerResponse): void {
    assert(this.hasRoom(), 'event stream full or closed');
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: ${RECONNECT_MS}\n\n`);
    // A recent frame at once, so a new page draws without waiting for the next build.
    if (this.last !== undefined && Date.now() - this.last.atMs < 2 * this.intervalMs) res.write(this.last.frame);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    if (!this.running) {
      this.running = true;
      void this.frame();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private async frame(): Promise<void> {
    if (this.closed || this.clients.size === 0) {
      this.running = false;
      return;
    }
    try {
      const frame = `event: snapshot\ndata: ${JSON.stringify(await this.build())}\n\n`;
      this.last = { frame, atMs: Date.now() };
      for (const res of this.clients) {
        if (res.writableLength > CLIENT_BACKLOG_BYTES_MAX) {
          this.clients.delete(res);
          res.destroy();
        } else {
          res.write(frame);
        }
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'dashboard snapshot failed');
    }
    this.timer = setTimeout(() => void this.frame(), this.intervalMs);
    this.timer.unref();
  }
}
