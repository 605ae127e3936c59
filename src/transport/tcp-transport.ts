// The production peer transport: one persistent, lazily dialed TCP connection per peer carrying
// length-prefixed msgpack frames (frame-codec.ts) with requests multiplexed by id (envelope.ts),
// in mutual TLS when given certificates (both ends prove a node identity signed by the cluster
// CA, and a hello must name the id its certificate proves), plain TCP otherwise (--insecure).
// It owns sockets, TLS, reconnect backoff, timeouts and per-peer limits. It must not interpret
// request or reply bodies beyond the validators it is given, and it must never throw out of a
// socket event handler: a misbehaving peer costs that peer its connection, never the process.
import { assert } from '../env/assert.ts';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import type { Server, Socket } from 'node:net';
import tls from 'node:tls';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Log } from '../env/log.ts';
import { LogLimiter } from '../env/log-limiter.ts';
import { RefusedUnread, requestTimeoutMsMax, TransportError, type NodeId, type RequestHandler, type Transport, type TransportErrorCode } from '../env/transport.ts';
import { clusterLengthMax, errorCodeLengthMax, errorMessageLengthMax, nodeIdLengthMax, parseEnvelope, requestIdMax, type Envelope } from './envelope.ts';
import { FirstFrameReader, FrameDecoder, FrameError, encodeFrame, frameBytesMaxDefault, frameHeaderBytes } from './frame-codec.ts';
import { isNodeId, NODE_ID_PATTERN, NODE_ID_RULE } from '../protocol/ids.ts';
import { describeIdentity, identityOfCertificate } from '../security/identity.ts';
import { RemoteError, REPLY_DROPPED_CODE } from './remote-error.ts';

/** Requests in flight per peer (each direction) before request() answers OVERLOADED; protects both ends' memory. */
export const inFlightMaxDefault = 1024;
/** A peer on the LAN answers a SYN in well under a millisecond; a second means it is not there. */
export const connectTimeoutMsDefault = 1000;
/** The dialer sends its hello right after connecting (and handshaking), so an accepted socket without a hello this long is not a peer. */
export const helloTimeoutMsDefault = 5000;
/** Re-dial delay after a failure, doubling per consecutive failure: short enough to notice a restart quickly, capped so a dead peer costs one dial every two seconds. */
export const reconnectBackoffMsDefault = { initial: 50, max: 2000 } as const;
/**
 * Bytes queued on one socket before new requests answer OVERLOADED (and an inbound socket stops
 * reading); at twice this, replies on an inbound socket become short REPLY_DROPPED errors (dropReply).
 */
export const writeQueueBytesMaxDefault = 64 * 1024 * 1024;
/** Accepted connections at once; a cluster needs one per peer, the rest is slack for restarts. */
export const inboundConnectionsMaxDefault = 1024;
/**
 * Connections one peer id may hold to us after its hello: a peer dials one per link, and a
 * redial may overlap the old connection's close. A newer one past this closes that peer's
 * oldest, so one peer (or, with --insecure, anyone naming it) cannot hold
 * inboundConnectionsMax x 2 x writeQueueBytesMax of queued replies.
 */
export const inboundPerPeerMax = 4;
/**
 * An inbound connection holding more than writeQueueBytesMax of our replies (so no longer read)
 * whose peer takes none of them for this long is closed: they are answers to requests that have
 * timed out long since, and the peer redials if it is alive. A peer that takes some keeps it.
 */
export const stalledReaderMsDefault = 30_000;
/**
 * Largest frame accepted before a connection's hello: the hello is the only frame allowed then,
 * and it carries two strings of at most 256 characters (under 600 bytes of msgpack), so an
 * unauthenticated connection can never make us buffer more than this.
 */
export const helloFrameBytesMax = 1024;
/**
 * Connections held at once that have not yet said hello (and, with TLS, not yet finished their
 * handshake): a cluster's peers say hello within milliseconds of connecting, so this is slack for
 * all of them redialling at once. At the limit the oldest is closed for the newest, so someone
 * who fills the slots and stays silent cannot lock peers out, only slow their dials. Counted
 * separately from inboundConnectionsMax. Bounds what strangers can make us hold to about
 * preAuthConnectionsMax x (frameHeaderBytes + helloFrameBytesMax) of frame bytes (64 KiB),
 * plus each socket's (and TLS handshake's) own state, for at most helloTimeoutMs each.
 */
export const preAuthConnectionsMaxDefault = 64;
/** Node's timers cannot wait longer (a larger delay fires at once), so neither can a request. */
export { requestTimeoutMsMax };
/** Idle time before TCP keepalive probes start: finds a peer whose machine vanished on idle connections. */
export const keepAliveInitialDelayMs = 10_000;

export type TransportLog = Pick<Log, 'warn' | 'info'> & Partial<Pick<Log, 'debug'>>;

