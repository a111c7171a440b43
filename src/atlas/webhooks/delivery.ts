import { z } from 'zod';
import type { SecretRedactor } from '../../redact.ts';
import { parsePredictionReply, type UpstreamPrediction } from '../replies.ts';
import { sanitizeReply } from '../untrusted.ts';

/**
 * An Atlas webhook body (see UPSTREAM.md): `session_id` is the prediction id, `status` OK or ERROR,
 * `payload` the prediction as a status call gives it, `error` a message. Parsed loosely, like replies.
 */
const DeliveryBody = z.looseObject({
  event_type: z.string().max(64).nullish(),
  session_id: z.string().min(1).max(256),
  status: z.string().max(64).nullish(),
  payload: z.looseObject({ id: z.string().nullish(), status: z.string().nullish() }).nullish(),
  error: z.string().nullish(),
});

export type ReadDelivery =
  | { ok: true; sessionId: string; eventType: string | null; prediction: UpstreamPrediction; redacted: number }
  | { ok: false; reason: string };

/** The verified raw body as a prediction reading, through the same sanitising and parsing as a status reply. */
export function readDelivery(rawBody: string, redactor: SecretRedactor): ReadDelivery {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    return { ok: false, reason: 'the body is not JSON' };
  }
  const { value, redacted } = sanitizeReply(json, redactor);
  const parsed = DeliveryBody.safeParse(value);
  if (!parsed.success)
    return {
      ok: false,
      reason:
        `the body is not a webhook delivery: ${parsed.error.issues[0]?.path.join('.') || 'body'} ${parsed.error.issues[0]?.message ?? ''}`.trim(),
    };
  const body = parsed.data;
  if (body.payload?.id && body.payload.id !== body.session_id)
    return { ok: false, reason: 'payload.id and session_id differ' };
  const { outputs, error: payloadError } = (body.payload ?? {}) as { outputs?: unknown; error?: unknown };
  // The payload's own word decides, as in a status reply. Without one, ERROR means failed, and OK is
  // taken as done only when it carries outputs (an OK with nothing to show is left to the poller).
  const status =
    body.payload?.status ??
    (body.status === 'ERROR'
      ? 'failed'
      : body.status === 'OK' && Array.isArray(outputs) && outputs.length > 0
        ? 'completed'
        : undefined);
  const prediction = parsePredictionReply({
    ...body.payload,
    id: body.session_id,
    status: status ?? 'unknown',
    error: typeof payloadError === 'string' ? payloadError : (body.error ?? null),
  });
  if (!prediction) return { ok: false, reason: 'the payload could not be read as a prediction' };
  return { ok: true, sessionId: body.session_id, eventType: body.event_type ?? null, prediction, redacted };
}
