import { ErrorCode } from '../errorCodes.ts';

/**
 * Why a call to Atlas did not give us a prediction: the codes an AtlasError can carry. The code is
 * what GraphQL clients see in `extensions.code` (each is described in errorCodes.ts).
 */
const ATLAS_ERROR_CODES = [
  ErrorCode.UPSTREAM_REJECTED, // 400, 404, 413, 422: the request itself was refused
  ErrorCode.UPSTREAM_UNAUTHORIZED, // 401: the gateway's key is wrong (an operator problem, not the user's)
  ErrorCode.INSUFFICIENT_BALANCE, // 402
  ErrorCode.UPSTREAM_FORBIDDEN, // 403, 451
  ErrorCode.UPSTREAM_RATE_LIMITED, // 429
  ErrorCode.UPSTREAM_UNAVAILABLE, // 500, 503, unreachable, redirected: Atlas says it did not take the request
  ErrorCode.UPSTREAM_TIMEOUT, // a status call ran out of time
  ErrorCode.SUBMISSION_UNKNOWN, // a create call was sent but its outcome is unknown (timeout, reset, 502, 504): it may have been billed
] as const;
export type AtlasErrorCode = (typeof ATLAS_ERROR_CODES)[number];

const TRANSIENT_CODES: ReadonlySet<AtlasErrorCode> = new Set([
  ErrorCode.UPSTREAM_RATE_LIMITED,
  ErrorCode.UPSTREAM_UNAVAILABLE,
  ErrorCode.UPSTREAM_TIMEOUT,
]);

export class AtlasError extends Error {
  override readonly name = 'AtlasError';
  constructor(
    readonly code: AtlasErrorCode,
    message: string,
    readonly details: { httpStatus?: number; requestId?: string } = {},
    /** `cause`: what went wrong underneath (a refused connection), written to the log with it. */
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** Worth another try for a status call (never for a create call, which could bill twice). */
  get transient(): boolean {
    return TRANSIENT_CODES.has(this.code);
  }
}

export function codeForHttpStatus(status: number, call: 'create' | 'status' | 'upload'): AtlasErrorCode {
  // A gateway in front of Atlas lost the answer: a create may well have been processed.
  if (call === 'create' && (status === 502 || status === 504)) return ErrorCode.SUBMISSION_UNKNOWN;
  if (status === 401) return ErrorCode.UPSTREAM_UNAUTHORIZED;
  if (status === 402) return ErrorCode.INSUFFICIENT_BALANCE;
  if (status === 403 || status === 451) return ErrorCode.UPSTREAM_FORBIDDEN;
  if (status === 429) return ErrorCode.UPSTREAM_RATE_LIMITED;
  if (status >= 500 || (status >= 300 && status < 400)) return ErrorCode.UPSTREAM_UNAVAILABLE;
  return ErrorCode.UPSTREAM_REJECTED;
}