/** Mutual TLS between nodes: PEM texts from the node's certs dir (src/security/certs.ts). */
export interface PeerTls {
  /** The cluster CA: the only issuer accepted, both ways. */
  readonly ca: string | Buffer;
  /** This node's certificate: its URI SAN must be dynakv://node/<self>. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export interface TcpTransportOptions<Req, Rep> {
  readonly self: NodeId;
  /** A hello naming another cluster is refused (the connection is closed), so two clusters never mix. */
  readonly cluster: string;
  readonly listenHost: string;
  /** 0 picks a free port; read it from `port` after listen(). */
  readonly listenPort: number;
  /** The peer address book; asked on every request, since membership changes move and add peers. */
  readonly resolve: (id: NodeId) => { host: string; port: number } | undefined;
  /** Validators from the protocol layer: a body they refuse makes the frame malformed. */
  readonly parseRequest: (body: unknown) => Req | undefined;
  readonly parseReply: (body: unknown) => Rep | undefined;
  readonly log: TransportLog;
  /** Largest frame payload in bytes, both sent and accepted; default frameBytesMaxDefault (32 MiB). */
  readonly frameBytesMax?: number;
  /** Per peer and direction; default inFlightMaxDefault. */
  readonly inFlightMax?: number;
  readonly connectTimeoutMs?: number;
  readonly helloTimeoutMs?: number;
  readonly reconnectBackoffMs?: { readonly initial: number; readonly max: number };
  /** Per socket; must hold at least one largest frame. Default writeQueueBytesMaxDefault. */
  readonly writeQueueBytesMax?: number;
  /** See stalledReaderMsDefault (the default). */
  readonly stalledReaderMs?: number;
  readonly inboundConnectionsMax?: number;
  /** Default preAuthConnectionsMaxDefault. */
  readonly preAuthConnectionsMax?: number;
  /**
   * Mutual TLS: a listener takes only peers whose certificate the cluster CA signed and names a
   * node (not a client), and a dialer only listeners whose certificate names the node it dialed.
   * Without it, plain TCP that trusts every hello (--insecure).
   */
  readonly tls?: PeerTls;
  /**
   * Whether `to` is a join seed's pseudo id (an address whose node id is not known yet): with TLS,
   * the listener there may prove any node identity instead of `to`. Default: none is.
   */
  readonly isSeed?: (to: NodeId) => boolean;
}

export interface TcpTransportStats {
  readonly outboundConnections: number;
  readonly inboundConnections: number;
  readonly pendingRequests: number;
  /** Accepted connections that have not said hello yet (at most preAuthConnectionsMax). */
  readonly preAuthConnections: number;
  /** Frame bytes those connections make us hold (at most preAuthConnections x (frameHeaderBytes + helloFrameBytesMax)). */
  readonly preAuthBytesHeld: number;
}

/** One socket with its frame reassembly and write coalescing. */
class Connection {
  readonly decoder: FrameDecoder;
  /** True once TCP connected (outbound) or from the start (inbound). */
  connected: boolean;
  /** Why we ended it, or the socket error that did; reported to callers and logs. */
  failure: string | undefined;
  private corked = false;

  constructor(
    readonly socket: Socket,
    frameBytesMax: number,
    connected: boolean,
  ) {
    this.decoder = new FrameDecoder({ frameBytesMax });
    this.connected = connected;
  }

  get ended(): boolean {
    return this.socket.destroyed || this.failure !== undefined;
  }

  /**
   * Writes a frame. Nagle is off, so batching is ours: every frame written in one event-loop
   * turn (e.g. all the replies to one batch of incoming frames, or all the commits one LMDB
   * transaction released) leaves in one writev, uncorked after the I/O phase by setImmediate.
   * Uncorking per process.nextTick made nearly every frame its own syscall under load.
   */
  write(frame: Buffer): void {
    if (this.ended) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
  }

  end(reason: string): void {
    this.failure ??= reason;
    this.socket.destroy();
  }
}

interface Pending<Rep> {
  readonly resolve: (reply: Rep) => void;
  readonly reject: (error: TransportError) => void;
  readonly timer: NodeJS.Timeout;
}

/** Our outgoing side to one peer: the current connection (if any), its requests, its reconnect state. */
interface Link<Rep> {
  readonly peer: NodeId;
  connection: Connection | undefined;
  address: { host: string; port: number } | undefined;
  readonly pending: Map<number, Pending<Rep>>;
  lastId: number;
  /** Consecutive failures since the last reply; drives the backoff exponent. */
  failures: number;
  /** performance.now() before which no re-dial happens; requests meanwhile answer UNREACHABLE. */
  retryAtMs: number;
  lastFailure: string;
}

/** A connection a peer dialed to us: its requests, our replies. */
interface Inbound {
  /** The accepted TCP socket; with TLS, the TLS socket runs over it. Destroying it ends both. */
  readonly raw: Socket;
  /** The socket frames travel on: raw itself, or (TLS) the TLS socket once its handshake succeeded. */
  connection: Connection | undefined;
  readonly remote: string;
  /** With TLS: the node id the peer's certificate proves, known after the handshake; its hello must name it. */
  certPeer: NodeId | undefined;
  /** Known once its hello arrived; until then the connection is in the pre-auth set. */
  peer: NodeId | undefined;
  /** Reads the hello, holding at most helloFrameBytesMax; undefined once the hello arrived. */
  helloReader: FirstFrameReader | undefined;
  helloTimer: NodeJS.Timeout | undefined;
  inFlight: number;
  /** Armed while reading is paused on our queued replies (see watchStall). */
  stallTimer: NodeJS.Timeout | undefined;
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  try {
    return String(error);
  } catch {
    return 'unprintable error';
  }
}

/** The human part of an error, without its code (the 'err' envelope carries that separately). */
function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'unprintable error';
  }
}

/** The code an 'err' envelope carries for a handler rejection: the error's own `code` when it is a usable string. */
function remoteCodeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code;
    if (typeof code === 'string' && code.length > 0 && code.length <= errorCodeLengthMax) return code;
  }
  return 'HANDLER_FAILED';
}

