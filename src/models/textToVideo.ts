import { HAPPYHORSE_TEXT_TO_VIDEO } from '../vocabulary.ts';
import { defineModel } from './descriptor.ts';
import { perSecondRunMs, rules } from './rules.ts';

/** HappyHorse 1.0 text-to-video: a prompt only. */
export const textToVideo = defineModel({
  id: HAPPYHORSE_TEXT_TO_VIDEO,
  mode: 'TEXT_TO_VIDEO',
  params: {
    prompt: rules.prompt,
    resolution: rules.resolution,
    aspectRatio: rules.aspectRatio,
    duration: rules.duration,
    seed: rules.seed,
  },
  required: ['prompt'],
  defaults: { resolution: '720P', aspectRatio: '16:9', duration: 5 },
  upstream: {
    prompt: 'prompt',
    resolution: 'resolution',
    aspectRatio: 'aspect_ratio',
    duration: 'duration',
    seed: 'seed',
  },
  media: [],
  billedSeconds: (params) => params.duration ?? undefined,
  typicalRunMs: (params) => perSecondRunMs(params.resolution, params.duration ?? 5),
});
