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
