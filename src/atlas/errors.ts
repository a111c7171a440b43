/**
 * Why a call to Atlas did not give us a prediction. The code is what GraphQL clients see in
 * `extensions.code`, so these names are part of the public contract.
 */
export type AtlasErrorCode =
  | 'UPSTREAM_REJECTED' // 400, 404, 413, 422: the request itself was refused
  | 'UPSTREAM_UNAUTHORIZED' // 401: the gateway's key is wrong (an operator problem, not the user's)
  | 'INSUFFICIENT_BALANCE' // 402
  | 'UPSTREAM_FORBIDDEN' // 403, 451
  | 'UPSTREAM_RATE_LIMITED' // 429
  | 'UPSTREAM_UNAVAILABLE' // 500, 503, unreachable, redirected: Atlas says it did not take the request
  | 'UPSTREAM_TIMEOUT' // a status call ran out of time
  | 'SUBMISSION_UNKNOWN'; // a create call was sent but its outcome is unknown (timeout, reset, 502, 504): it may have been billed

export class AtlasError extends Error {
  override readonly name = 'AtlasError';
  constructor(
    readonly code: AtlasErrorCode,
    message: string,
    readonly details: { httpStatus?: number; requestId?: string } = {},
  ) {
    super(message);
  }

  /** Worth another try for a status call (never for a create call, which could bill twice). */
  get transient(): boolean {
    return ['UPSTREAM_RATE_LIMITED', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT'].includes(this.code);
  }
}

export function codeForHttpStatus(status: number, call: 'create' | 'status'): AtlasErrorCode {
  // A gateway in front of Atlas lost the answer: a create may well have been processed.
  if (call === 'create' && (status === 502 || status === 504)) return 'SUBMISSION_UNKNOWN';
  if (status === 401) return 'UPSTREAM_UNAUTHORIZED';
  if (status === 402) return 'INSUFFICIENT_BALANCE';
  if (status === 403 || status === 451) return 'UPSTREAM_FORBIDDEN';
  if (status === 429) return 'UPSTREAM_RATE_LIMITED';
  if (status >= 500 || (status >= 300 && status < 400)) return 'UPSTREAM_UNAVAILABLE';
  return 'UPSTREAM_REJECTED';
}
