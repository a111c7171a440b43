import type { WebhookMessage } from '../../db/queries/enqueueWebhook.ts';
import type { PredictionRow, WebhookEventKind } from '../../db/schema.ts';
import { ASPECT_RATIO_ENUM, RESOLUTION_ENUM } from '../../vocabulary.ts';

/** The `type` of each event in the body, after the Standard Webhooks convention `<resource>.<event>`. */
export const EVENT_TYPES: Record<WebhookEventKind, string> = {
  STARTED: 'prediction.started',
  UPDATED: 'prediction.updated',
  COMPLETED: 'prediction.completed',
};

/** What a caller is told when they ask for no events in particular. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventKind[] = ['COMPLETED'];

/** A GraphQL enum's name for each stored value, from the one map the schema's enum is built from. */
const namesOf = <Name extends string, Value extends string>(map: Readonly<Record<Name, Value>>) =>
  Object.fromEntries(Object.entries(map).map(([name, value]) => [value, name])) as Record<Value, Name>;
const RESOLUTION_NAMES = namesOf(RESOLUTION_ENUM);
const ASPECT_RATIO_NAMES = namesOf(ASPECT_RATIO_ENUM);

/**
 * The fields of the GraphQL `Prediction` type an event's `data` carries, under the same names. The
 * progress fields and the webhook fields themselves are left out: they describe the moment of reading,
 * not the change. test/webhook-payload.test.ts holds this list against the schema, so a field added to
 * `Prediction` is either sent here or named there as left out.
 */
export const PREDICTION_DATA_FIELDS = [
  'id',
  'status',
  'ownerId',
  'tenantId',
  'prompt',
  'model',
  'mode',
  'resolution',
  'aspectRatio',
  'duration',
  'seed',
  'upstreamId',
  'outputs',
  'videoUrl',
  'sourceUrls',
  'mirrored',
  'mirrorError',
  'error',
  'errorCode',
  'predictTime',
  'priceUsd',
  'costUsd',
  'createdAt',
  'updatedAt',
  'completedAt',
  'deadlineAt',
] as const;
export type PredictionDataField = (typeof PREDICTION_DATA_FIELDS)[number];

/**
 * The prediction as the GraphQL `Prediction` type serialises these fields (enum names, ISO dates), so a
 * receiver can reuse the types it generated from the schema.
 */
export function predictionData(row: PredictionRow) {
  const iso = (at: Date | null) => (at ? at.toISOString() : null);
  // `satisfies` below: a field sent but not listed, or listed but not sent, fails to compile.
  return {
    id: row.id,
    status: row.status,
    ownerId: row.ownerId,
    tenantId: row.tenantId,
    prompt: row.prompt,
    model: row.model,
    mode: row.mode,
    resolution: RESOLUTION_NAMES[row.resolution],
    aspectRatio: row.aspectRatio === null ? null : ASPECT_RATIO_NAMES[row.aspectRatio],
    duration: row.duration,
    seed: row.seed,
    upstreamId: row.upstreamId,
    // Atlas' links, as stored. The gateway's copies are served through signed links that expire, so
    // they are not put in a message that may be read much later: read the prediction for them.
    outputs: row.outputs,
    videoUrl: row.outputs[0] ?? null,
    sourceUrls: row.sourceUrls,
    mirrored: row.mirroredAt !== null,
    mirrorError: row.mirrorError,
    error: row.error,
    errorCode: row.errorCode,
    predictTime: row.predictTime,
    priceUsd: row.priceUsd,
    costUsd: row.costUsd,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    completedAt: iso(row.completedAt),
    deadlineAt: iso(row.deadlineAt),
  } satisfies Record<PredictionDataField, unknown>;
}

export type PredictionData = ReturnType<typeof predictionData>;

/** The JSON body of one event, exactly as it is signed and sent. */
export function eventBody(kind: WebhookEventKind, row: PredictionRow): string {
  return JSON.stringify({ type: EVENT_TYPES[kind], timestamp: row.updatedAt.toISOString(), data: predictionData(row) });
}

/** Whether this prediction's caller asked to hear of this event. */
export function wantsEvent(row: Pick<PredictionRow, 'webhookUrl' | 'webhookEvents'>, kind: WebhookEventKind): boolean {
  return row.webhookUrl !== null && (row.webhookEvents ?? DEFAULT_WEBHOOK_EVENTS).includes(kind);
}

/** The outbox message for this event of the row as it now is; undefined when its caller did not ask for it. */
export function webhookMessage(row: PredictionRow, kind: WebhookEventKind): WebhookMessage | undefined {
  if (!row.webhookUrl || !wantsEvent(row, kind)) return undefined;
  return { predictionId: row.id, event: kind, url: row.webhookUrl, body: eventBody(kind, row), at: row.updatedAt };
}
