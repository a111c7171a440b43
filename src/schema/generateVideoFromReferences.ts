/** generateVideoFromReferences: a video whose characters keep the looks of 1 to 9 reference images. */
import { z } from 'zod';
import { paramRules, referenceToVideo } from '../models/index.ts';
import { builder } from './builder.ts';
import { AspectRatio, Resolution } from './enums.ts';
import { MediaInput, mediaListRules } from './mediaInput.ts';
import {
  GenerateVideoPayload,
  modelField,
  modelRule,
  submissionFields,
  submissionRules,
  submitJob,
} from './submission.ts';

const model = referenceToVideo;
const [references] = model.media;

const GenerateVideoFromReferencesInput = builder.inputType('GenerateVideoFromReferencesInput', {
  fields: (t) => ({
    images: t.field({
      type: [MediaInput],
      required: true,
      description:
        'From 1 to 9 reference images, in order: JPEG, PNG or WEBP, the shorter side at least 400 pixels, at most 10 MB each.',
    }),
    prompt: t.string({
      required: true,
      description: 'What happens, naming the images in order as character1, character2, ...: 1 to 2500 characters.',
    }),
    aspectRatio: t.field({ type: AspectRatio, defaultValue: model.defaults.aspectRatio }),
    resolution: t.field({ type: Resolution, defaultValue: model.defaults.resolution }),
    duration: t.int({ defaultValue: model.defaults.duration, description: 'Whole seconds, 3 to 15.' }),
    seed: t.int({ description: '0 to 2147483647; the same seed gives a closer rerun.' }),
    model: modelField(t, 'REFERENCE_TO_VIDEO'),
    ...submissionFields(t),
  }),
});

const Args = z.object({
  input: paramRules(model).extend({
    images: mediaListRules(references!),
    model: modelRule('REFERENCE_TO_VIDEO'),
    ...submissionRules,
  }),
});

builder.mutationField('generateVideoFromReferences', (t) =>
  t.field({
    type: GenerateVideoPayload,
    description: `Store a reference-to-video job (${model.id}) and submit it to Atlas Cloud once; otherwise as generateVideo.`,
    args: t.validate({ input: t.arg({ type: GenerateVideoFromReferencesInput, required: true }) }, Args),
    resolve: (_root, { input }, context) =>
      submitJob(context, 'REFERENCE_TO_VIDEO', input, [
        { role: 'reference', field: 'input.images', items: input.images, single: false },
      ]),
  }),
);
