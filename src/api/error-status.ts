// The one table from error codes to HTTP statuses. Every error the API answers carries a code
// from here; an error without one is a bug and answers 500.

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  KEY_INVALID: 400,
  BAD_CONTEXT: 400,
  BAD_QUORUM: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  UNKNOWN_MEMBER: 404,
  MEMBER_EXISTS: 409,
  ADDRESS_IN_USE: 409,
  TOO_FEW_NODES: 409,
  TOO_MANY_MEMBERS: 409,
  BAD_MEMBER: 400,
  TOO_MANY_SIBLINGS: 409,
  VALUE_TOO_LARGE: 413,
  RECORD_TOO_LARGE: 413,
  CLOCK_AHEAD: 500,
  RECORD_CORRUPT: 500,
  STORAGE_FAILED: 500,
  QUORUM_FAILED: 503,
  COORDINATOR_UNREACHABLE: 503,
  NO_RING: 503,
  NOT_A_MEMBER: 503,
} as const;

export type ApiErrorCode = keyof typeof ERROR_STATUS;

export function statusOf(code: unknown): number | undefined {
  return typeof code === 'string' && code in ERROR_STATUS ? ERROR_STATUS[code as ApiErrorCode] : undefined;
}

/** An error raised by the API layer itself (validation), with its code. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
