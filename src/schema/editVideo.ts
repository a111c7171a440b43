/** editVideo: restyle a video; its aspect ratio and length follow the source. */
import { z } from 'zod';
import { paramRules, videoEdit } from '../models/index.ts';
import { builder } from './builder.ts';
import { AudioSetting, Resolution } from './enums.ts';
import { MediaInput, mediaInputRules, mediaListRules } from './mediaInput.ts';
import {
  GenerateVideoPayload,
  modelField,
  modelRule,
  submissionFields,
  submissionRules,
  submitJob,
} from './submission.ts';

const model = videoEdit;
const [, references] = model.media;

const EditVideoInput = builder.inputType('EditVideoInput', {
  fields: (t) => ({
    video: t.field({ type: MediaInput, required: true, description: 'The video to edit: MP4 or MOV.' }),
    referenceImages: t.field({
      type: [MediaInput],
      description: 'From 0 to 5 images to draw on, in order: JPEG, PNG or WEBP.',
    }),
    prompt: t.string({ required: true, description: 'The edit: 1 to 2500 characters after trimming.' }),
    resolution: t.field({ type: Resolution, defaultValue: model.defaults.resolution }),
    audio: t.field({ type: AudioSetting, defaultValue: model.defaults.audio }),
    seed: t.int({ description: '0 to 2147483647; the same seed gives a closer rerun.' }),
    model: modelField(t, 'VIDEO_EDIT'),
    ...submissionFields(t),
  }),
});

const Args = z.object({
  input: paramRules(model).extend({
    video: mediaInputRules,
    referenceImages: mediaListRules(references!).nullish(),
    model: modelRule('VIDEO_EDIT'),
    ...submissionRules,
  }),
});

builder.mutationField('editVideo', (t) =>
  t.field({
    type: GenerateVideoPayload,
    description: `Store a video edit job (${model.id}) and submit it to Atlas Cloud once; otherwise as generateVideo. Priced per run: its length follows the source.`,
    args: t.validate({ input: t.arg({ type: EditVideoInput, required: true }) }, Args),
    resolve: (_root, { input }, context) =>
      submitJob(context, 'VIDEO_EDIT', input, [
        { role: 'video', field: 'input.video', items: [input.video], single: true },
        { role: 'reference', field: 'input.referenceImages', items: input.referenceImages ?? [], single: false },
      ]),
  }),
);
