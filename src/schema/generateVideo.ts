/** The generateVideo mutation: its input, the rules that input must meet, and its payload. */
import { z } from 'zod';
import { DEFAULTS, rules } from '../atlas/happyhorse.ts';
import type { PredictionRow } from '../db/schema.ts';
import { ASPECT_RATIOS, RESOLUTIONS } from '../vocabulary.ts';
import { builder } from './builder.ts';
import { AspectRatio, Resolution } from './enums.ts';
import { Prediction } from './prediction.ts';
import { WebhookInput, webhookInputRules } from './webhookInput.ts';

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  fields: (t) => ({
    prompt: t.string({ required: true, description: 'What to film: 1 to 2500 characters after trimming.' }),
    resolution: t.field({ type: Resolution, defaultValue: DEFAULTS.resolution }),
    aspectRatio: t.field({ type: AspectRatio, defaultValue: DEFAULTS.aspectRatio }),
    duration: t.int({ defaultValue: DEFAULTS.duration, description: 'Whole seconds, 3 to 15.' }),
    seed: t.int({ description: '0 to 2147483647; the same seed gives a closer rerun.' }),
    model: t.string({ defaultValue: DEFAULTS.model }),
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
  }),
});

/** The model's rules over the whole input, so every broken rule is reported at once. */
const GenerateVideoArgs = z.object({
  input: z.object({
    prompt: rules.prompt,
    resolution: z.enum(RESOLUTIONS).nullish(),
    aspectRatio: z.enum(ASPECT_RATIOS).nullish(),
    duration: rules.duration.nullish(),
    seed: rules.seed.nullish(),
    model: rules.model.nullish(),
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
  }),
});

const GenerateVideoPayload = builder.objectRef<{ prediction: PredictionRow }>('GenerateVideoPayload').implement({
  fields: (t) => ({ prediction: t.expose('prediction', { type: Prediction }) }),
});

builder.mutationField('generateVideo', (t) =>
  t.field({
    type: GenerateVideoPayload,
    description:
      'Store a job and submit it to Atlas Cloud once. Upstream refusals come back as errors whose extensions carry the code and the stored predictionId.',
    args: t.validate({ input: t.arg({ type: GenerateVideoInput, required: true }) }, GenerateVideoArgs),
    // Refusals, upstream errors and shutting down are mapped to GraphQL errors in one place (schema/errors.ts).
    resolve: async (_root, { input }, { predictions, principal, log }) => {
      const prediction = await predictions.generate(
        principal,
        {
          request: {
            prompt: input.prompt,
            model: input.model ?? DEFAULTS.model,
            resolution: input.resolution ?? DEFAULTS.resolution,
            aspectRatio: input.aspectRatio ?? DEFAULTS.aspectRatio,
            duration: input.duration ?? DEFAULTS.duration,
            seed: input.seed,
          },
          idempotencyKey: input.idempotencyKey,
          timeoutSeconds: input.timeoutSeconds,
          webhook: input.webhook,
        },
        { log },
      );
      return { prediction };
    },
  }),
);
