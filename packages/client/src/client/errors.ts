import type { GraphQLFormattedError } from 'graphql';
import type { PredictionFieldsFragment, UploadFieldsFragment } from './generated/graphql.ts';

/**
 * The message for a request that got no HTTP status at all: fetch threw (Node: "fetch failed";
 * browsers: "Failed to fetch", "Load failed", "NetworkError when attempting to fetch resource"). A
 * browser reports a CORS refusal exactly like a dead server, so both likely causes are named.
 */
export function unreachableMessage(what: string, url: string, cause: unknown): string {
  const reason = cause instanceof Error ? cause.message : String(cause);
  // Node's fetch hides the socket error one level down (ECONNREFUSED, ENOTFOUND …).
  const inner = (cause as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = typeof inner?.code === 'string' ? inner.code : inner?.message;
  return (
    `${what} ${url} got no HTTP answer (${reason}${typeof detail === 'string' ? `: ${detail}` : ''}). ` +
    "From a browser on another origin this is most likely CORS: list the page's origin in the gateway's " +
    'CORS_ORIGINS, or call the gateway through your dev server (a proxy for /graphql, so it is the same ' +
    'origin). Otherwise check the URL and that the gateway is running.'
  );
}

/**
 * Every failure the client reports. `code` is the GraphQL `extensions.code` (BAD_USER_INPUT,
 * NOT_FOUND, INSUFFICIENT_BALANCE, SUBMISSION_UNKNOWN …), a prediction's `errorCode` once it failed,
 * or NETWORK_ERROR / HTTP_<status> when no GraphQL answer arrived (NETWORK_ERROR: no HTTP status at
 * all, the message naming CORS as the likely cause in a browser, the fetch error as `cause`). From uploadMedia also: ABORTED (its
 * signal), UPLOAD_REJECTED (an UploadRejectedError) and UPLOAD_NOT_RECEIVED (the PUT ended but the
 * gateway holds no bytes).
 */
export class VideoClientError extends Error {
  override readonly name: string = 'VideoClientError';
  readonly code: string;
  readonly errors: readonly GraphQLFormattedError[];
  /** `extensions` of the first error, e.g. `predictionId` for a failed submission or `issues` for bad input. */
  readonly extensions: Readonly<Record<string, unknown>>;
  /** The prediction, when it ended FAILED or CANCELED (from generateAndWait). */
  readonly prediction: PredictionFieldsFragment | undefined;

  constructor(
    message: string,
    options: {
      code: string;
      errors?: readonly GraphQLFormattedError[];
      cause?: unknown;
      prediction?: PredictionFieldsFragment;
    },
  ) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.prediction = options.prediction;
    this.errors = options.errors ?? [];
    this.extensions = this.errors[0]?.extensions ?? {};
  }

  static fromGraphQL(errors: readonly GraphQLFormattedError[]): VideoClientError {
    const code = typeof errors[0]?.extensions?.code === 'string' ? errors[0].extensions.code : 'GRAPHQL_ERROR';
    return new VideoClientError(errors.map((error) => error.message).join('; '), { code, errors });
  }
}

/** The gateway checked an upload's bytes and refused them: `rejectionReason` names the rule (contentType, byteSize, dimensions). */
export class UploadRejectedError extends VideoClientError {
  override readonly name = 'UploadRejectedError';
  readonly upload: UploadFieldsFragment;
  readonly rejectionReason: string;

  constructor(upload: UploadFieldsFragment) {
    const reason = upload.rejectionReason ?? 'no reason given';
    super(`Upload rejected: ${reason}`, { code: 'UPLOAD_REJECTED' });
    this.upload = upload;
    this.rejectionReason = reason;
  }
}
