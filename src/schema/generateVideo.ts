/** The generateVideo mutation (text to video): its input, the rules that input must meet, and its payload. */
import { z } from 'zod';
import { paramRules, textToVideo } from '../models/index.ts';
import { builder } from './builder.ts';
import { AspectRatio, Resolution } from './enums.ts';
import {
  GenerateVideoPayload,
  modelField,
  modelRule,
  submissionFields,
  submissionRules,
  submitJob,
} from './submission.ts';

const { defaults } = textToVideo;

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  fields: (t) => ({
    prompt: t.string({ required: true, description: 'What to film: 1 to 2500 characters after trimming.' }),
    resolution: t.field({ type: Resolution, defaultValue: defaults.resolution }),
    aspectRatio: t.field({ type: AspectRatio, defaultValue: defaults.aspectRatio }),
    duration: t.int({ defaultValue: defaults.duration, description: 'Whole seconds, 3 to 15.' }),
    seed: t.int({ description: '0 to 2147483647; the same seed gives a closer rerun.' }),
    model: modelField(t, 'TEXT_TO_VIDEO'),
    ...submissionFields(t),
  }),
});

/** The model's rules over the whole input, so every broken rule is reported at once. */
const GenerateVideoArgs = z.object({
  input: paramRules(textToVideo).extend({
    model: modelRule('TEXT_TO_VIDEO'),
    ...submissionRules,
  }),
});

builder.mutationField('generateVideo', (t) =>
  t.field({
    type: GenerateVideoPayload,
    description:
      'Store a job and submit it to Atlas Cloud once. Upstream refusals come back as errors whose extensions carry the code and the stored predictionId.',
    args: t.validate({ input: t.arg({ type: GenerateVideoInput, required: true }) }, GenerateVideoArgs),
    resolve: (_root, { input }, context) => submitJob(context, 'TEXT_TO_VIDEO', input),
  }),
);
