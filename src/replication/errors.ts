// Errors a client of the coordinator must handle, each with a stable code. The HTTP layer maps
// codes to statuses in one table (src/api/error-status.ts); nothing else inspects messages.

export type CoordinationErrorCode =
  | 'QUORUM_FAILED' // fewer than R/W replicas answered in time
  | 'BAD_QUORUM' // R or W outside 1..N
  | 'TOO_MANY_SIBLINGS' // the write would grow the key past siblingsMax
  | 'COORDINATOR_UNREACHABLE' // no preference-list node could coordinate a forwarded write
  | 'RECORD_TOO_LARGE' // the key's versions with this write would exceed RECORD_BYTES_MAX
  | 'CLOCK_AHEAD' // stored versions claim this node issued a dot it never issued (corruption)
  | 'NOT_A_MEMBER'; // this node was removed from the ring: send requests to a member

export class CoordinationError extends Error {
  constructor(
    readonly code: CoordinationErrorCode,
    message: string,
    /** For QUORUM_FAILED: how many replicas answered and how many were needed. */
    readonly replies?: { readonly ok: number; readonly needed: number },
  ) {
    super(message);
    this.name = 'CoordinationError';
  }
}
