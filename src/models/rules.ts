/** Rules every HappyHorse model shares for the parameters it takes, one schema per field so each error names its field. */
import { z } from 'zod';
import { ASPECT_RATIOS, AUDIO_SETTINGS, RESOLUTIONS } from '../vocabulary.ts';

export const MAX_PROMPT_LENGTH = 2500;
export const MIN_DURATION = 3;
export const MAX_DURATION = 15;
export const MAX_SEED = 2_147_483_647;

/** Paired surrogates make one astral code point; a lone one is category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

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
  resolution: z.enum(RESOLUTIONS),
  aspectRatio: z.enum(ASPECT_RATIOS),
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
  audio: z.enum(AUDIO_SETTINGS),
};

/** Before any job of its kind has finished: a fixed start-up plus time per second of video, more at 1080P. */
export function perSecondRunMs(resolution: string, durationSeconds: number): number {
  return resolution === '1080P' ? 60_000 + 10_000 * durationSeconds : 45_000 + 6_000 * durationSeconds;
}
