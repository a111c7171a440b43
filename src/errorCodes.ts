/**
 * Every code the gateway itself sends: in an error's `extensions.code` (GraphQL, and the answers it
 * writes itself), and as a prediction's `errorCode` (the predictions.error_code column, webhooks,
 * subscriptions). Clients branch on these names, so they are part of the public contract.
 *
 * The README's "Errors" table is made from this list (`npm run docs:errors`), and
 * test/error-codes.test.ts fails when the two disagree.
 */

/** Where a code is seen: an error's `extensions.code`, a prediction's `errorCode`, or both. */
export type CodeSeenIn = 'error' | 'prediction' | 'error, prediction';

export interface ErrorCodeEntry {
  readonly seenIn: CodeSeenIn;
  /** The HTTP status the gateway answers with for it, where it sets one; otherwise it comes in a GraphQL answer's `errors`. */
  readonly httpStatus?: number;
  /** What it means, in one line (the README's "when"). */
  readonly meaning: string;
}

function defineCodes<const Codes extends Record<string, ErrorCodeEntry>>(codes: Codes): Codes {
  return codes;
}

export const ERROR_CODES = defineCodes({
  // The request itself.
  BAD_USER_INPUT: {
    seenIn: 'error',
    meaning:
      'the input breaks a rule; the message names the field and the rule, `extensions.issues` lists them. Nothing was stored or sent. A prompt may not contain NUL (U+0000) or unpaired surrogates.',
  },
  BAD_REQUEST: {
    seenIn: 'error',
    meaning:
      'the request is malformed: not a JSON object, neither a query nor a persisted document hash, or a path the gateway will not interpret (`/videos/../x`). Nothing ran.',
  },
  UNAUTHENTICATED: {
    seenIn: 'error',
    httpStatus: 401,
    meaning:
      'a credential is required and missing, or the one given does not hold (expired, wrong issuer or audience, bad signature, unaccepted algorithm, unknown or revoked key); a subscription whose credential lapses ends with it. Nothing ran.',
  },
  FORBIDDEN: {
    seenIn: 'error',
    meaning:
      'an admin-only request (`usage(everyone: true)`) from someone who is not; HTTP 403 for an upload link whose signature is missing, wrong or expired',
  },
  NOT_FOUND: {
    seenIn: 'error',
    meaning:
      "`predictionUpdated`, `cancelPrediction`, `redeliverWebhook` or `completeUpload` on an unknown id, or on someone else's (`prediction` and `upload` answer `null` instead); HTTP 404 for a path nothing is served at",
  },
  METHOD_NOT_ALLOWED: {
    seenIn: 'error',
    httpStatus: 405,
    meaning: 'an HTTP method the gateway does not serve (CONNECT)',
  },
  REQUEST_ENTITY_TOO_LARGE: {
    seenIn: 'error',
    httpStatus: 413,
    meaning: 'the request body is over 1 MiB (a document with its variables is a few KiB). Nothing ran.',
  },
  QUERY_TOO_COMPLEX: {
    seenIn: 'error',
    meaning:
      "the document is over one of the limits (graphql-armor's defaults, depth raised to 8); `extensions.limit` says which: `tokens` (1000), `directives` (50), `aliases` (15), `cost` (5000), `depth` (8)",
  },
  INTROSPECTION_DISABLED: {
    seenIn: 'error',
    meaning: '`__schema` or `__type` asked of a gateway with introspection off (see `INTROSPECTION`)',
  },
  PERSISTED_QUERY_ONLY: {
    seenIn: 'error',
    meaning:
      'this gateway runs only persisted operations (`PERSISTED_OPERATIONS=only`) and the request sent a document, or no hash',
  },
  PERSISTED_QUERY_NOT_FOUND: {
    seenIn: 'error',
    meaning: 'no persisted operation has the hash the request names',
  },
  TOO_MANY_OPERATIONS: {
    seenIn: 'error',
    meaning: 'one WebSocket already runs as many operations as it may at once; `extensions.limit` says how many',
  },
  // Admission: refused before anything was stored or sent.
  TOO_MANY_ACTIVE_JOBS: {
    seenIn: 'error',
    meaning: '`LIMIT_ACTIVE_JOBS` reached; `extensions.limit`, `extensions.active`',
  },
  RATE_LIMITED: {
    seenIn: 'error',
    meaning: '`LIMIT_JOBS_PER_MINUTE` reached; `extensions.retryAfterMs` says when there is room',
  },
  BUDGET_EXCEEDED: {
    seenIn: 'error',
    meaning:
      "the job would pass `LIMIT_DAILY_SPEND_USD` (yours) or `LIMIT_DAILY_SPEND_USD_TOTAL` (the gateway's); `extensions.limitName`, `limit`, `spentUsd`, `priceUsd`",
  },
  UPLOAD_LIMIT_EXCEEDED: {
    seenIn: 'error',
    meaning:
      'the upload would pass `LIMIT_UPLOAD_BYTES_PER_DAY` (declared bytes of your uploads created today, UTC); `extensions.limit`, `usedBytes`, `byteSize`. Nothing was stored.',
  },
  UPLOAD_ALREADY_SENT: {
    seenIn: 'error',
    httpStatus: 409,
    meaning: "a second `PUT` to an upload's link: its bytes were already sent (or are being sent)",
  },
  UPLOAD_REJECTED: {
    seenIn: 'error',
    httpStatus: 422,
    meaning:
      "the `PUT` of an upload's bytes broke a rule (size, type, image header); the upload is `REJECTED` with the same `rejectionReason`, and nothing is kept",
  },
  IDEMPOTENCY_KEY_REUSED: {
    seenIn: 'error',
    meaning:
      "this `idempotencyKey` went with a different request in the last 24 hours; `extensions.predictionId` is that request's job",
  },
  // The gateway's own state.
  SHUTTING_DOWN: {
    seenIn: 'error',
    meaning: 'this gateway is stopping and takes no new submissions; submit again (to another instance)',
  },
  DATABASE_UNAVAILABLE: {
    seenIn: 'error',
    httpStatus: 503,
    meaning: 'the database cannot be reached right now; worth a retry shortly',
  },
  INTERNAL_SERVER_ERROR: {
    seenIn: 'error',
    httpStatus: 500,
    meaning: 'an unexpected error; its details are in the log under the request id, never in the answer',
  },
  // Atlas Cloud's answer to a call (AtlasError): on `generateVideo`, the job is stored as FAILED with the same errorCode.
  UPSTREAM_REJECTED: {
    seenIn: 'error, prediction',
    meaning: 'Atlas refused the request (400, 404, 413, 422)',
  },
  UPSTREAM_UNAUTHORIZED: {
    seenIn: 'error, prediction',
    meaning: "the gateway's Atlas key is wrong (401): an operator problem, not the caller's",
  },
  UPSTREAM_FORBIDDEN: {
    seenIn: 'error, prediction',
    meaning: "the gateway's Atlas key is not allowed this (403, 451)",
  },
  INSUFFICIENT_BALANCE: {
    seenIn: 'error, prediction',
    meaning: 'the Atlas account is out of credit (402)',
  },
  UPSTREAM_RATE_LIMITED: {
    seenIn: 'error, prediction',
    meaning: 'Atlas said 429',
  },
  UPSTREAM_UNAVAILABLE: {
    seenIn: 'error, prediction',
    meaning: 'Atlas answered 500 or 503, redirected, or could not be reached: it did not take the job',
  },
  UPSTREAM_TIMEOUT: {
    seenIn: 'error',
    meaning:
      'a status call to Atlas ran out of time; the job is polled again (seen in logs and metrics, not by clients)',
  },
  SUBMISSION_UNKNOWN: {
    seenIn: 'error, prediction',
    meaning:
      "the submission was sent but its answer was lost (timeout, reset, a 502 or 504 from Atlas' edge): the job may exist and may have been billed, so it is **not** resubmitted",
  },
  // How a job that was taken ended.
  CONTENT_POLICY: {
    seenIn: 'prediction',
    meaning: "Atlas' content moderation refused the prompt (its error_code 1039)",
  },
  NO_OUTPUT: {
    seenIn: 'prediction',
    meaning: 'Atlas reported the job done but gave no usable video URL',
  },
  UPSTREAM_FAILED: {
    seenIn: 'prediction',
    meaning: 'Atlas reported the job failed, without an `error_code` the gateway passes on (see `UPSTREAM_<code>`)',
  },
  UPSTREAM_TIMED_OUT: {
    seenIn: 'prediction',
    meaning: 'Atlas gave up on the job',
  },
  TIMED_OUT: {
    seenIn: 'prediction',
    meaning:
      'the job had not finished by its deadline (`timeoutSeconds`, else `PREDICTION_TIMEOUT_MS`); it is charged, as Atlas may still bill it',
  },
  CANCELED: {
    seenIn: 'prediction',
    meaning: '`cancelPrediction` ended the job (status `CANCELED`)',
  },
});

export type ErrorCode = keyof typeof ERROR_CODES;

/** Each code by name, to write `ErrorCode.TIMED_OUT` rather than a string that nothing checks. */
export const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERROR_CODES).map((code) => [code, code]))) as {
  readonly [Code in ErrorCode]: Code;
};

/** A prediction's errorCode made from Atlas' own `error_code` (1 to 32 letters, digits or underscores). */
export type UpstreamErrorCode = `UPSTREAM_${string}`;

export function upstreamErrorCode(atlasCode: string): UpstreamErrorCode {
  return `UPSTREAM_${atlasCode}`;
}

/** Codes made from a pattern rather than listed: documented with the others. */
export const ERROR_CODE_PATTERNS: Readonly<Record<string, ErrorCodeEntry>> = {
  'UPSTREAM_<code>': {
    seenIn: 'prediction',
    meaning:
      'Atlas reported the job failed with its own `error_code`, when that is 1 to 32 letters, digits or underscores (`UPSTREAM_FAILED` otherwise)',
  },
};
