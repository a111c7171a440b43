import { z } from 'zod';
import {
  type AspectRatio,
  HAPPYHORSE_TEXT_TO_VIDEO,
  KNOWN_MODELS,
  type KnownModel,
  type Resolution,
} from '../vocabulary.ts';

export const MAX_PROMPT_LENGTH = 2500;
export const MIN_DURATION = 3;
export const MAX_DURATION = 15;
export const MAX_SEED = 2_147_483_647;

/** Paired surrogates make one astral code point; a lone one is category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The model's input rules, one schema per field, so each error names its own field. */
export const rules = {
  prompt: z
    .string()
    .trim()
    .min(1, 'must not be empty or only whitespace')
    .max(MAX_PROMPT_LENGTH, `must be at most ${MAX_PROMPT_LENGTH} characters`)
    // Postgres text cannot hold NUL: refused here rather than as a 500 from the INSERT.
    .refine((prompt) => !prompt.includes('\u0000'), 'must not contain the NUL character (U+0000)')
    // Stored, a lone surrogate becomes U+FFFD, but it would be sent upstream as is: refused, so
    // what is stored is exactly what is billed.
    .refine(
      (prompt) => !LONE_SURROGATE.test(prompt),
      'must not contain unpaired surrogates (U+D800 to U+DFFF): it is not valid Unicode',
    ),
  duration: z
    .number()
    .int('must be whole seconds')
    .min(MIN_DURATION, `must be from ${MIN_DURATION} to ${MAX_DURATION} seconds`)
    .max(MAX_DURATION, `must be from ${MIN_DURATION} to ${MAX_DURATION} seconds`),
  seed: z
    .number()
    .int('must be a whole number')
    .min(0, `must be from 0 to ${MAX_SEED}`)
    .max(MAX_SEED, `must be from 0 to ${MAX_SEED}`),
  model: z.enum(KNOWN_MODELS, { error: `must be one of: ${KNOWN_MODELS.join(', ')}` }),
};

/** A request that has passed the rules, in upstream spelling. */
export interface VideoRequest {
  model: KnownModel;
  prompt: string;
  resolution: Resolution;
  aspectRatio: AspectRatio;
  duration: number;
  seed?: number | null;
}

export const DEFAULTS = {
  model: HAPPYHORSE_TEXT_TO_VIDEO,
  resolution: '720P',
  aspectRatio: '16:9',
  duration: 5,
} as const satisfies Partial<VideoRequest>;

/** The flat JSON body Atlas expects for this model; `webhookUrl` asks for one signed POST at the end. */
export function toUpstreamBody(request: VideoRequest, webhookUrl?: string) {
  return {
    model: request.model,
    prompt: request.prompt,
    resolution: request.resolution,
    aspect_ratio: request.aspectRatio,
    duration: request.duration,
    ...(request.seed == null ? {} : { seed: request.seed }),
    ...(webhookUrl ? { webhook_url: webhookUrl } : {}),
  };
}
