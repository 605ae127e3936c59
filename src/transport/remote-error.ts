// The REMOTE_ERROR a request rejects with when the peer's handler failed: a TransportError that
// also carries the peer's stable error code, so callers can branch on it without parsing text.
// It adds no behaviour; any transport (TCP or simulated) may throw it.
import { TransportError } from '../env/transport.ts';

export class RemoteError extends TransportError {
  constructor(
    /** The peer handler's error code (its `code` property), or HANDLER_FAILED / NO_HANDLER / OVERLOADED / REPLY_* (REPLY_DROPPED_CODE among them). */
    readonly remoteCode: string,
    /** The peer's error message, bounded by envelope.ts's errorMessageLengthMax. */
    readonly remoteMessage: string,
    /**
     * The peer refused the request before reading it (its transport's door, or a RefusedUnread
     * from its handler), so nothing of it was applied. False says nothing either way.
     */
    readonly refusedUnread = false,
  ) {
    super('REMOTE_ERROR', `${remoteCode}: ${remoteMessage}`);
    this.name = 'RemoteError';
  }
}

/**
 * The code of a reply the peer dropped because its link to us was full of replies we had not
 * taken yet (TcpTransport's bound on queued replies). Its handler ran: like a TIMEOUT, this says
 * nothing about whether the request was applied, and it is about the peer and its link, never
 * about what the request carried.
 */
export const REPLY_DROPPED_CODE = 'REPLY_DROPPED';

/** Whether `err` is a reply the peer dropped (REPLY_DROPPED_CODE): a loss of the reply, not a refusal. */
export function isReplyDropped(err: unknown): boolean {
  return err instanceof RemoteError && err.remoteCode === REPLY_DROPPED_CODE;
}

/**
 * Whether a failed request is known not to have been applied by its target: it never left this
 * node (UNREACHABLE, or OVERLOADED here), or the peer said it refused it unread (the err frame's
 * `unread` flag, never inferred from a code: a handler may fail with any code after applying
 * part of a request). A TIMEOUT, a CLOSED connection or any other remote error says nothing
 * either way.
 */
export function provenNotApplied(err: TransportError): boolean {
  if (err.code === 'UNREACHABLE' || err.code === 'OVERLOADED') return true;
  return err instanceof RemoteError && err.refusedUnread;
}