export class TcpTransport<Req, Rep> implements Transport<Req, Rep> {
  private readonly options: TcpTransportOptions<Req, Rep>;
  private readonly log: TransportLog;
  private readonly frameBytesMax: number;
  private readonly inFlightMax: number;
  private readonly connectTimeoutMs: number;
  private readonly helloTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly writeQueueBytesMax: number;
  private readonly stalledReaderMs: number;
  private readonly server: Server;
  /** With TLS: wraps the sockets `server` accepts (it never listens itself). */
  private readonly tlsServer: tls.Server | undefined;
  /** With TLS: inbound connections in their handshake, by remote address (unique among open TCP connections to one port). */
  private readonly handshaking = new Map<string, Inbound>();
  private readonly tlsClient: tls.ConnectionOptions | undefined;
  /** Encoded once: it never changes, and encoding it here proves at construction that it fits frameBytesMax. */
  private readonly helloFrame: Buffer;
  private readonly links = new Map<NodeId, Link<Rep>>();
  private readonly inbound = new Set<Inbound>();
  /** Inbound connections without a hello yet, oldest first (a Set keeps insertion order). */
  private readonly preAuth = new Set<Inbound>();
  private readonly preAuthConnectionsMax: number;
  /**
   * Refusals and evictions of inbound connections: anyone who reaches the port can cause them by
   * the thousand a second, so each kind is logged once per interval with a count (finding 6).
   */
  private readonly refusals: LogLimiter;
  private handler: RequestHandler<Req, Rep> | undefined;
  private listening = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: TcpTransportOptions<Req, Rep>) {
    this.options = options;
    this.log = options.log;
    this.frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault;
    this.inFlightMax = options.inFlightMax ?? inFlightMaxDefault;
    this.connectTimeoutMs = options.connectTimeoutMs ?? connectTimeoutMsDefault;
    this.helloTimeoutMs = options.helloTimeoutMs ?? helloTimeoutMsDefault;
    this.backoffInitialMs = options.reconnectBackoffMs?.initial ?? reconnectBackoffMsDefault.initial;
    this.backoffMaxMs = options.reconnectBackoffMs?.max ?? reconnectBackoffMsDefault.max;
    this.writeQueueBytesMax = options.writeQueueBytesMax ?? writeQueueBytesMaxDefault;
    this.stalledReaderMs = options.stalledReaderMs ?? stalledReaderMsDefault;
    const inboundConnectionsMax = options.inboundConnectionsMax ?? inboundConnectionsMaxDefault;
    this.preAuthConnectionsMax = options.preAuthConnectionsMax ?? preAuthConnectionsMaxDefault;
    this.refusals = new LogLimiter(this.log);

    // Peers refuse hellos outside these bounds (envelope.ts), so refuse to start with them.
    if (!isNodeId(options.self) || options.self.length > nodeIdLengthMax) throw new RangeError(`self must be a node id (${NODE_ID_RULE}), got ${JSON.stringify(options.self)}`);
    if (options.cluster.length > clusterLengthMax) throw new RangeError(`cluster must be at most ${clusterLengthMax} characters`);
    assertPositiveInteger('frameBytesMax', this.frameBytesMax);
    assertPositiveInteger('inFlightMax', this.inFlightMax);
    assertPositiveInteger('connectTimeoutMs', this.connectTimeoutMs);
    assertPositiveInteger('helloTimeoutMs', this.helloTimeoutMs);
    assertPositiveInteger('reconnectBackoffMs.initial', this.backoffInitialMs);
    assertPositiveInteger('reconnectBackoffMs.max', this.backoffMaxMs);
    assertPositiveInteger('inboundConnectionsMax', inboundConnectionsMax);
    assertPositiveInteger('preAuthConnectionsMax', this.preAuthConnectionsMax);
    assertPositiveInteger('stalledReaderMs', this.stalledReaderMs);
    if (this.backoffMaxMs < this.backoffInitialMs) throw new RangeError('reconnectBackoffMs.max must be >= initial');
    // Otherwise a largest frame could never be queued and would always answer OVERLOADED.
    if (this.writeQueueBytesMax < frameHeaderBytes + this.frameBytesMax) {
      throw new RangeError('writeQueueBytesMax must hold at least one frame of frameBytesMax');
    }

    this.helloFrame = encodeFrame({ t: 'hello', from: options.self, cluster: options.cluster } satisfies Envelope, this.frameBytesMax);

    if (options.tls !== undefined) {
      const own = ownIdentity(options.tls.cert);
      if (own !== options.self) throw new RangeError(`tls.cert must be a node certificate for ${options.self}, it is for ${own}`);
      const { ca, cert, key } = options.tls;
      // TLS 1.3 only: both ends are ours, and it encrypts the certificates too.
      // rejectUnauthorized is off so that a refused certificate reaches onSecureInbound, which
      // refuses it there with a logged reason (Node would close it silently); either way the
      // check comes after the handshake and before any application byte is read.
      this.tlsServer = tls.createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3', handshakeTimeout: this.helloTimeoutMs });
      this.tlsServer.on('secureConnection', (socket) => this.onSecureInbound(socket));
      this.tlsServer.on('tlsClientError', (error, socket) => {
        const inbound = this.handshaking.get(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
        socket.destroy();
        // Also emitted when we closed the socket ourselves (hello timeout, eviction): logged then.
        if (inbound !== undefined) this.abortInbound(inbound, describe(error), 'refused peer connection: TLS handshake failed');
      });
      this.tlsClient = { ca, cert, key, minVersion: 'TLSv1.3' };
    }
    this.server = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveInitialDelayMs });
    this.server.maxConnections = inboundConnectionsMax;
    this.server.on('connection', (socket) => this.accept(socket));
  }

  /** Binds the listening socket; resolves once it accepts connections. Rejects with the bind error (e.g. EADDRINUSE). */
  listen(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('TcpTransport.listen after close'));
    if (this.listening) return Promise.reject(new Error('TcpTransport.listen called twice'));
    this.listening = true;
    return new Promise((resolve, reject) => {
      const onBindError = (error: Error): void => reject(error);
      this.server.once('error', onBindError);
      this.server.listen(this.options.listenPort, this.options.listenHost, () => {
        this.server.off('error', onBindError);
        this.server.on('error', (error) => this.log.warn({ err: describe(error) }, 'peer listener error'));
        this.log.info({ host: this.options.listenHost, port: this.port }, 'peer transport listening');
        resolve();
      });
    });
  }

  /** The bound port; only valid after listen() resolved (useful with listenPort 0). */
  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('TcpTransport.port read before listen() resolved');
    return address.port;
  }

  get stats(): TcpTransportStats {
    let outboundConnections = 0;
    let pendingRequests = 0;
    for (const link of this.links.values()) {
      if (link.connection !== undefined) outboundConnections += 1;
      pendingRequests += link.pending.size;
    }
    let preAuthBytesHeld = 0;
    for (const inbound of this.preAuth) preAuthBytesHeld += inbound.helloReader?.buffered ?? 0;
    return { outboundConnections, inboundConnections: this.inbound.size, pendingRequests, preAuthConnections: this.preAuth.size, preAuthBytesHeld };
  }

  serve(handler: RequestHandler<Req, Rep>): void {
    if (this.handler !== undefined) throw new Error('TcpTransport.serve called twice');
    this.handler = handler;
  }

  /**
   * Throws synchronously only for programmer errors (a request to self, a bad timeout, a request
   * msgpack cannot encode); every operating failure is a rejection with TransportError. A request
   * whose frame exceeds frameBytesMax rejects OVERLOADED: the peer would refuse it.
   */
  request(to: NodeId, request: Req, timeoutMs: number): Promise<Rep> {
    if (to === this.options.self) throw new Error('TcpTransport.request to self: callers act locally');
    if (!(timeoutMs > 0 && timeoutMs <= requestTimeoutMsMax)) {
      throw new RangeError(`timeoutMs must be in (0, ${requestTimeoutMsMax}], got ${timeoutMs}`);
    }
    if (this.closed) return rejection('CLOSED', 'transport closed');

    const address = this.options.resolve(to);
    if (address === undefined) return rejection('UNREACHABLE', `unknown peer ${to}`);
    const link = this.linkTo(to);
    if (
      link.connection !== undefined &&
      (link.address?.host !== address.host || link.address?.port !== address.port)
    ) {
      // The peer moved (membership changed); its old address may now be someone else.
      this.failLink(link, link.connection, 'CLOSED', 'peer address changed', false);
    }
    if (link.connection === undefined) {
      const waitMs = link.retryAtMs - performance.now();
      if (waitMs > 0) {
        return rejection('UNREACHABLE', `${to} unreachable (${link.lastFailure}); next dial in ${Math.ceil(waitMs)} ms`);
      }
    }
    if (link.pending.size >= this.inFlightMax) {
      return rejection('OVERLOADED', `${this.inFlightMax} requests already in flight to ${to}`);
    }

    const id = this.nextId(link);
    let frame: Buffer;
    try {
      frame = encodeFrame({ t: 'req', id, body: request } satisfies Envelope, this.frameBytesMax);
    } catch (error) {
      if (error instanceof FrameError) return rejection('OVERLOADED', `request to ${to} too large: ${error.message}`);
      throw error;
    }
    const queuedBytes = link.connection?.socket.writableLength ?? 0;
    if (queuedBytes + frame.length > this.writeQueueBytesMax) {
      return rejection('OVERLOADED', `${queuedBytes} bytes already queued to ${to}`);
    }

    const connection = link.connection ?? this.dial(link, address);
    if (connection === undefined) return rejection('UNREACHABLE', `${to} unreachable (${link.lastFailure})`);
    return new Promise<Rep>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Forgetting the id makes a late reply unmatched, so it is dropped.
        link.pending.delete(id);
        reject(new TransportError('TIMEOUT', `no reply from ${to} within ${timeoutMs} ms`));
      }, timeoutMs);
      link.pending.set(id, { resolve, reject, timer });
      connection.write(frame);
    });
  }

  /** Stops listening, ends every connection and rejects in-flight requests with CLOSED. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    this.refusals.flush();
    for (const link of this.links.values()) {
      if (link.connection !== undefined) this.failLink(link, link.connection, 'CLOSED', 'transport closed', false);
    }
    for (const inbound of this.inbound) {
      clearTimeout(inbound.helloTimer);
      clearTimeout(inbound.stallTimer);
      inbound.connection?.end('transport closed');
      inbound.raw.destroy();
    }
    this.closing = new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      // The callback waits for accepted sockets to close; all were destroyed above.
      this.server.close(() => resolve());
    });
    return this.closing;
  }

  // ---- outgoing side -------------------------------------------------------------------------

  private linkTo(peer: NodeId): Link<Rep> {
    let link = this.links.get(peer);
    if (link === undefined) {
      // Links live as long as the transport: there is one per peer ever addressed, which the
      // address book (cluster membership) bounds.
      link = {
        peer,
        connection: undefined,
        address: undefined,
        pending: new Map(),
        lastId: 0,
        failures: 0,
        retryAtMs: 0,
        lastFailure: '',
      };
      this.links.set(peer, link);
    }
    return link;
  }

  private nextId(link: Link<Rep>): number {
    // Terminates: fewer than inFlightMax ids are pending, far fewer than requestIdMax.
    do {
      link.lastId = link.lastId >= requestIdMax ? 0 : link.lastId + 1;
    } while (link.pending.has(link.lastId));
    return link.lastId;
  }

  /** Starts a connection to the peer and queues the hello; undefined if the dial failed synchronously. */
  private dial(link: Link<Rep>, address: { host: string; port: number }): Connection | undefined {
    let socket: Socket;
    try {
      if (this.tlsClient === undefined) {
        socket = net.connect({ host: address.host, port: address.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveInitialDelayMs });
      } else {
        socket = tls.connect({
          ...this.tlsClient,
          host: address.host,
          port: address.port,
          // Replaces the host name check: peers are named by node id, not by address.
          checkServerIdentity: (_host, certificate) => this.checkListener(link.peer, certificate),
        });
        socket.setNoDelay(true);
        socket.setKeepAlive(true, keepAliveInitialDelayMs);
      }
    } catch (error) {
      // E.g. a port outside 0..65535 from the address book.
      this.recordFailure(link, `dial failed: ${describe(error)}`);
      return undefined;
    }
    const connection = new Connection(socket, this.frameBytesMax, false);
    link.connection = connection;
    link.address = { host: address.host, port: address.port };

    let connectTimer = setTimeout(() => connection.end(`connect timeout after ${this.connectTimeoutMs} ms`), this.connectTimeoutMs);
    const established = (): void => {
      clearTimeout(connectTimer);
      connection.connected = true;
      this.log.debug?.({ peer: link.peer, ...address }, 'peer connection established');
    };
    if (this.tlsClient === undefined) {
      socket.once('connect', established);
    } else {
      // The kernel answers a SYN, but a TLS handshake needs the peer's event loop, which may be
      // busy for a moment (a node starting, a long GC). Requests queued meanwhile keep their own
      // timeouts, so the handshake gets the listener's whole deadline instead of being torn down
      // and redone, which would only miss more of them.
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        connectTimer = setTimeout(() => connection.end(`TLS handshake not done within ${this.helloTimeoutMs} ms`), this.helloTimeoutMs);
      });
      socket.once('secureConnect', established);
    }
    socket.on('data', (chunk: Buffer) => this.onReplyData(link, connection, chunk));
    socket.on('error', (error) => {
      connection.failure ??= describe(error);
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      const code: TransportErrorCode = connection.connected ? 'CLOSED' : 'UNREACHABLE';
      const reason = connection.failure ?? (connection.connected ? 'connection closed by peer' : 'connection failed');
      this.failLink(link, connection, code, reason, true);
    });
    // Written before any request, so it is the first frame on the wire; Node queues it until connected.
    connection.write(this.helloFrame);
    return connection;
  }

  /** checkServerIdentity for dials: the listener must prove the node we dialed (any node, for a join seed). */
  private checkListener(to: NodeId, certificate: PeerCertificate): Error | undefined {
    const result = identityOfCertificate(certificate.raw);
    if (!result.ok) return new Error(`peer certificate refused: ${result.reason}`);
    const { identity } = result;
    if (identity.kind !== 'node') return new Error(`peer certificate refused: it is a ${describeIdentity(identity)}, not a node`);
    if (identity.id !== to && this.options.isSeed?.(to) !== true) return new Error(`peer certificate refused: it is for node ${identity.id}, dialed ${to}`);
    return undefined;
  }

  private onReplyData(link: Link<Rep>, connection: Connection, chunk: Buffer): void {
    if (connection.ended) return;
    try {
      for (const payload of connection.decoder.push(chunk)) {
        const envelope = parseEnvelope(payload);
        if (envelope === undefined) return this.abortLink(link, connection, 'invalid envelope');
        if (envelope.t !== 'rep' && envelope.t !== 'err') {
          return this.abortLink(link, connection, `unexpected '${envelope.t}' envelope on an outgoing connection`);
        }
        // Any well-formed answer proves the peer healthy, so the next failure starts backoff afresh.
        link.failures = 0;
        const pending = link.pending.get(envelope.id);
        if (pending === undefined) {
          this.log.debug?.({ peer: link.peer, id: envelope.id }, 'reply after timeout dropped');
          continue;
        }
        if (envelope.t === 'err') {
          link.pending.delete(envelope.id);
          clearTimeout(pending.timer);
          pending.reject(new RemoteError(envelope.code, envelope.message, envelope.unread === true));
          continue;
        }
        const reply = this.options.parseReply(envelope.body);
        if (reply === undefined) return this.abortLink(link, connection, 'reply body failed validation');
        link.pending.delete(envelope.id);
        clearTimeout(pending.timer);
        pending.resolve(reply);
      }
    } catch (error) {
      // A FrameError from the peer's bytes, or a throwing parseReply: either way this connection is done.
      this.abortLink(link, connection, describe(error));
    }
  }

  private abortLink(link: Link<Rep>, connection: Connection, reason: string): void {
    this.log.warn({ peer: link.peer, reason }, 'closing connection to peer: malformed input');
    connection.end(reason);
    this.failLink(link, connection, 'CLOSED', reason, true);
  }

  /**
   * Detaches a connection from its link at once (later requests dial afresh instead of writing
   * to a dying socket) and rejects its requests with `code`. Runs once per connection: later
   * calls for a connection already detached do nothing.
   */
  private failLink(link: Link<Rep>, connection: Connection, code: TransportErrorCode, reason: string, backoff: boolean): void {
    if (link.connection !== connection) return;
    link.connection = undefined;
    connection.end(reason);
    const pending = [...link.pending.values()];
    link.pending.clear();
    for (const request of pending) {
      clearTimeout(request.timer);
      request.reject(new TransportError(code, `${link.peer}: ${reason}`));
    }
    if (backoff && !this.closed) this.recordFailure(link, reason);
  }

  private recordFailure(link: Link<Rep>, reason: string): void {
    link.failures += 1;
    link.lastFailure = reason;
    const baseMs = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(link.failures - 1, 30));
    // Jitter spreads the re-dials of many nodes that lost the same peer at the same moment.
    const delayMs = Math.min(this.backoffMaxMs, baseMs * (1 + 0.5 * Math.random()));
    link.retryAtMs = performance.now() + delayMs;
    const fields = { peer: link.peer, reason, failures: link.failures, retryInMs: Math.round(delayMs) };
    // The first failure is news; repeats while the peer stays down are not.
    if (link.failures === 1) this.log.info(fields, 'peer connection failed');
    else this.log.debug?.(fields, 'peer connection failed again');
  }

  // ---- incoming side -------------------------------------------------------------------------

  private accept(raw: Socket): void {
    const remote = `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`;
    const inbound: Inbound = {
      raw,
      connection: undefined,
      remote,
      certPeer: undefined,
      peer: undefined,
      helloReader: new FirstFrameReader(helloFrameBytesMax),
      helloTimer: undefined,
      inFlight: 0,
      stallTimer: undefined,
    };
    raw.on('error', (error) => {
      if (inbound.connection !== undefined) inbound.connection.failure ??= describe(error);
    });
    if (this.closed) {
      raw.destroy();
      return;
    }
    if (this.preAuth.size >= this.preAuthConnectionsMax) {
      const oldest = this.preAuth.values().next().value!;
      this.abortInbound(oldest, `${this.preAuthConnectionsMax} connections without a hello: closing the oldest for a new one`);
      // Its close event may come later; it no longer counts from now.
      this.preAuth.delete(oldest);
    }
    this.inbound.add(inbound);
    this.preAuth.add(inbound);
    // One deadline for the TLS handshake and the hello together, from the TCP accept.
    inbound.helloTimer = setTimeout(() => this.abortInbound(inbound, `no hello within ${this.helloTimeoutMs} ms`), this.helloTimeoutMs);
    raw.on('close', () => {
      clearTimeout(inbound.helloTimer);
      clearTimeout(inbound.stallTimer);
      this.inbound.delete(inbound);
      this.preAuth.delete(inbound);
      if (this.handshaking.get(remote) === inbound) this.handshaking.delete(remote);
      this.log.debug?.({ peer: inbound.peer, remote, reason: inbound.connection?.failure }, 'peer connection closed');
    });
    if (this.tlsServer === undefined) {
      this.attachInbound(inbound, raw);
      return;
    }
    this.handshaking.set(remote, inbound);
    // The documented way to hand a TCP socket to a TLS server; its handshake then runs on it.
    this.tlsServer.emit('connection', raw);
  }

  /** A TLS handshake completed (the CA signed the peer's certificate): it must also name a node. */
  private onSecureInbound(socket: TLSSocket): void {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const inbound = this.handshaking.get(remote);
    this.handshaking.delete(remote);
    if (inbound === undefined || inbound.raw.destroyed) {
      socket.destroy();
      return;
    }
    const certificate = socket.getPeerX509Certificate();
    if (certificate === undefined) return this.abortInbound(inbound, 'peer certificate refused: none was sent', 'refused peer connection');
    // Not signed by the cluster CA, expired, or without the clientAuth usage.
    if (!socket.authorized) return this.abortInbound(inbound, `peer certificate refused: ${String(socket.authorizationError)}`, 'refused peer connection');
    const result = identityOfCertificate(certificate.raw);
    if (!result.ok) return this.abortInbound(inbound, `peer certificate refused: ${result.reason}`, 'refused peer connection');
    if (result.identity.kind !== 'node') {
      return this.abortInbound(inbound, `peer certificate refused: it is a ${describeIdentity(result.identity)}; the peer port takes nodes only`, 'refused peer connection');
    }
    inbound.certPeer = result.identity.id;
    this.attachInbound(inbound, socket);
  }

  /** Starts reading frames on the socket they travel on (raw TCP, or TLS after its handshake). */
  private attachInbound(inbound: Inbound, socket: Socket): void {
    const connection = new Connection(socket, this.frameBytesMax, true);
    inbound.connection = connection;
    socket.on('data', (chunk: Buffer) => this.onRequestData(inbound, connection, chunk));
    if (socket !== inbound.raw) {
      socket.on('error', (error) => {
        connection.failure ??= describe(error);
      });
    }
    // Reading stops while our replies are not being read (see sendFrame); resume once they drain.
    socket.on('drain', () => {
      clearTimeout(inbound.stallTimer);
      inbound.stallTimer = undefined;
      if (!connection.ended) socket.resume();
    });
  }

  private onRequestData(inbound: Inbound, connection: Connection, chunk: Buffer): void {
    if (connection.ended) return;
    try {
      let frames = chunk;
      if (inbound.helloReader !== undefined) {
        const first = inbound.helloReader.push(chunk);
        if (first === undefined) return;
        if (!this.acceptHello(inbound, first.payload)) return;
        frames = first.rest;
      }
      for (const payload of connection.decoder.push(frames)) {
        if (connection.ended) return;
        const envelope = parseEnvelope(payload);
        if (envelope === undefined) return this.abortInbound(inbound, 'invalid envelope');
        assert(inbound.peer !== undefined, 'request frames before the hello');
        if (envelope.t !== 'req') return this.abortInbound(inbound, `unexpected '${envelope.t}' envelope on an incoming connection`);
        const request = this.options.parseRequest(envelope.body);
        if (request === undefined) return this.abortInbound(inbound, 'request body failed validation');
        this.handle(inbound, inbound.peer, envelope.id, request);
      }
    } catch (error) {
      this.abortInbound(inbound, describe(error));
    }
  }

  /** Checks the first frame of an inbound connection; on success the connection leaves the pre-auth set. */
  private acceptHello(inbound: Inbound, payload: unknown): boolean {
    const envelope = parseEnvelope(payload);
    if (envelope === undefined) {
      this.abortInbound(inbound, 'invalid envelope');
      return false;
    }
    if (envelope.t !== 'hello') {
      this.abortInbound(inbound, `first frame is '${envelope.t}', not 'hello'`);
      return false;
    }
    if (envelope.cluster !== this.options.cluster) {
      this.abortInbound(inbound, `hello from cluster ${JSON.stringify(envelope.cluster)}, this is '${this.options.cluster}'`);
      return false;
    }
    const claimed = envelope.from as string;
    if (!NODE_ID_PATTERN.test(claimed)) {
      this.abortInbound(inbound, `hello from ${JSON.stringify(claimed.slice(0, 80))}, not a node id (${NODE_ID_RULE})`);
      return false;
    }
    if (this.tlsServer !== undefined && claimed !== inbound.certPeer) {
      this.abortInbound(inbound, `hello names node ${claimed}, its certificate is for node ${String(inbound.certPeer)}`, 'refused peer connection');
      return false;
    }
    // Two nodes sharing an id would corrupt each other's replicas; refuse loudly.
    if (envelope.from === this.options.self) {
      this.abortInbound(inbound, `hello claims our own node id '${envelope.from}'`);
      return false;
    }
    clearTimeout(inbound.helloTimer);
    inbound.helloTimer = undefined;
    inbound.helloReader = undefined;
    inbound.peer = envelope.from;
    this.preAuth.delete(inbound);
    this.closeOlderOf(inbound);
    this.log.debug?.({ peer: inbound.peer, remote: inbound.remote }, 'peer connected');
    return true;
  }

  private abortInbound(inbound: Inbound, reason: string, what = 'closing connection from peer: malformed input'): void {
    if (inbound.raw.destroyed || inbound.connection?.ended === true) return;
    // The kind is the reason without its numbers (ports, sizes, counts): one line per kind and interval.
    this.refusals.warn(reason.replace(/\d+/g, '#'), { peer: inbound.peer, remote: inbound.remote, reason }, what);
    clearTimeout(inbound.helloTimer);
    clearTimeout(inbound.stallTimer);
    inbound.connection?.end(reason);
    inbound.raw.destroy();
  }

  private handle(inbound: Inbound, from: NodeId, id: number, request: Req): void {
    const handler = this.handler;
    if (handler === undefined) return this.sendError(inbound, id, 'NO_HANDLER', 'no request handler installed', true);
    // The dialer enforces its own inFlightMax; this guards against a peer configured higher.
    if (inbound.inFlight >= this.inFlightMax) {
      return this.sendError(inbound, id, 'OVERLOADED', `${this.inFlightMax} requests already in flight from ${from}`, true);
    }
    inbound.inFlight += 1;
    let reply: Promise<Rep>;
    try {
      reply = handler(from, request);
    } catch (error) {
      // A handler that throws synchronously is answered like one that rejects.
      reply = Promise.reject(error);
    }
    void Promise.resolve(reply).then(
      (value) => {
        inbound.inFlight -= 1;
        this.sendReply(inbound, id, value);
      },
      (error: unknown) => {
        inbound.inFlight -= 1;
        this.sendError(inbound, id, remoteCodeOf(error), messageOf(error), error instanceof RefusedUnread);
      },
    );
  }

  private sendReply(inbound: Inbound, id: number, reply: Rep): void {
    if (inbound.connection === undefined || inbound.connection.ended) return;
    // Already past the hard bound: answer with a short error, without encoding the reply at all.
    if (inbound.connection.socket.writableLength >= 2 * this.writeQueueBytesMax) return this.dropReply(inbound, id, undefined);
    let frame: Buffer;
    try {
      frame = encodeFrame({ t: 'rep', id, body: reply } satisfies Envelope, this.frameBytesMax);
    } catch (error) {
      const code = error instanceof FrameError ? 'REPLY_TOO_LARGE' : 'REPLY_UNENCODABLE';
      this.log.warn({ peer: inbound.peer, id, reason: describe(error) }, 'reply could not be sent');
      return this.sendError(inbound, id, code, describe(error));
    }
    if (inbound.connection.socket.writableLength + frame.length > 2 * this.writeQueueBytesMax) return this.dropReply(inbound, id, frame.length);
    this.sendFrame(inbound, frame);
  }

  /**
   * The hard bound on one connection's queued replies (twice writeQueueBytesMax): a reply that
   * would pass it is answered with a short REPLY_DROPPED error instead. Not `unread`: its handler
   * ran, and a write it made stands; the requester counts the reply as lost, like a timeout, and
   * as trouble with this peer, not with what it asked (isReplyDropped). This happens when a
   * peer asks for more large answers at once than the link drains (a burst of reads of large
   * values from a slow or busy peer). It used to close the connection, which failed every
   * request on it, writes included: 100 concurrent reads of a 4 MB key from one coordinator on a
   * loaded machine then all failed. The bound still holds without closing: the connection stops
   * being read past writeQueueBytesMax, so only requests already taken (at most inFlightMax)
   * answer, and each error is short.
   */
  private dropReply(inbound: Inbound, id: number, replyBytes: number | undefined): void {
    const queuedBytes = inbound.connection?.socket.writableLength ?? 0;
    const what = replyBytes === undefined ? 'reply' : `reply of ${replyBytes} bytes`;
    const message = `${what} dropped: ${queuedBytes} bytes of replies already queued to ${String(inbound.peer)} (twice writeQueueBytesMax)`;
    this.refusals.warn('reply dropped', { peer: inbound.peer, id, queuedBytes, replyBytes }, 'reply dropped: the peer is not taking its replies as fast as it asks');
    this.sendError(inbound, id, REPLY_DROPPED_CODE, message);
  }

  /** `unread`: the request was refused before anything of it was read or applied (see Envelope). */
  private sendError(inbound: Inbound, id: number, code: string, message: string, unread = false): void {
    if (inbound.connection === undefined || inbound.connection.ended) return;
    const bounded = message.slice(0, errorMessageLengthMax);
    const envelope: Envelope = unread ? { t: 'err', id, code, message: bounded, unread: true } : { t: 'err', id, code, message: bounded };
    this.sendFrame(inbound, encodeFrame(envelope, this.frameBytesMax));
  }

  private sendFrame(inbound: Inbound, frame: Buffer): void {
    const { connection } = inbound;
    assert(connection !== undefined, 'reply on a connection without a hello');
    // Replies past the hard bound were turned into short errors by sendReply (dropReply).
    connection.write(frame);
    // Soft bound: stop taking new requests until our replies drain (TCP backpressure to the peer).
    if (connection.socket.writableLength > this.writeQueueBytesMax) {
      connection.socket.pause();
      this.watchStall(inbound, connection);
    }
  }

  /**
   * While reading is paused on our replies, checks every stalledReaderMs that the peer took some
   * of them (the queue shrank; while paused only requests already taken add to it, at most
   * inFlightMax): one that took none in a whole interval is closed. 'drain' disarms it.
   */
  private watchStall(inbound: Inbound, connection: Connection): void {
    if (inbound.stallTimer !== undefined) return;
    let queued = connection.socket.writableLength;
    const check = (): void => {
      inbound.stallTimer = undefined;
      if (connection.ended) return;
      const now = connection.socket.writableLength;
      if (now === 0) return;
      if (now < queued) {
        queued = now;
        inbound.stallTimer = setTimeout(check, this.stalledReaderMs).unref();
        return;
      }
      this.abortInbound(inbound, `peer took none of ${now} bytes of replies in ${this.stalledReaderMs} ms`, 'closing connection from peer: not reading its replies');
    };
    inbound.stallTimer = setTimeout(check, this.stalledReaderMs).unref();
  }

  /** Closes the oldest connections of `inbound`'s peer past inboundPerPeerMax (see there). */
  private closeOlderOf(inbound: Inbound): void {
    const same = [...this.inbound].filter((other) => other.peer === inbound.peer && !(other.connection?.ended ?? other.raw.destroyed));
    // Insertion order is accept order: the oldest come first, and `inbound` is among them.
    for (const older of same.slice(0, Math.max(0, same.length - inboundPerPeerMax))) {
      if (older === inbound) continue;
      this.abortInbound(older, `${inboundPerPeerMax} newer connections from the same peer`, 'closing older connection from peer');
    }
  }
}

function rejection(code: TransportErrorCode, message: string): Promise<never> {
  return Promise.reject(new TransportError(code, message));
}

/** The node id a certificate (PEM) proves; throws RangeError if it proves none. */
function ownIdentity(certPem: string | Buffer): NodeId {
  let raw: Buffer;
  try {
    raw = new X509Certificate(certPem).raw;
  } catch {
    throw new RangeError('tls.cert is not a PEM certificate');
  }
  const result = identityOfCertificate(raw);
  if (!result.ok) throw new RangeError(`tls.cert: ${result.reason}`);
  if (result.identity.kind !== 'node') throw new RangeError(`tls.cert is a ${describeIdentity(result.identity)}, not a node`);
  return result.identity.id;
}
