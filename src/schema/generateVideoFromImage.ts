/** generateVideoFromImage: animate an image, which is the first frame and sets the aspect ratio. */
import { z } from 'zod';
import { imageToVideo, paramRules } from '../models/index.ts';
import { builder } from './builder.ts';
import { Resolution } from './enums.ts';
import { MediaInput, mediaInputRules } from './mediaInput.ts';
import {
  GenerateVideoPayload,
  modelField,
  modelRule,
  submissionFields,
  submissionRules,
  submitJob,
} from './submission.ts';

const model = imageToVideo;

const GenerateVideoFromImageInput = builder.inputType('GenerateVideoFromImageInput', {
  fields: (t) => ({
    image: t.field({
      type: MediaInput,
      required: true,
      description:
        'The first frame: JPEG, PNG or WEBP, at least 300 pixels on each side, aspect ratio from 1:2.5 to 2.5:1, at most 10 MB. The video takes its aspect ratio.',
    }),
    prompt: t.string({ description: 'What happens, optional: 1 to 2500 characters after trimming.' }),
    resolution: t.field({ type: Resolution, defaultValue: model.defaults.resolution }),
    duration: t.int({ defaultValue: model.defaults.duration, description: 'Whole seconds, 3 to 15.' }),
    seed: t.int({ description: '0 to 2147483647; the same seed gives a closer rerun.' }),
    model: modelField(t, 'IMAGE_TO_VIDEO'),
    ...submissionFields(t),
  }),
});

const Args = z.object({
  input: paramRules(model).extend({ image: mediaInputRules, model: modelRule('IMAGE_TO_VIDEO'), ...submissionRules }),
});

builder.mutationField('generateVideoFromImage', (t) =>
  t.field({
    type: GenerateVideoPayload,
    description: `Store an image-to-video job (${model.id}) and submit it to Atlas Cloud once; otherwise as generateVideo.`,
    args: t.validate({ input: t.arg({ type: GenerateVideoFromImageInput, required: true }) }, Args),
    resolve: (_root, { input }, context) =>
      submitJob(context, 'IMAGE_TO_VIDEO', input, [
        { role: 'image', field: 'input.image', items: [input.image], single: true },
      ]),
  }),
);
