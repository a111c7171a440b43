import { Webhook } from 'standardwebhooks';
import type { AspectRatio, Mode, PredictionStatus, Resolution } from '../client/generated/graphql.ts';

/**
 * Checking the gateway's outbound webhooks on the receiving side: the Standard Webhooks signature
 * (HMAC-SHA256 over `webhook-id.webhook-timestamp.body` with the gateway's WEBHOOK_SIGNING_SECRET)
 * and the timestamp's age, with the `standardwebhooks` package the gateway signs with.
 */

/** `type` of each event: STARTED, UPDATED and COMPLETED in the Standard Webhooks spelling. */
export type PredictionWebhookType = 'prediction.started' | 'prediction.updated' | 'prediction.completed';

/**
 * The prediction as it was at the change, these fields as the GraphQL `Prediction` type gives them
 * (enum names, ISO dates). `outputs` and `videoUrl` are always Atlas' links; read the prediction for
 * the gateway's own (signed, expiring) copies.
 */
export interface PredictionWebhookData {
  id: string;
  status: PredictionStatus;
  ownerId: string;
  tenantId: string | null;
  prompt: string | null;
  model: string;
  mode: Mode;
  resolution: Resolution;
  aspectRatio: AspectRatio | null;
  duration: number | null;
  seed: number | null;
  upstreamId: string | null;
  outputs: string[];
  videoUrl: string | null;
  sourceUrls: string[];
  mirrored: boolean;
  mirrorError: string | null;
  error: string | null;
  errorCode: string | null;
  predictTime: number | null;
  priceUsd: number;
  costUsd: number | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  deadlineAt: string | null;
}

/** The body of one delivery. Order a job's events by `timestamp` (its updatedAt). */
export interface PredictionWebhookEvent {
  type: PredictionWebhookType;
  timestamp: string;
  data: PredictionWebhookData;
}

/** Why a delivery was refused. */
export type WebhookRefusal =
  | 'MISSING_HEADERS'
  | 'BAD_TIMESTAMP'
  | 'TIMESTAMP_TOO_OLD'
  | 'TIMESTAMP_TOO_NEW'
  | 'BAD_SIGNATURE'
  | 'BAD_PAYLOAD';

/** The delivery is not to be trusted (or not the gateway's): answer 400 and do nothing with it. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly reason: WebhookRefusal;

  constructor(reason: WebhookRefusal, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export interface VerifyWebhookOptions {
  /** The raw body, exactly as received: verify before any JSON parsing (a re-serialised body fails). */
  body: string | Uint8Array;
  /** The request's headers: a fetch `Headers`, Node's `req.headers`, or a plain record. */
  headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The gateway's WEBHOOK_SIGNING_SECRET (`whsec_…`). */
  secret: string;
}

/** How far webhook-timestamp may be from now: the standardwebhooks package's fixed window, 5 minutes. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

const HEADER_NAMES = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/** The three Standard Webhooks headers, by lower-case name; repeated ones joined as a list is. */
function signatureHeaders(headers: VerifyWebhookOptions['headers']): Record<string, string> {
  const entries: [string, string | readonly string[] | undefined][] = [];
  // forEach, not entries(): the DOM lib without DOM.Iterable (as a consumer may compile with) has only that.
  if (typeof (headers as Headers).get === 'function')
    (headers as Headers).forEach((value, name) => {
      entries.push([name, value]);
    });
  else entries.push(...Object.entries(headers as Record<string, string | readonly string[] | undefined>));
  const found: Record<string, string> = {};
  for (const [name, value] of entries) {
    const key = name.toLowerCase();
    if (!(HEADER_NAMES as readonly string[]).includes(key) || value === undefined) continue;
    found[key] = typeof value === 'string' ? value : value.join(' ');
  }
  return found;
}

/**
 * Verify one delivery of the gateway's webhooks and return its event, typed. Throws a
 * WebhookVerificationError (its `reason` says which check failed) for missing headers, a timestamp
 * more than 5 minutes off (a replay, or a clock that is wrong), a signature that does not match (a
 * wrong secret, a body changed on the way, a forgery), or a signed body that is no gateway event.
 * Delivery is at least once: drop repeats by the `webhook-id` header.
 */
export function verifyWebhook({ body, headers, secret }: VerifyWebhookOptions): PredictionWebhookEvent {
  const found = signatureHeaders(headers);
  const missing = HEADER_NAMES.filter((name) => !found[name]);
  if (missing.length > 0)
    throw new WebhookVerificationError(
      'MISSING_HEADERS',
      `Not a signed webhook: missing the ${missing.join(', ')} header${missing.length > 1 ? 's' : ''}`,
    );
  // The package checks the timestamp too, but says only "too old": this says by how much.
  const sentAt = Number(found['webhook-timestamp']);
  if (!Number.isInteger(sentAt))
    throw new WebhookVerificationError('BAD_TIMESTAMP', 'The webhook-timestamp header is not a number of seconds');
  const age = Math.floor(Date.now() / 1000) - sentAt;
  if (age > WEBHOOK_TOLERANCE_SECONDS)
    throw new WebhookVerificationError(
      'TIMESTAMP_TOO_OLD',
      `The webhook was signed ${age} s ago, more than the ${WEBHOOK_TOLERANCE_SECONDS} s allowed: a replay, or this machine's clock is off`,
    );
  if (-age > WEBHOOK_TOLERANCE_SECONDS)
    throw new WebhookVerificationError(
      'TIMESTAMP_TOO_NEW',
      `The webhook's timestamp is ${-age} s in the future, more than the ${WEBHOOK_TOLERANCE_SECONDS} s allowed: a clock is off`,
    );

  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  let verifier: Webhook;
  try {
    verifier = new Webhook(secret);
  } catch (cause) {
    // A configuration mistake, not a bad delivery: not a WebhookVerificationError.
    throw new Error('The webhook secret is not a whsec_… secret (base64 after the prefix)', { cause });
  }
  let event: unknown;
  try {
    event = verifier.verify(text, found);
  } catch (cause) {
    throw new WebhookVerificationError(
      'BAD_SIGNATURE',
      "The webhook's signature does not match: a wrong secret (use the gateway's WEBHOOK_SIGNING_SECRET), " +
        'a body changed on the way (verify the raw bytes, before parsing JSON), or not from the gateway',
      { cause },
    );
  }
  if (!isEvent(event))
    throw new WebhookVerificationError(
      'BAD_PAYLOAD',
      'The signature matches, but the body is not a prediction event: is the secret shared with another sender?',
    );
  return event;
}

/**
 * The shape, checked lightly: the signature already proves the gateway sent it, this only guards
 * against a secret shared with a sender of other events.
 */
function isEvent(value: unknown): value is PredictionWebhookEvent {
  const event = value as Partial<PredictionWebhookEvent> | null;
  return (
    typeof event === 'object' &&
    event !== null &&
    typeof event.type === 'string' &&
    event.type.startsWith('prediction.') &&
    typeof event.timestamp === 'string' &&
    typeof event.data === 'object' &&
    event.data !== null &&
    typeof event.data.id === 'string' &&
    typeof event.data.status === 'string'
  );
}
