// Which connections the HTTP port holds (finding 1 of the attack review of issue 13; the peer
// port's pre-hello set is the model). A connection is *pre-auth* from its TCP accept until a
// request on it carries a valid credential (with --insecure: until its first request head):
// pre-auth connections live in their own bounded set, the oldest closed for a newcomer, each
// closed after its own short deadline. Authenticated ones are *established*: counted against
// httpConnectionsMax and never closed to make room, so strangers can never push them out.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { Log } from '../env/log.ts';
import { LogLimiter } from '../env/log-limiter.ts';

export interface DoorLimits {
  /** Established (authenticated) connections at once; past it a newly authenticated one is answered 503 and closed. */
  readonly httpConnectionsMax: number;
  /** Pre-auth connections at once; past it the oldest is closed for the newcomer. */
  readonly httpPreAuthConnectionsMax: number;
  /** A pre-auth connection is closed this long after its accept (after its answers in progress, if any). */
  readonly httpPreAuthTimeoutMs: number;
}

export interface DoorStats {
  readonly preAuthConnections: number;
  readonly establishedConnections: number;
  /** Pre-auth connections closed for a newcomer, since start. */
  readonly evicted: number;
  /** Pre-auth connections closed at their deadline, since start. */
  readonly expired: number;
  /** Authenticated requests refused (503) because httpConnectionsMax connections were established. */
  readonly refusedFull: number;
}

interface Entry {
  readonly raw: Socket;
  readonly address: string;
  state: 'pre-auth' | 'established' | 'closed';
  timer: NodeJS.Timeout | undefined;
  /** Answers in progress on a pre-auth connection (public routes, refusals). */
  answering: number;
  /** Its deadline passed while it was answering: closed once the answers are sent. */
  expired: boolean;
}

export class ConnectionDoor {
  /** Pre-auth connections, oldest first (a Map keeps insertion order). */
  private readonly preAuth = new Map<Socket, Entry>();
  /** Accepted TCP sockets by remote address and port (unique among open connections to one port): a TLS socket is found by it. */
  private readonly byAddress = new Map<string, Entry>();
  /** The raw socket, and once seen the TLS socket over it, to its entry. */
  private readonly bySocket = new WeakMap<Socket, Entry>();
  private established = 0;
  private evicted = 0;
  private expired = 0;
  private refusedFull = 0;
  private readonly warnings: LogLimiter;

  constructor(
    private readonly limits: DoorLimits,
    log: Pick<Log, 'warn'>,
  ) {
    for (const name of ['httpConnectionsMax', 'httpPreAuthConnectionsMax', 'httpPreAuthTimeoutMs'] as const) {
      if (!Number.isSafeInteger(limits[name]) || limits[name] < 1) throw new RangeError(`${name} must be a positive integer, got ${limits[name]}`);
    }
    // Anyone who reaches the port causes evictions and expiries at will: a line per kind and interval.
    this.warnings = new LogLimiter(log);
  }

  /** Starts admitting the TCP connections `server` accepts (for HTTPS, before their handshake). */
  attach(server: Server): void {
    server.on('connection', (raw: Socket) => this.accept(raw));
  }

  /**
   * The server is closing: closes every pre-auth connection not answering now (node:http's own
   * idle-connection close does not see TCP sockets still in their TLS handshake), so closing
   * never waits for strangers' deadlines.
   */
  shutdown(): void {
    for (const entry of [...this.preAuth.values()]) if (entry.answering === 0) this.close(entry);
    this.warnings.flush();
  }

  get stats(): DoorStats {
    return { preAuthConnections: this.preAuth.size, establishedConnections: this.established, evicted: this.evicted, expired: this.expired, refusedFull: this.refusedFull };
  }

  /** Whether `req` came on a connection that has not authenticated yet (unknown ones count as not). */
  isPreAuth(req: IncomingMessage): boolean {
    return this.entryOf(req.socket)?.state !== 'established';
  }

  /**
   * Called for each request the door's rules admitted, before it is answered; `authenticated`
   * when it carried a valid credential (always, with --insecure). Returns 'full' when its
   * connection must be refused: it would be established past httpConnectionsMax.
   */
  admitted(req: IncomingMessage, res: ServerResponse, authenticated: boolean): 'ok' | 'full' {
    const entry = this.entryOf(req.socket);
    if (entry === undefined || entry.state !== 'pre-auth') return 'ok';
    if (authenticated) {
      if (this.established >= this.limits.httpConnectionsMax) {
        this.refusedFull += 1;
        return 'full';
      }
      this.preAuth.delete(entry.raw);
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.state = 'established';
      this.established += 1;
      return 'ok';
    }
    // A public route (health, dashboard files) or a refusal: answered, but the connection stays pre-auth.
    entry.answering += 1;
    res.once('close', () => {
      entry.answering -= 1;
      if (entry.expired && entry.answering === 0) entry.raw.destroy();
    });
    return 'ok';
  }

  private accept(raw: Socket): void {
    const address = `${raw.remoteAddress ?? '?'}|${raw.remotePort ?? '?'}`;
    if (this.preAuth.size >= this.limits.httpPreAuthConnectionsMax) {
      const oldest = this.preAuth.values().next().value!;
      this.evicted += 1;
      this.warnings.warn('evicted', { remote: oldest.address, preAuthConnectionsMax: this.limits.httpPreAuthConnectionsMax }, 'HTTP: closing the oldest connection without a credential for a new one');
      this.close(oldest);
    }
    const entry: Entry = { raw, address, state: 'pre-auth', timer: undefined, answering: 0, expired: false };
    this.preAuth.set(raw, entry);
    this.byAddress.set(address, entry);
    this.bySocket.set(raw, entry);
    entry.timer = setTimeout(() => this.expire(entry), this.limits.httpPreAuthTimeoutMs);
    entry.timer.unref();
    raw.once('close', () => this.forget(entry));
  }

  private expire(entry: Entry): void {
    entry.timer = undefined;
    if (entry.state !== 'pre-auth') return;
    this.expired += 1;
    this.warnings.warn('expired', { remote: entry.address, preAuthTimeoutMs: this.limits.httpPreAuthTimeoutMs }, 'HTTP: closing a connection that sent no credential in time');
    if (entry.answering > 0) {
      // Let its answers in progress finish, then close it; it still counts (and may be evicted) meanwhile.
      entry.expired = true;
      return;
    }
    this.close(entry);
  }

  /** Destroys a pre-auth connection and stops counting it at once (its close event may come later). */
  private close(entry: Entry): void {
    this.forget(entry);
    entry.raw.destroy();
  }

  private forget(entry: Entry): void {
    if (entry.state === 'closed') return;
    if (entry.state === 'established') this.established -= 1;
    entry.state = 'closed';
    clearTimeout(entry.timer);
    this.preAuth.delete(entry.raw);
    if (this.byAddress.get(entry.address) === entry) this.byAddress.delete(entry.address);
  }

  private entryOf(socket: Socket): Entry | undefined {
    const known = this.bySocket.get(socket);
    if (known !== undefined) return known;
    // A TLS socket, first seen: it shares the remote address and port of the TCP socket under it.
    const entry = this.byAddress.get(`${socket.remoteAddress ?? '?'}|${socket.remotePort ?? '?'}`);
    if (entry !== undefined) this.bySocket.set(socket, entry);
    return entry;
  }
}
