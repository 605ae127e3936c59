// The injected peer transport: request/reply between nodes, addressed by node id. Core modules
// talk to peers only through this interface (memberlist's transport.go is the model).
// Production: src/transport/tcp-transport.ts. Simulation: sim/sim-network.ts.

export type NodeId = string;

/** The longest request timeout: Node's timers cannot wait longer (a larger delay fires at once). */
export const requestTimeoutMsMax = 2_147_483_647;

/** Why a request produced no reply. */
export type TransportErrorCode =
  | 'UNREACHABLE' // no connection could be made, or the peer is unknown
  | 'TIMEOUT' // no reply within the timeout; the request may still have been processed
  | 'CLOSED' // the connection or the transport closed while the request was in flight
  | 'REMOTE_ERROR' // the peer received the request and answered with an error
  | 'OVERLOADED'; // too many requests already in flight to this peer

export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/**
 * Thrown (or rejected) by a request handler that refuses a request before reading it: nothing of
 * it was applied. The transport tells the caller so (RemoteError.refusedUnread), which lets a
 * caller retry elsewhere without risking a double apply. Any other handler error, whatever its
 * code, says nothing either way.
 */
export class RefusedUnread extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RefusedUnread';
  }
}

/** Answers one incoming request; a rejection is sent back to the caller as REMOTE_ERROR. */
export type RequestHandler<Req, Rep> = (from: NodeId, request: Req) => Promise<Rep>;

export interface Transport<Req, Rep> {
  /**
   * Sends `request` to `to` and resolves with its reply. Delivery is at most once per call, never
   * guaranteed: the request may be lost, and a TIMEOUT says nothing about whether it was applied.
   * Rejects only with TransportError. Requests to self are not allowed (callers act locally):
   * like a timeout outside (0, requestTimeoutMsMax], they are programmer errors and throw.
   * Requests to one peer are bounded: past the implementation's limit of requests in flight to
   * it, the request rejects OVERLOADED at once, without being sent; so does one larger than a frame.
   */
  request(to: NodeId, request: Req, timeoutMs: number): Promise<Rep>;
  /** Installs the handler for incoming requests; must be called once, before traffic arrives. */
  serve(handler: RequestHandler<Req, Rep>): void;
  /** Stops accepting and sending; in-flight requests reject with CLOSED. */
  close(): Promise<void>;
}
