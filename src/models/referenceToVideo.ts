import { HAPPYHORSE_REFERENCE_TO_VIDEO } from '../vocabulary.ts';
import { defineModel } from './descriptor.ts';
import { perSecondRunMs, rules } from './rules.ts';

/** HappyHorse 1.0 reference-to-video: 1 to 9 images the prompt names in order (character1, character2, ...). */
export const referenceToVideo = defineModel({
  id: HAPPYHORSE_REFERENCE_TO_VIDEO,
  mode: 'REFERENCE_TO_VIDEO',
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
  media: [
    {
      role: 'reference',
      kind: 'image',
      upstreamField: 'reference_image_urls',
      list: true,
      min: 1,
      max: 9,
      contentTypes: ['image/jpeg', 'image/png', 'image/webp'],
      imageLimits: { minShortEdge: 400 },
    },
  ],
  billedSeconds: (params) => params.duration ?? undefined,
  typicalRunMs: (params) => perSecondRunMs(params.resolution, params.duration ?? 5),
});
