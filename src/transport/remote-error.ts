// The REMOTE_ERROR a request rejects with when the peer's handler failed: a TransportError that
// also carries the peer's stable error code, so callers can branch on it without parsing text.
// It adds no behaviour; any transport (TCP or simulated) may throw it.
import { TransportError } from '../env/transport.ts';

export class RemoteError extends TransportError {
  constructor(
    /** The peer handler's error code (its `code` property), or HANDLER_FAILED / NO_HANDLER / OVERLOADED / REPLY_*. */
    readonly remoteCode: string,
    /** The peer's error message, bounded by envelope.ts's errorMessageLengthMax. */
    readonly remoteMessage: string,
  ) {
    super('REMOTE_ERROR', `${remoteCode}: ${remoteMessage}`);
    this.name = 'RemoteError';
  }
}

/**
 * Peer error codes sent before the peer's handler read the request (a refusal at its door: not
 * ready, not a member, no handler, too many in flight). A request answered so was not applied.
 */
const REFUSED_UNREAD_CODES: ReadonlySet<string> = new Set(['NOT_READY', 'NOT_A_MEMBER', 'NO_HANDLER', 'OVERLOADED']);

/**
 * Whether a failed request is known not to have been applied by its target: it never left this
 * node (UNREACHABLE, or OVERLOADED here), or the peer refused it unread. A TIMEOUT, a CLOSED
 * connection or any other remote error says nothing either way.
 */
export function provenNotApplied(err: TransportError): boolean {
  if (err.code === 'UNREACHABLE' || err.code === 'OVERLOADED') return true;
  return err instanceof RemoteError && REFUSED_UNREAD_CODES.has(err.remoteCode);
}
