/**
 * What every job mutation shares (generateVideo, generateVideoFromImage, generateVideoFromReferences,
 * editVideo): the submission fields, their rules, the payload, and the one path from a checked input
 * to a stored, submitted job.
 */
import { z } from 'zod';
import type { PredictionRow } from '../db/schema.ts';
import type { ParamName } from '../models/descriptor.ts';
import { defaultModelOf, findModel, modelIdsOf, paramRules, withDefaults } from '../models/index.ts';
import { FieldsRefused } from '../predictions/generate.ts';
import type { Mode } from '../vocabulary.ts';
import type { GatewayContext } from './builder.ts';
import { builder } from './builder.ts';
import { checkMedia, type GivenMedia } from './mediaInput.ts';
import { Prediction } from './prediction.ts';
import { WebhookInput, webhookInputRules } from './webhookInput.ts';

type InputFieldBuilder = Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0];

/** `model`: which of the mode's models (its first by default); the schema lists them in the description. */
export const modelField = (t: InputFieldBuilder, mode: Mode) =>
  t.string({
    defaultValue: defaultModelOf(mode).id,
    description: `The model: ${modelIdsOf(mode).join(', ')}.`,
  });

export const modelRule = (mode: Mode) => {
  const ids = modelIdsOf(mode);
  return z.enum(ids, { error: `must be one of: ${ids.join(', ')}` }).nullish();
};

/** The fields about the submission rather than the video, the same on every job mutation. */
export const submissionFields = (t: InputFieldBuilder) => ({
  timeoutSeconds: t.int({
    description:
      'End the job FAILED with TIMED_OUT if it has not finished after this many seconds (30 to 3600), instead of the gateway default.',
  }),
  idempotencyKey: t.string({
    description:
      'Your key for this submission (1 to 255 characters): a repeat with the same key within 24 hours returns the same prediction instead of a second paid job; the same key with a different request is refused (IDEMPOTENCY_KEY_REUSED).',
  }),
  webhook: t.field({
    type: WebhookInput,
    description:
      "Tell your backend of this job's changes: signed, retried POSTs. Needs WEBHOOK_SIGNING_SECRET on the gateway.",
  }),
});

export const submissionRules = {
  timeoutSeconds: z
    .number()
    .int('must be whole seconds')
    .min(30, 'must be from 30 to 3600 seconds')
    .max(3600, 'must be from 30 to 3600 seconds')
    .nullish(),
  idempotencyKey: z
    .string()
    .min(1, 'must be 1 to 255 characters')
    .max(255, 'must be 1 to 255 characters')
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
    .nullish(),
  webhook: webhookInputRules.nullish(),
};

export const GenerateVideoPayload = builder
  .objectRef<{ prediction: PredictionRow }>('GenerateVideoPayload')
  .implement({ fields: (t) => ({ prediction: t.expose('prediction', { type: Prediction }) }) });

interface SubmissionInput {
  model?: string | null | undefined;
  timeoutSeconds?: number | null | undefined;
  idempotencyKey?: string | null | undefined;
  webhook?: { url: string; events?: readonly ('STARTED' | 'UPDATED' | 'COMPLETED')[] | null | undefined } | null;
}

/**
 * Check the input against the chosen model (the mode's first unless `model` names another), and the
 * media (uploads are the caller's, usable, and fit the model), then store and submit the job: one path
 * for every mode. Omitted parameters take the model's defaults. Refusals, upstream errors and shutting
 * down become GraphQL errors in one place (schema/errors.ts).
 */
export async function submitJob(
  context: GatewayContext,
  mode: Mode,
  input: SubmissionInput & Partial<Record<ParamName, unknown>>,
  given: readonly GivenMedia[] = [],
): Promise<{ prediction: PredictionRow }> {
  const { predictions, principal, log } = context;
  const model = findModel(input.model ?? '') ?? defaultModelOf(mode);
  // The schema held the input to the mode's first model's rules; another model may have its own.
  const params = paramRules(model).safeParse(input);
  if (!params.success) {
    throw new FieldsRefused(
      params.error.issues.map((issue) => ({
        field: ['input', ...issue.path.map(String)].join('.'),
        message: issue.message,
      })),
    );
  }
  const { media, uploads } = given.length ? await checkMedia(context, model, given) : { media: [], uploads: undefined };
  const prediction = await predictions.generate(
    principal,
    {
      request: { model: model.id, ...withDefaults(model, params.data), ...(media.length ? { media } : {}) },
      uploads,
      idempotencyKey: input.idempotencyKey,
      timeoutSeconds: input.timeoutSeconds,
      webhook: input.webhook,
    },
    { log },
  );
  return { prediction };
}
